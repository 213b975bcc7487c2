"""Evaluator conventions (docs/metrics.md, "Evaluator conventions"): each test feeds a known input whose value
differs between the official convention and the alternative, and checks the official one against a direct
numpy implementation of the official formula."""
import warnings

import numpy as np
import pytest
import torch
from scipy import linalg

from evaluation.adm_conventions import adm_pairwise_sq_distances, adm_precision_recall, inception_score, precision_recall
from evaluation.frechet import SINGULAR_EPS, frechet_distance


# -- 8. Inception Score: ADM's file-order parts of 5,000 vs torch-fidelity's shuffled tenths -------------------
def numpy_adm_is(probs: np.ndarray, split_size: int = 5000) -> float:
    """ADM's compute_inception_score on softmax rows: mean over consecutive parts of exp(mean KL(p(y|x) || p(y)))."""
    scores = []
    for start in range(0, len(probs), split_size):
        part = probs[start:start + split_size]
        kl = part * (np.log(part) - np.log(np.mean(part, 0, keepdims=True)))
        scores.append(np.exp(np.mean(np.sum(kl, 1))))
    return float(np.mean(scores))


def cycling_logits(n: int, classes: int, confidence: float = 5.0) -> np.ndarray:
    """Image i confidently of class i mod classes, as the samplers order class-conditional samples."""
    logits = np.zeros((n, classes))
    logits[np.arange(n), np.arange(n) % classes] = confidence
    return logits


def softmax(logits):
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_inception_score_adm_file_order_parts_against_numpy_reference():
    logits = cycling_logits(10_000, 50)
    adm, tf = inception_score(logits, "adm"), inception_score(logits, "torch_fidelity")
    assert adm["splits"] == 2 and adm["mean"] == pytest.approx(numpy_adm_is(softmax(logits)), rel=1e-12)
    # every file-order part holds each class 100 times, so p(y) is uniform; shuffled tenths are not balanced
    assert tf["splits"] == 10 and tf["mean"] < adm["mean"] * 0.995
    perm = np.random.RandomState(2020).permutation(len(logits))
    shuffled = softmax(logits)[perm]
    tenths = [numpy_adm_is(shuffled[i * 1000:(i + 1) * 1000], 1000) for i in range(10)]
    assert tf["mean"] == pytest.approx(np.mean(tenths), rel=1e-12)
    # reordering the file changes ADM's value and not torch-fidelity's split sizes: order is the convention
    by_class = np.argsort(np.arange(10_000) % 50, kind="stable")
    assert inception_score(logits[by_class], "adm")["mean"] != pytest.approx(adm["mean"], rel=1e-3)
    assert inception_score(np.zeros((50_000, 4)), "adm")["splits"] == 10


