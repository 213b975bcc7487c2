"""The MaskGit rows in the workflow and in Table 1: the paper DAG with the SLURM profile, Table 1 built from
MaskGit metric records beside MaskBit's, and Di[M]O's FID (clean-fid against its own statistics) in the metrics."""
import json
import subprocess
import sys

import numpy as np
import pytest


def test_paper_dag_has_the_maskgit_rows(workdir):
    run = subprocess.run([sys.executable, "-m", "snakemake", "-n", "results/table1.csv", "--profile", "profiles/slurm",
                          "--configfile", "config/paper.yaml"], capture_output=True, text=True, cwd=workdir, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    out = run.stdout
    for rule in ("download_maskgit_teacher", "download_maskgit_tokenizer", "download_maskgit_released",
                 "download_dimo_fid_stats", "maskgit_import", "maskgit_import_released", "maskgit_tokenize_imagenet",
                 "maskgit_train_student", "maskgit_sample", "maskgit_evaluate"):
        assert f"rule {rule}:" in out or f"localrule {rule}:" in out, rule
    blocks = out.split("\n\n")
    table = next(b for b in blocks if "rule make_table1:" in b)
    for row in ("teacher/steps4", "teacher/steps8", "teacher/steps16", "dimo/steps1", "soft_dimo/steps1",
                "dimo_released/steps1"):
        assert f"results/c2i_maskgit/metrics/{row}/seed0.json" in table, row
    assert "results/c2i/metrics/teacher/steps64/seed0.json" in table  # MaskBit's rows stay
    tokens = next(b for b in blocks if "rule maskgit_tokenize_imagenet:" in b)
    assert "results/c2i/data/imagenet_index.json" in tokens  # after the ImageNet check, as every GPU job
    assert "--stage maskgit.student:soft_dimo:0" in out and "--input init=results/c2i_maskgit/students/dimo" in out
    assert "--dimo-stats resources/eval/fid_stats_imagenet256_guided_diffusion.npz" in out
    assert "torchrun --standalone --nproc_per_node 8 -m softdimo.tracks.maskgit.pipeline sample" in out


def record(method, steps, fid, family=None, **sampling):
    s = {"method": method, "steps": steps, "nfe": 1 if steps == 1 else 2 * steps - 1, "images_per_s": 10.0,
         "eval_seed": 0, "quantize": "round", **sampling}
    if family:
        s["teacher_family"] = family
    return {"fid": fid, "is": 200.0, "precision": 0.8, "recall": 0.4, "n_samples": 50_000, "evaluator": "inception_v3",
            "n_reference": 10_000, "reference": "adm_ref_batch", "is_torch_fidelity": 199.0, "is_convention": "adm",
            "prc_arithmetic": "adm_fp16", "fid_dimo": fid + 0.5, "sampling": s}


def test_table1_keeps_maskgit_rows_apart_and_beside_their_reported_numbers(root, tmp_path):
    from reports.table1 import build_table1, to_markdown

    records = [record("teacher", 64, 1.7), record("dimo", 1, 2.9),
               record("teacher", 8, 6.7, "MaskGit", sampler_setting="halton_v1_readme"),
               record("dimo", 1, 7.0, "MaskGit"), record("dimo_released", 1, 6.9, "MaskGit", reported_as="dimo")]
    paths = []
    for i, r in enumerate(records):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(r))
    table = build_table1(paths, root / "config" / "reported.csv", "paper")
    key = lambda family, method: table[(table["teacher_family"] == family) & (table["method"] == method)]
    assert len(table) == 5
    assert float(key("maskbit", "dimo")["reported_fid"].iloc[0]) == 2.89  # MaskBit's Di[M]O row, as before
    assert float(key("MaskGit", "dimo")["reported_fid"].iloc[0]) == 6.91
    assert float(key("MaskGit", "dimo_released")["reported_fid"].iloc[0]) == 6.91
    assert float(key("MaskGit", "teacher")["reported_fid"].iloc[0]) == 6.66
    assert float(key("MaskGit", "teacher")["fid_dimo_mean"].iloc[0]) == pytest.approx(7.2)
    md = to_markdown(table)
    assert "| MaskGit | dimo_released | 1 |" in md and "halton_v1_readme" in md


def test_fid_dimo_is_clean_fid_against_the_given_statistics(tmp_path, monkeypatch):
    """The plumbing of fid_dimo: clean-fid's legacy_tensorflow FID (tested in test_adm.py) against the mu / sigma of
    the given file, next to the ADM-reference numbers; the Inception halves are stand-ins here."""
    from evaluation import adm

    rng = np.random.default_rng(0)
    mu, sigma = rng.normal(size=8), np.eye(8)
    np.savez(tmp_path / "stats.npz", mu=mu, sigma=sigma)
    calls = []

    def cleanfid(images, m, s, inception_dir, batch_size, device, frechet_sqrt):
        calls.append((m, s, inception_dir, frechet_sqrt))
        return float(len(calls))

    monkeypatch.setattr(adm, "cleanfid_legacy_tf_fid", cleanfid)
    monkeypatch.setattr(adm, "inception_features", lambda x, *a, **k: {"2048": rng.normal(size=(len(x), 8)),
                                                                         "logits_unbiased": rng.normal(size=(len(x), 10))})
    monkeypatch.setattr(adm, "precision_recall", lambda *a, **k: (0.5, 0.5))
    ref = {"mu": np.zeros(8), "sigma": np.eye(8), "features": rng.normal(size=(20, 8))}
    fake = rng.integers(0, 256, (20, 16, 16, 3), dtype=np.uint8)
    out = adm.adm_metrics(fake, ref, None, batch_size=7, k=3, device="cpu", is_convention="torch_fidelity",
                          prc_arithmetic="fp32", frechet_sqrt="scipy_sqrtm", cleanfid_dir=tmp_path,
                          dimo_stats=tmp_path / "stats.npz")
    assert (out["fid_cleanfid_legacy_tf"], out["fid_dimo"], out["fid_dimo_reference"]) == (1.0, 2.0, "stats.npz")
    assert np.array_equal(calls[0][0], ref["mu"]) and np.array_equal(calls[1][0], mu)
    assert np.array_equal(calls[1][1], sigma) and calls[1][2] == tmp_path and calls[1][3] == "scipy_sqrtm"
    with pytest.raises(ValueError, match="cleanfid"):
        adm.adm_metrics(fake, ref, None, batch_size=7, k=3, device="cpu", is_convention="torch_fidelity",
                        prc_arithmetic="fp32", frechet_sqrt="scipy_sqrtm", dimo_stats=tmp_path / "stats.npz")
    np.savez(tmp_path / "bad.npz", mean=mu)
    with pytest.raises(ValueError, match="mu / sigma"):
        adm.load_mu_sigma(tmp_path / "bad.npz")
