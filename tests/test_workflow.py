"""The workflow: dry runs of every preset, lint, and one end-to-end run of the smoke preset."""
import subprocess
import sys
import warnings

import pandas as pd
import pytest

from tests.test_side_effects import snapshot


def snakemake(args, cwd, timeout=120):
    return subprocess.run([sys.executable, "-m", "snakemake", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


@pytest.mark.parametrize("preset", ["config", "smoke", "paper"])
def test_dry_run(workdir, preset):
    """Every preset's DAG builds, and parsing the workflow writes nothing (tests/test_side_effects.py)."""
    before = snapshot(workdir)
    run = snakemake(["-n", "results/table1.csv", "results/table2.csv", "results/claims.csv",
                     "--configfile", f"config/{preset}.yaml"], workdir)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    for rule in ("make_table1", "make_table2", "make_claims", "t2i_test_time", "t2i_train_judge"):
        assert rule in run.stdout
    assert snapshot(workdir) == before


@pytest.mark.parametrize("preset", ["config", "smoke", "paper", "paper_smoke"])
def test_lint(workdir, preset):
    before = snapshot(workdir)
    run = snakemake(["--lint", "--configfile", f"config/{preset}.yaml"], workdir)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert snapshot(workdir) == before


@pytest.mark.slow
def test_smoke_end_to_end(workdir):
    run = snakemake(["all", "--cores", "2", "--configfile", "config/smoke.yaml"], workdir, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    both = pd.read_csv(workdir / "results" / "table1.csv")
    # the MaskGit-style family's rows (c2i.families.maskgit) follow the bit teacher's, labelled by family
    family = both[both["teacher_family"] == "maskgit"]
    assert list(zip(family["method"], family["steps"], family["n_seeds"])) == [("teacher", 2, 2), ("dimo", 1, 1),
                                                                               ("soft_dimo", 1, 1)]
    assert family["fid_mean"].notna().all() and (family["reported_teacher"] == "MaskGit").all()
    full = both[both["teacher_family"] == "maskbit"]
    assert list(both["teacher_family"]) == ["maskbit"] * len(full) + ["maskgit"] * len(family)
    assert list(full["method"]) == ["real_train_images", "teacher", "teacher", "dimo", "soft_dimo", "soft_dimo_gumbel"]
    table = full[full["method"] == "teacher"]
    assert list(table["steps"]) == [1, 4]
    assert (table["n_seeds"] == 2).all() and (table["n_samples"] == 100).all()
    assert table["fid_mean"].notna().all() and (table["fid_std"] >= 0).all()
    assert (table["images_per_s_mean"] > 0).all()
    assert (full["preset"] == "smoke").all()
    students = full[full["method"].isin(["dimo", "soft_dimo", "soft_dimo_gumbel"])]
    assert list(students["n_seeds"]) == [2, 1, 1] and (students["nfe"] == 1).all()
    assert (students["speedup_mean"] > 0).all() and (students["speedup_flop_ceiling_mean"] > 1).all()
    t2 = pd.read_csv(workdir / "results" / "table2.csv")
    assert list(t2["method"]) == ["real_renders", "teacher_caption_blind", "teacher", "teacher", "dimo", "dimo_continued",
                                  "gan_only", "soft_dimo", "soft_dimo_gan", "soft_dimo_gumbel", "soft_dimo+bon",
                                  "soft_dimo+bon_tteo", "soft_dimo+tteo"]
    assert t2.loc[0, "geneval_mean"] == 1.0  # the detector reads clean renders perfectly
    assert t2["geneval_mean"].between(0, 1).all() and t2["clip_score_mean"].notna().all()
    assert t2[t2["method"] == "teacher"]["fid_mean"].notna().all() and (t2["preset"] == "smoke").all()
    claims = pd.read_csv(workdir / "results" / "claims.csv")
    assert list(claims["claim"].astype(str)) == ["1", "2", "3", "4", "5", "6", "7", "1 (maskgit)", "3 (maskgit)",
                                                 "5 (maskgit)", "6 (maskgit)", "2 (t2i)", "8", "9", "10"]
    assert set(claims["holds"]) <= {"holds", "does not hold", "inconclusive", "not tested",
                                    "not portable (holds here)", "not portable (does not hold here)"}
    curve = pd.read_csv(workdir / "results" / "c2i" / "students" / "soft_dimo" / "seed0" / "curve.csv")
    assert curve["eval_fid"].notna().sum() >= 2 and curve["total_step"].max() == 12  # continues dimo's 6 steps
    for name in ("fid_vs_steps.png", "samples_teacher.png", "samples_students.png", "training_curves.png",
                 "t2i_geneval_vs_n.png", "t2i_training_curves.png", "t2i_samples.png"):
        assert (workdir / "results" / "figures" / name).stat().st_size > 1000
    for log in ("train_teacher.log", "make_table1.log", "t2i_train_teacher.log", "make_table2.log"):
        assert (workdir / "logs" / log).exists()
    # the resolved config sits next to the results (named by its hash), and a second run has nothing left to do
    assert len(list((workdir / "results" / "configs").glob("*.yaml"))) == 1
    again = snakemake(["-n", "all", "--configfile", "config/smoke.yaml"], workdir)
    assert "Nothing to be done" in again.stdout + again.stderr
    # the numbers: every artefact against the committed fingerprint of the pinned environment
    from tests.test_fingerprint import check_smoke_fingerprint

    not_compared = check_smoke_fingerprint(workdir / "results")
    if not_compared:
        warnings.warn(not_compared)


def test_slurm_profile_dry_run(workdir):
    run = snakemake(["-n", "results/table1.csv", "results/table2.csv", "results/claims.csv", "--profile",
                     "profiles/slurm", "--configfile", "config/paper.yaml"], workdir)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "gpu=1" in run.stdout
    # the paper DAG: downloads (local jobs), the ImageNet check before any GPU job, tokenisation, ADM reference
    for rule in ("download_teacher", "download_tokenizer", "download_inception", "download_adm_reference",
                 "download_cleanfid_inception", "check_imagenet", "tokenize_imagenet", "adm_reference_features",
                 "import_teacher", "train_student", "sample_teacher", "evaluate_samples"):
        assert f"rule {rule}:" in run.stdout or f"localrule {rule}:" in run.stdout, rule
    # the GPU jobs every other one depends on wait for the ImageNet check
    blocks = run.stdout.split("\n\n")
    for rule in ("import_teacher", "import_tokenizer", "adm_reference_features"):
        block = next(b for b in blocks if f"rule {rule}:" in b)
        assert "results/c2i/data/imagenet_index.json" in block, rule
    assert "torchrun --standalone --nproc_per_node 8 -m softdimo.train" in run.stdout
    assert "gpu=8" in run.stdout and "tasks_per_gpu=0" in run.stdout
    assert "evaluation.adm calc" in run.stdout and "--cleanfid-inception-dir" in run.stdout
    # paper-scale text-to-image: downloads, the official GenEval detector in its own env, Table 2 from it
    for rule in ("download_t2i_teacher", "download_t2i_tokenizer", "download_t2i_text_encoder", "download_t2i_hps",
                 "download_hps_prompts", "fetch_geneval", "download_geneval_detector", "download_coco_reference",
                 "download_fid_inception", "t2i_paper_import", "t2i_paper_text_bank", "t2i_paper_train_student",
                 "t2i_paper_sample", "t2i_paper_test_time", "t2i_paper_geneval_detect", "t2i_paper_hps",
                 "t2i_paper_coco", "make_table2_paper", "make_table2"):
        assert f"rule {rule}:" in run.stdout or f"localrule {rule}:" in run.stdout, rule
    block = next(b for b in blocks if "rule make_table2_paper:" in b)
    assert "output: results/table2.csv" in block and "soft_dimo+n16_tteo4" in block
    shapes = next(b for b in blocks if "rule make_table2:" in b)
    assert "results/t2i/table2_shapes.csv" in shapes
    detect = next(b for b in blocks if "rule t2i_paper_geneval_detect:" in b)
    assert "resources/t2i/geneval/evaluation/evaluate_images.py" in detect
    assert "--stage maskgen.student:soft_dimo:0" in run.stdout and "--input init=" in run.stdout