# -- 10. precision / recall: ADM's float16 distance blocks vs float32 ------------------------------------------
def numpy_adm_sq_dists(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """ADM's _batch_pairwise_distances in float16 (sums accumulated in float32), float32 if any value overflows."""
    u16, v16 = u.astype(np.float32).astype(np.float16), v.astype(np.float32).astype(np.float16)
    to16 = lambda x: x.astype(np.float32).astype(np.float16)  # noqa: E731 (a float32 accumulator stored as fp16)
    nu, nv = to16(np.square(u16).astype(np.float64).sum(1)), to16(np.square(v16).astype(np.float64).sum(1))
    mm = to16(u16.astype(np.float64) @ v16.astype(np.float64).T)
    d = np.maximum((nu[:, None] - np.float16(2) * mm) + nv[None, :], np.float16(0))
    assert d.dtype == np.float16
    if np.isfinite(d).all():
        return d.astype(np.float32)
    u32, v32 = u.astype(np.float32), v.astype(np.float32)
    nu, nv = np.square(u32).astype(np.float64).sum(1).astype(np.float32), np.square(v32).astype(np.float64).sum(1).astype(np.float32)
    mm = (u32.astype(np.float64) @ v32.astype(np.float64).T).astype(np.float32)
    return np.maximum((nu[:, None] - np.float32(2) * mm) + nv[None, :], np.float32(0))


def numpy_adm_precision_recall(samples, ref, k=3):
    """ADM's ManifoldEstimator on one block: radii are the (k+1)-th smallest distances (self included)."""
    radius = lambda x: np.partition(numpy_adm_sq_dists(x, x), k, axis=1)[:, k]  # noqa: E731
    r_ref, r_sam = radius(ref), radius(samples)
    d = numpy_adm_sq_dists(ref, samples)
    return float((d <= r_ref[:, None]).any(0).mean()), float((d <= r_sam[None, :]).any(1).mean())


@pytest.fixture(scope="module")
def offset_features():
    """Features far from the origin: ||u||^2 - 2 u.v + ||v||^2 cancels badly in float16 (step 0.5 near 1,000)."""
    rng = np.random.default_rng(0)
    return rng.normal(8, 1, (300, 32)), rng.normal(8, 1, (300, 32)) + 0.1


def test_adm_fp16_precision_recall_equals_numpy_float16_emulation_and_differs_from_fp32(offset_features):
    samples, ref = offset_features
    d = adm_pairwise_sq_distances(torch.from_numpy(ref).float(), torch.from_numpy(samples).float()).numpy()
    np.testing.assert_array_equal(d, numpy_adm_sq_dists(ref, samples))
    adm = precision_recall(samples, ref, 3, "adm_fp16")
    assert adm == numpy_adm_precision_recall(samples, ref)
    fp32 = precision_recall(samples, ref, 3, "fp32")
    assert adm != pytest.approx(fp32, abs=1e-3)
    # blocks of 64 (ADM: 10,000) give the same answer: the float16 / float32 choice is per block, not per set
    assert adm_precision_recall(samples, ref, 3, batch=64) == adm


def test_adm_distances_fall_back_to_float32_when_float16_overflows():
    rng = np.random.default_rng(1)
    big = rng.normal(0, 100, (40, 32))  # squared norms ~3e5 > 65504: inf in float16
    with np.errstate(over="ignore", invalid="ignore"):
        want = numpy_adm_sq_dists(big, big)
    d = adm_pairwise_sq_distances(torch.from_numpy(big).float(), torch.from_numpy(big).float()).numpy()
    assert np.isfinite(d).all() and d.dtype == np.float32
    np.testing.assert_array_equal(d, want)
    samples = big + rng.normal(0, 20, big.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        assert precision_recall(samples, big, 3, "adm_fp16") == numpy_adm_precision_recall(samples, big)


# -- 12. Fréchet distance: ADM's / clean-fid's sqrtm safeguards ----------------------------------------------------
def test_singular_covariances_take_the_eps_fallback():
    """Two-sample covariances in 3-d: sqrtm(S1 S2) is NaN; ADM / clean-fid retry with (S1 + eps I)(S2 + eps I)."""
    x = np.array([[0.0, -1.0, -1.0], [0.0, 0.0, 0.0]])
    y = np.array([[0.3, -0.2, -1.8], [-1.4, 0.8, 1.0]])
    mu1, mu2, s1, s2 = x.mean(0), y.mean(0), np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's own "Matrix is singular"
        plain = linalg.sqrtm(s1 @ s2)
    assert not np.isfinite(plain[0] if isinstance(plain, tuple) else plain).all(), "no longer a singular case"
    with pytest.warns(RuntimeWarning, match="adding 1e-06 to the diagonal"):
        got = frechet_distance(mu1, s1, mu2, s2)
    eye = np.eye(3) * SINGULAR_EPS
    root = linalg.sqrtm((s1 + eye) @ (s2 + eye))
    want = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(np.real(root))
    assert np.isfinite(got) and got == pytest.approx(want, rel=1e-9)


def test_imaginary_part_above_1e_3_on_the_diagonal_is_an_error():
    mu = np.zeros(2)
    # sqrtm(diag(1, -1e-8)) = diag(1, 1e-4 i): below ADM's atol, the real part diag(1, 0) is kept
    assert frechet_distance(mu, np.eye(2), mu, np.diag([1.0, -1e-8])) == pytest.approx(2 + 1 - 1e-8 - 2 * 1)
    # sqrtm(diag(1, -1e-5)) has 3.2e-3 i on the diagonal: the statistics are broken, not the distance small
    with pytest.raises(ValueError, match="imaginary component"):
        frechet_distance(mu, np.eye(2), mu, np.diag([1.0, -1e-5]))


# -- 9. image quantisation: the official truncation vs rounding --------------------------------------------------
def test_truncate_is_the_official_conversion_and_differs_from_round():
    from softdimo.tokenizers.lfq import to_uint8

    x01 = torch.tensor([0.0, 0.125, 0.25, 0.5, 0.75, 1 - 2**-10, 1.0, 1.25, -0.25])  # the official decoders' [0, 1]
    x = (2 * x01 - 1).view(1, 1, 1, -1)                                 # ours: [-1, 1], NCHW (exact for these)
    official = (torch.clamp(x01, 0.0, 1.0) * 255.0).to(torch.uint8)    # MaskBit / MaskGen: floor
    truncated, rounded = to_uint8(x, "truncate")[0, 0, :, 0], to_uint8(x, "round")[0, 0, :, 0]
    assert truncated.tolist() == official.tolist() == [0, 31, 63, 127, 191, 254, 255, 255, 0]
    assert rounded.tolist() == [0, 32, 64, 128, 191, 255, 255, 255, 0]  # 31.875, 63.75, 127.5, 254.75 go up
    assert to_uint8(x).tolist() == to_uint8(x, "round").tolist()        # round stays the library default
    with pytest.raises(ValueError, match="quantize"):
        to_uint8(x, "floor")


# -- 13. NFE: the forwards that ran, written into the sample sidecar -----------------------------------------------
def _save(kind, arch, kwargs, module, path, **extra):
    torch.save({"kind": kind, "arch": arch, "kwargs": kwargs, "state_dict": module.state_dict(), **extra}, path)
    return path


@pytest.fixture(scope="module")
def tiny_artefacts(tmp_path_factory):
    from softdimo.models import build_model
    from softdimo.tokenizers import build_tokenizer

    out = tmp_path_factory.mktemp("artefacts")
    torch.manual_seed(0)
    gen = dict(seq_len=16, bits=6, splits=2, num_classes=10, dim=32, depth=2, heads=2, mlp_ratio=2.0, dropout=0.0)
    tok = dict(image_size=8, channels=1, bits=6, splits=2, hidden_channels=8, downsample=1)
    teacher = build_model("tiny_bit_bert", **gen)
    return {"teacher": _save("teacher", "tiny_bit_bert", gen, teacher, out / "teacher.pt"),
            "tokenizer": _save("tokenizer", "tiny_lfq", tok, build_tokenizer("tiny_lfq", **tok), out / "tokenizer.pt"),
            "student": _save("student", "tiny_bit_bert", gen, teacher, out / "student.pt", method="dimo", total_steps=3,
                             student={"r_init": 0.6}),
            "model_class": type(teacher)}


def _config(root, tmp_path, **sampling):
    import yaml

    raw = yaml.safe_load((root / "config" / "smoke.yaml").read_text())
    raw["c2i"]["sampling"].update(sampling, batch_size=8)
    raw["c2i"]["eval"]["n_samples"] = 20
    path = tmp_path / f"cfg{len(list(tmp_path.glob('cfg*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _sample(cfg, art, out, *how):
    import json

    from softdimo import sample

    sample.main(["--config", str(cfg), "--teacher", str(art["teacher"]), "--tokenizer", str(art["tokenizer"]),
                 *how, "--seed", "0", "--threads", "1", "--out", str(out)])
    return np.load(out)["arr_0"], json.loads(out.with_suffix(".json").read_text())


def test_sidecar_nfe_counts_the_forwards_that_ran(root, tmp_path, tiny_artefacts, monkeypatch):
    """MaskBit's cosine_power ramp has w = 1 at step 0: one pass there, two at every later step (4 steps: 7)."""
    from softdimo.sampling import maskgit_nfe

    rows = []
    cls = tiny_artefacts["model_class"]
    original = cls.forward
    monkeypatch.setattr(cls, "forward", lambda self, tokens, cond: (rows.append(len(tokens)), original(self, tokens, cond))[1])
    ramp = _config(root, tmp_path, cfg_scale=3.0, cfg_schedule="cosine_power", cfg_power=3.0)
    _, meta = _sample(ramp, tiny_artefacts, tmp_path / "ramp.npz", "--steps", "4")
    assert meta["nfe"] == sum(rows) / 20 == 7 == maskgit_nfe(4, 3.0, "cosine_power", 3.0)
    rows.clear()
    constant = _config(root, tmp_path, cfg_scale=3.0, cfg_schedule="constant")
    _, meta = _sample(constant, tiny_artefacts, tmp_path / "constant.npz", "--steps", "4")
    assert meta["nfe"] == sum(rows) / 20 == 8
    _, meta = _sample(ramp, tiny_artefacts, tmp_path / "student.npz", "--student", str(tiny_artefacts["student"]))
    assert meta["nfe"] == 1 and meta["teacher_nfe"] == maskgit_nfe(4, 3.0, "cosine_power", 3.0)


def test_samples_follow_the_configured_quantisation(root, tmp_path, tiny_artefacts):
    rounded, meta_r = _sample(_config(root, tmp_path, quantize="round"), tiny_artefacts, tmp_path / "r.npz", "--steps", "2")
    truncated, meta_t = _sample(_config(root, tmp_path, quantize="truncate"), tiny_artefacts, tmp_path / "t.npz",
                                "--steps", "2")
    assert (meta_r["quantize"], meta_t["quantize"]) == ("round", "truncate")
    diff = rounded.astype(int) - truncated.astype(int)
    assert set(np.unique(diff)) <= {0, 1} and 0.2 < (diff == 1).mean() < 0.8  # about half the pixels one level up


def test_paper_table1_names_its_conventions_and_keeps_torch_fidelity_is_beside_adm(root, tmp_path):
    import json

    from reports.table1 import build_table1, to_markdown

    files = []
    for seed, (is_adm, is_tf) in enumerate([(300.0, 280.0), (310.0, 285.0)]):
        record = {"fid": 2.0, "is": is_adm, "is_adm": is_adm, "is_torch_fidelity": is_tf, "precision": 0.8,
                  "recall": 0.6, "is_convention": "adm", "prc_arithmetic": "adm_fp16", "n_samples": 50_000,
                  "n_reference": 10_000, "evaluator": "inception_v3", "reference": "adm_ref_batch",
                  "sampling": {"method": "teacher", "steps": 64, "nfe": 127, "eval_seed": seed, "images_per_s": 1.0,
                               "quantize": "truncate"}}
        files.append(tmp_path / f"m{seed}.json")
        files[-1].write_text(json.dumps(record))
    table = build_table1(files, root / "config" / "reported.csv", "paper")
    row = table.iloc[0]
    assert (row["is_mean"], row["is_torch_fidelity_mean"], row["nfe"]) == (305.0, 282.5, 127)
    assert (row["is_convention"], row["prc_arithmetic"], row["quantize"]) == ("adm", "adm_fp16", "truncate")
    assert "Inception Score adm" in to_markdown(table) and "quantised to uint8 by truncate" in to_markdown(table)
