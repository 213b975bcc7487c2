"""The paper_smoke preset: the paper preset's DAGs of Table 1 (MaskBit and MaskGit) and Table 2 (MaskGen-L and
Meissonic) on seeded stand-ins of the official files, at small sizes, on a CPU. It must stay the paper preset in
everything but scale, its stand-ins must go through the official loaders, and (make test-slow) every rule of the
paper's Table 1 and 2 DAGs must run in it (GenEval's detector as marked placeholder verdicts)."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from softdimo.config import from_dict, load_config
from softdimo.pretrained import PROVIDERS
from softdimo.stand_ins import RULES, kind_of, write
from tests.test_side_effects import snapshot

ROOT = Path(__file__).resolve().parents[1]
PAPER = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
SMOKE = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
PAPER_SMOKE = yaml.safe_load((ROOT / "config" / "paper_smoke.yaml").read_text())

# the only keys whose values paper_smoke may change: scale (sizes, steps, sample counts, batch sizes, logging) and
# the machine; every recipe, sampler and evaluator value stays the paper's
SCALE = [r"preset", r"downloads", r"device", r"precision", r"torch_threads", r"gpus_per_job",
         r"c2i\.data\.(path|resolution)", r"c2i\.tokenizer\.(hidden_channels|num_res_blocks)",
         r"c2i\.(tokenizer|classifier|teacher)\.train\.batch_size", r"c2i\.classifier\.(width|feature_dim)",
         r"c2i\.teacher\.(dim|depth|heads)", r"(c2i|c2i_maskgit)\.sampling\.(steps|batch_size)",
         r"(c2i|c2i_maskgit)\.eval\.(n_samples|seeds|batch_size|frechet_sqrt)",  # frechet_sqrt: CPU time
         r"(c2i|c2i_maskgit)\.distill\.(eval_every|eval_samples)",
         r"(c2i|c2i_maskgit)\.distill\.train\.(batch_size|log_every|ckpt_every)",
         r"(c2i|c2i_maskgit)\.gan\.(layers|head_hidden)", r"(c2i|c2i_maskgit)\.students\.\w+\.steps",
         r"c2i_maskgit\.teacher\.kwargs\.(image_tokens|codebook_size|dim|depth|heads|mlp_dim)",
         r"c2i_maskgit\.tokenizer\.kwargs\.(image_size|ch|ch_mult|num_res_blocks|attn_resolutions|z_channels|embed_dim|n_embed)",
         # text-to-image (MaskGen-L and Meissonic): module sizes, the 64-wide open_clip stand-in architecture,
         # prompt / caption counts, the training prompts' file (the paper's is yours), steps and batches
         r"t2i_paper\.teacher\.kwargs\.(seq_len|codebook_size|text_dim|dim|depth|heads|micro_condition_dim)",
         r"t2i_paper\.tokenizer\.kwargs\.(image_size|patch_size|encoder_size|decoder_size|num_latent_tokens|"
         r"codebook_size|code_dim|text_dim)",
         r"t2i_paper\.text_encoder\.arch", r"t2i_paper\.scorers\.(clip_arch|hps_arch)",
         r"t2i_paper\.prompts\.(train|n_train)", r"t2i_paper\.sampling\.(steps|batch_size)",
         r"t2i_paper\.gan\.layers", r"t2i_paper\.gan_data\.(pairs|n_pairs|batch_size)",  # the pairs: yours
         r"t2i_paper\.eval\.(batch_size|coco_captions|frechet_sqrt|clip_score\.arch)",
         r"(t2i_paper|meissonic)\.distill\.(eval_every|eval_samples)",
         r"(t2i_paper|meissonic)\.distill\.train\.(batch_size|log_every|ckpt_every)",
         r"(t2i_paper|meissonic)\.students\.\w+\.steps",
         r"(t2i_paper|meissonic)\.test_time\.(best_of_n|tteo_iters|table_n|table_tteo_iters)",
         r"meissonic\.teacher\.kwargs\.(grid|vocab_size|codebook_size|heads|head_dim|dual_layers|single_layers|"
         r"text_dim|pooled_dim|axes_dims_rope|micro_cond_dim)",
         r"meissonic\.tokenizer\.kwargs\.(grid|codebook_size|latent_channels|block_out_channels|layers_per_block|"
         r"norm_num_groups)",
         r"meissonic\.sampling\.coco_store_size", r"meissonic\.recipe\.accumulation_steps"]
SECTIONS = ("c2i", "c2i_maskgit", "t2i_paper", "meissonic")


def leaves(tree, prefix=""):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from leaves(value, f"{prefix}{key}.")
    else:
        yield prefix[:-1], tree


def test_paper_smoke_is_the_paper_preset_but_for_scale():
    paper = {k: v for k, v in PAPER.items() if k in SECTIONS}
    ours = {k: v for k, v in PAPER_SMOKE.items() if k in SECTIONS}
    for section in SECTIONS:  # rows may be left out (their rules run for the others), never added
        students, steps = ours[section]["students"], ours[section]["sampling"]["steps"]
        assert students and set(students) <= set(paper[section]["students"])
        assert steps and (section == "c2i" or set(steps) <= set(paper[section]["sampling"]["steps"]))
        paper[section] = {**paper[section], "students": {k: paper[section]["students"][k] for k in students}}
    a, b = dict(leaves(paper)), dict(leaves(ours))
    assert set(a) == set(b)
    changed = sorted(k for k in a if a[k] != b[k])
    assert changed, "paper_smoke is meant to be smaller than the paper preset"
    assert [k for k in changed if not any(re.fullmatch(p, k) for p in SCALE)] == []
    assert PAPER_SMOKE["t2i"] == SMOKE["t2i"]  # the shapes track at the smoke preset's size
    cfg = load_config(ROOT / "config" / "paper_smoke.yaml")
    assert cfg.preset == "paper_smoke" and cfg.downloads == "stand_in" and cfg.device == "cpu"


def test_stand_ins_belong_to_paper_smoke_only():
    with pytest.raises(Exception, match="downloads"):
        from_dict({**PAPER, "downloads": "stand_in"})
    with pytest.raises(Exception, match="downloads"):
        from_dict({**PAPER_SMOKE, "downloads": "hub"})
    with pytest.raises(SystemExit, match="downloads: stand_in"):
        write("inception", from_dict(PAPER), Path("never-written"))
    # the workflow names only the output: every download rule of Table 1's DAG has a stand-in known from it
    covered = {PROVIDERS[f]: kind_of(Path(f)) for f in PROVIDERS if PROVIDERS[f] in RULES}
    assert covered == {r: k for r, k in RULES.items() if r != "stand_in_imagenet"}
    # ... and of Table 2's, by the MaskGen-L track's stand-ins (the Meissonic track's know their files by path)
    from softdimo.tracks.maskgen import stand_ins as maskgen_stand_ins

    assert {Path(f).name for f, r in PROVIDERS.items() if r not in RULES} <= set(maskgen_stand_ins.FILES)
    with pytest.raises(SystemExit, match="no stand-in"):
        kind_of(Path("resources/t2i/HPS_v2.1_compressed.pt"))  # not the class-to-image module's
    with pytest.raises(SystemExit, match="no MaskGen-L stand-in"):
        maskgen_stand_ins.write(load_config(ROOT / "config" / "paper_smoke.yaml"), Path("resources/t2i/unknown.bin"))
    smoke = load_config(ROOT / "config" / "paper_smoke.yaml")
    for key, arch in (("text_encoder", "arch"), ("scorers", "clip_arch"), ("scorers", "hps_arch"),
                      ("eval.clip_score", "arch")):
        section = smoke.t2i_paper
        for part in key.split("."):
            section = getattr(section, part)
        assert getattr(section, arch) == "softdimo-smoke-clip"
        raw = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
        node = raw["t2i_paper"]
        for part in key.split("."):
            node = node[part]
        node[arch] = "softdimo-smoke-clip"
        with pytest.raises(Exception, match=f"t2i_paper.{key}.{arch}.*stand-in"):  # never with the hub's files
            from_dict(raw)


def test_stand_ins_go_through_the_official_loaders(tmp_path):
    """Each stand-in is read by the code that reads the official file: the strict converters, torch-fidelity's and
    clean-fid's Inception classes, ADM's reference-batch reader, the FID statistics reader, the ImageNet check."""
    from cleanfid.inception_torchscript import InceptionV3W

    from evaluation.adm import inception_features, load_mu_sigma, load_ref_batch
    from softdimo.checkpoints import load_artefact
    from softdimo.pretrained import convert, require_file
    from softdimo.tracks.maskbit.imagenet import check
    from softdimo.tracks.maskgit import pipeline

    cfg = load_config(ROOT / "config" / "paper_smoke.yaml")
    files = {}
    for rule, what in RULES.items():
        files[what] = tmp_path / rule
        write(what, cfg, files[what], n_images=1 if what == "imagenet" else 12, manifest=tmp_path / "manifest.json")
        if what != "imagenet":
            assert "stand-in" in (tmp_path / f"{rule}.sha256.json").read_text()
            require_file(files[what])  # the recorded hash, as every job checks a download
    for kind in ("tokenizer", "teacher"):
        convert(kind, cfg, files[f"maskbit_{kind}"], tmp_path / f"maskbit_{kind}.pt")
    raw = torch.load(files["maskbit_teacher"], weights_only=True)
    assert any(k.startswith("token_emb.") for k in raw)  # the official name, renamed by the converter
    # the official nesting, which the converters must find (they would also accept a bare state dict)
    raw = torch.load(files["maskgit_teacher"], weights_only=True)
    assert set(raw) >= {"model_state_dict", "optimizer_state_dict"} and "pos_emb" in raw["model_state_dict"]
    raw = torch.load(files["maskgit_tokenizer"], weights_only=True)
    assert any(k.startswith("loss.") for k in raw["state_dict"]) and "quantize.embedding.weight" in raw["state_dict"]
    again = tmp_path / "again"
    write("maskgit_released", cfg, again)  # seeded: the same tensors on every run and machine
    first, second = torch.load(files["maskgit_released"]), torch.load(again)
    assert all(torch.equal(first[k], second[k]) for k in first)
    for kind in ("teacher", "tokenizer", "released"):
        pipeline.convert(kind, cfg, files[f"maskgit_{kind}"], tmp_path / f"maskgit_{kind}.pt")
    load_artefact(tmp_path / "maskgit_released.pt", "student")
    ref = load_ref_batch(files["adm_reference"])
    assert ref["arr_0"].shape == (12, 64, 64, 3) and ref["arr_0"].dtype == np.uint8
    feats = inception_features(ref["arr_0"][:3], files["inception"], batch_size=3)["2048"]
    assert feats.shape == (3, 2048) and np.isfinite(feats).all() and feats.std() > 1e-3  # not a vanished signal
    (tmp_path / "cf").mkdir()
    files["cleanfid_inception"].rename(tmp_path / "cf" / "inception-2015-12-05.pt")
    net = InceptionV3W(str(tmp_path / "cf"), download=False, resize_inside=True)
    assert net(torch.from_numpy(ref["arr_0"][:2]).permute(0, 3, 1, 2).float()).shape == (2, 2048)
    mu, sigma = load_mu_sigma(files["dimo_fid_stats"])
    assert mu.shape == (2048,) and sigma.shape == (2048, 2048)
    index = check(files["imagenet"], cfg.c2i.teacher.num_classes)
    assert index["n_images"] == 1000 and (tmp_path / "manifest.json").exists()
    write("imagenet", cfg, files["imagenet"], n_images=1)  # its own earlier stand-in is replaced ...
    (tmp_path / "real").mkdir()
    with pytest.raises(SystemExit, match="not a stand-in folder"):  # ... a folder it did not write never is
        write("imagenet", cfg, tmp_path / "real", n_images=1)


def test_paper_smoke_dag_is_the_paper_one(workdir):
    """Dry runs: paper_smoke schedules every rule that the paper preset's Tables 1 and 2 need (downloads included,
    as stand-ins), and nothing else."""
    def rules(preset):
        run = subprocess.run([sys.executable, "-m", "snakemake", "-n", "results/table1.csv", "results/table2.csv",
                              "--quiet", "rules",
                              "--configfile", f"config/{preset}.yaml"], capture_output=True, text=True, cwd=workdir,
                             timeout=300)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        return set(re.findall(r"^(\w+)\s+\d+$", run.stdout, re.M)) - {"total"}

    before = snapshot(workdir)
    paper, smoke = rules("paper"), rules("paper_smoke")
    assert snapshot(workdir) == before  # parsing writes nothing, stand-ins included
    # the paper preset reads your ImageNet copy, your training prompts and your image-caption pairs instead
    assert smoke - paper == {"stand_in_imagenet", "stand_in_t2i_train_prompts", "stand_in_t2i_gan_pairs"}
    assert paper - smoke == set()


@pytest.mark.slow
def test_paper_smoke_end_to_end(workdir):
    """The paper's Table 1 and Table 2 DAGs run on the stand-ins: MaskBit's and MaskGit's rows, MaskGen-L's and
    Meissonic's, the released students' rows."""
    run = subprocess.run([sys.executable, "-m", "snakemake", "results/table1.csv", "results/table2.csv", "--cores", "2",
                          "--configfile", "config/paper_smoke.yaml"], capture_output=True, text=True, cwd=workdir,
                         timeout=3600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    table = pd.read_csv(workdir / "results" / "table1.csv")
    assert (table["preset"] == "paper_smoke").all()
    assert "seeded random stand-in" in (workdir / "results" / "table1.md").read_text()  # never read as real numbers
    rows = list(zip(table["teacher_family"], table["method"], table["steps"]))
    assert rows == [("maskbit", "teacher", 8), ("maskbit", "dimo", 1), ("maskbit", "soft_dimo", 1),
                    ("MaskGit", "teacher", 4), ("MaskGit", "teacher", 16), ("MaskGit", "dimo", 1),
                    ("MaskGit", "soft_dimo", 1), ("MaskGit", "dimo_released", 1)], rows
    assert table["fid_mean"].notna().all() and table["precision_mean"].between(0, 1).all()
    assert table[table["teacher_family"] == "MaskGit"]["fid_dimo_mean"].notna().all()  # Di[M]O's clean-fid FID
    curve = pd.read_csv(workdir / "results" / "c2i_maskgit" / "students" / "soft_dimo" / "seed0" / "curve.csv")
    assert curve["eval_fid"].notna().any()  # the in-training FID monitor ran on the stand-in Inception
    table2 = pd.read_csv(workdir / "results" / "table2.csv")
    assert (table2["preset"] == "paper_smoke").all()
    rows = list(zip(table2["teacher"], table2["method"], table2["steps"]))
    expected = [(teacher, m, s) for teacher, steps in (("MaskGen-L", 4), ("Meissonic", 32))
                for m, s in (("teacher", steps), ("dimo", 1), ("soft_dimo", 1))]
    expected += [("MaskGen-L", "soft_dimo_gan", 1), ("MaskGen-L", "gan_only", 1), ("Meissonic", "dimo_released", 1)]
    assert set(expected) <= set(rows), rows
    assert len([r for r in rows if "+" in r[1] or "bon" in r[1] or "tteo" in r[1]]) >= 6, rows  # 3 test-time rows each
    assert table2["geneval_mean"].between(0, 1).all() and table2["hps_mean"].notna().all()
    assert table2.dropna(subset=["coco_fid_mean"]).shape[0] == 9  # teacher, students, released: COCO FID and CLIP
    curve = pd.read_csv(workdir / "results" / "t2i_paper" / "students" / "gan_only" / "seed0" / "curve.csv")
    trained = curve[curve["step"] > 0]  # row 0: the evaluation before the first step
    assert len(trained) and trained["disc_bce"].notna().all() and trained["generator_gan"].notna().all()
    # make_claims' paper-scale part on these tables (its shapes-track part is the smoke run's: not rerun here)
    from reports import claims as claims_cli

    claims_cli.main(["--table", str(workdir / "results" / "table1.csv"), "--table2-paper",
                     str(workdir / "results" / "table2.csv"), "--preset", "paper_smoke",
                     "--out", str(workdir / "claims.csv")])
    claims = pd.read_csv(workdir / "claims.csv").set_index("claim")
    paper10 = claims.loc["10 (MaskGen-L)"]  # read from MaskGen-L's rows of the paper's Table 2
    assert "COCO FID" in paper10["ours"] and paper10["holds"] != "not tested"
    md = (workdir / "results" / "table2.md").read_text()
    assert "seeded random stand-in" in md and "placeholders" in md  # GenEval's verdicts never read as real
    summary = json.loads((workdir / "results" / "t2i_paper" / "eval" / "meissonic_teacher" / "steps32" / "seed0" /
                          "geneval.json").read_text())
    assert summary["detector"].startswith("placeholder")


@pytest.mark.slow  # 15 s; test_paper_smoke_end_to_end (also slow) reads every one of these files through its rules
def test_t2i_stand_ins_go_through_the_official_loaders(tmp_path):
    """Table 2's stand-ins (MaskGen-L and Meissonic) are read by the code that reads the official files: the strict
    converters (with the hub's config.json checks), both text encoders, the scorers' checkpoint formats, the
    pytorch-fid Inception, the COCO / HPS / GenEval / training prompt readers."""
    from evaluation import coco
    from evaluation.clip_scorers import configured_scorer
    from evaluation.fid_inception import FIDInceptionV3
    from evaluation.prompt_sets import prompt_set
    from softdimo.tracks.maskgen import pipeline as maskgen
    from softdimo.tracks.maskgen.stand_ins import FILES
    from softdimo.tracks.maskgen.stand_ins import write as write_maskgen
    from softdimo.tracks.meissonic import pipeline as meissonic
    from softdimo.tracks.meissonic.stand_ins import write as write_meissonic

    cfg = load_config(ROOT / "config" / "paper_smoke.yaml")
    resolved = tmp_path / "config.yaml"
    resolved.write_text((ROOT / "config" / "paper_smoke.yaml").read_text())
    files = {}
    for name, what in FILES.items():
        folder = tmp_path / ("geneval/prompts" if what == "geneval_metadata" else "hps" if what == "hps_prompts" else "")
        files[name] = folder / name
        write_maskgen(cfg, files[name])
        assert "stand-in" in files[name].with_name(name + ".sha256.json").read_text()
    assert (tmp_path / "geneval" / "FETCHED_COMMIT").read_text().startswith("stand-in")
    for kind, name in (("teacher", "teacher_official.safetensors"), ("tokenizer", "tokenizer_official.safetensors")):
        maskgen.main(["convert", "--kind", kind, "--config", str(resolved), "--official", str(files[name]),
                      "--out", str(tmp_path / f"{kind}.pt")])
    train = prompt_set("train", files["train_prompts.txt"], cfg.t2i_paper.prompts.n_train)["prompts"]
    geneval = prompt_set("geneval", files["evaluation_metadata.jsonl"])
    hps = prompt_set("hps", tmp_path / "hps")
    assert len(set(train)) == 16 and len(geneval["prompts"]) == 6 and len(hps["prompts"]) == 8
    assert {m["tag"] for m in geneval["metadata"]} == {"single_object", "two_object", "counting", "colors",
                                                       "position", "color_attr"}
    bank = maskgen.make_text_bank(train[:2], files["open_clip_vit_l_14_336.bin"], cfg.t2i_paper.text_encoder.arch)
    assert bank["tokens"].shape[-1] == cfg.t2i_paper.teacher.kwargs["text_dim"]
    for scorer in ("clip", "hps"):
        weights = files["clip_vit_b_32.bin" if scorer == "clip" else "HPS_v2.1_compressed.pt"]
        configured_scorer(scorer, weights, cfg.t2i_paper.scorers)  # open_clip's file / HPS's {"state_dict"} layout
    from evaluation.clip_scorers import clip_score_model

    evaluator = cfg.t2i_paper.eval.clip_score  # Table 2's CLIP-score model, an open_clip file as the hub's
    clip_score_model(files["clip_score_eval.bin"], arch=evaluator.arch, quick_gelu=evaluator.quick_gelu)
    captions = coco.load_captions(files["MS-COCO_val2014_30k_captions.csv"])
    mu, sigma = coco.load_stats(files["MS-COCO_val2014_fid_stats.npz"])
    assert len(captions) == cfg.t2i_paper.eval.coco_captions and mu.shape == (2048,) and sigma.shape == (2048, 2048)
    FIDInceptionV3(files["pt_inception-2015-12-05-6726825d.pth"])  # strict
    from softdimo.tracks.maskgen.real_pairs import read_pairs

    pairs = read_pairs(files["pairs.csv"], cfg.t2i_paper.gan_data.n_pairs)  # the images beside it, distinct captions
    assert len({c for _, c in pairs}) == len(pairs) == cfg.t2i_paper.gan_data.n_pairs
    hub = tmp_path / "meissonic" / "hub"
    for mfile in cfg.meissonic.hub.files:
        write_meissonic(cfg, hub / mfile)
    released = tmp_path / "meissonic" / "released"
    for rfile in cfg.meissonic.released.files.files:
        write_meissonic(cfg, released / rfile)
    official = {"teacher": hub / "transformer", "tokenizer": hub / "vqvae",
                "released": released / cfg.meissonic.released.subfolder}
    for kind, folder in official.items():
        meissonic.main(["convert", "--kind", kind, "--config", str(resolved), "--official",
                        str(folder / "diffusion_pytorch_model.safetensors"), "--out", str(tmp_path / f"m_{kind}.pt")])
    teacher, student = (torch.load(tmp_path / f"m_{k}.pt", weights_only=True)["state_dict"] for k in ("teacher", "released"))
    assert any(not torch.equal(teacher[k], student[k]) for k in teacher)  # the released student is another network
    bank = meissonic.make_text_bank(geneval["prompts"], hub, cfg.meissonic.sampling.negative_prompt)
    assert bank["null_prompt"] == cfg.meissonic.sampling.negative_prompt
    assert bank["pooled"].shape[-1] == cfg.meissonic.teacher.kwargs["pooled_dim"]
