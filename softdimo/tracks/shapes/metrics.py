"""Text-to-image metrics of one (row, seed): GenEval-shapes (overall and the six tasks), CLIP score and the
preference (HPS-like) score on the evaluation prompts, FID / precision / recall and CLIP score on the FID set.

    python -m softdimo.tracks.shapes.metrics --config CFG --samples eval.npz [--fid-samples fid.npz] \
        --input prompts=... --input text_bank=... --input clip=... --input preference=... \
        --input shapes_cnn=... --input fid_real=... --method dimo --steps 1 --seed 0 --out metrics.json

Samples are uint8 NHWC under arr_0 with their prompt ids under prompt_ids. The evaluation set must hold every
caption `images_per_prompt` times: a GenEval over fewer images is a different number, so it is an error.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from evaluation.fid import compute_metrics, sha256
from evaluation.geneval import score_image, summarize
from softdimo.tracks.shapes.judges import uint8_to_unit
from softdimo.tracks.shapes.detector import ShapesDetector
from softdimo.checkpoints import load_artefact
from softdimo.io import add_expect_argument, check_samples, expectations, git_commit, write_json
from softdimo.tracks.shapes.world import load_prompts
from softdimo.text_bank import load_bank
from softdimo.errors import ArtefactError, cli, nonnegative_int


class Judges:
    """Everything that scores text-to-image samples, loaded once."""

    def __init__(self, cfg, metadata, bank, clip, preference, shapes_cnn_path, fid_real_path, device):
        self.cfg, self.metadata, self.bank, self.device = cfg, metadata, bank, device
        self.clip, self.preference = clip, preference
        self.shapes_cnn_path, self.fid_real_path = shapes_cnn_path, fid_real_path
        w = cfg.t2i.world
        self.detector = ShapesDetector(w.shapes, w.colors, saturation=cfg.t2i.eval.detector_saturation,
                                       min_area=cfg.t2i.eval.detector_min_area)

    @classmethod
    def load(cls, cfg, inputs: dict, device="cpu", need_fid: bool = True):
        bank = load_bank(inputs["text_bank"]).to(device)
        clip, _ = load_artefact(inputs["clip"], "judge", device)
        preference, _ = load_artefact(inputs["preference"], "judge", device)
        return cls(cfg, load_prompts(inputs["prompts"])["metadata"], bank, clip, preference,
                   inputs.get("shapes_cnn") if need_fid else None, inputs.get("fid_real") if need_fid else None, device)

    def eval_prompt_ids(self, n: int) -> torch.Tensor:
        """Every caption in turn, n images in all (n a multiple of the caption count covers each equally)."""
        return torch.arange(n, device=self.device) % len(self.metadata)

    def geneval(self, images: np.ndarray, prompt_ids) -> dict:
        ids = np.asarray(torch.as_tensor(prompt_ids).cpu())
        rule = self.cfg.t2i.eval.geneval_rule
        results = [score_image(self.detector(img), self.metadata[p], rule) for img, p in zip(images, ids)]
        return summarize([self.metadata[p]["tag"] for p in ids], [ok for ok, _ in results])

    @torch.no_grad()
    def _judge(self, model, images: np.ndarray, prompt_ids) -> float:
        ids = torch.as_tensor(prompt_ids, device=self.device)
        bs, scores = self.cfg.t2i.eval.batch_size, []
        for i in range(0, len(images), bs):
            x = uint8_to_unit(torch.from_numpy(images[i:i + bs]).to(self.device))
            scores.append(model(x, self.bank.pooled[ids[i:i + bs]]))
        return float(torch.cat(scores).mean())

    def score_prompts(self, images: np.ndarray, prompt_ids) -> dict:
        return {"geneval": self.geneval(images, prompt_ids), "clip_score": self._judge(self.clip, images, prompt_ids),
                "preference": self._judge(self.preference, images, prompt_ids)}

    def score_fid_set(self, images: np.ndarray, prompt_ids) -> dict:
        with np.load(self.fid_real_path) as f:
            real = f["arr_0"]
        if len(images) != len(real):
            raise ValueError(f"FID set: {len(images)} samples for {len(real)} reference images; regenerate the samples")
        m = compute_metrics(images, real, evaluator="shapes_cnn", extractor_path=self.shapes_cnn_path,
                            batch_size=self.cfg.t2i.eval.batch_size, prc_neighborhood=3, isc=False)
        return {**m, "fid_clip_score": self._judge(self.clip, images, prompt_ids)}


def load_samples(path, expect: dict | None = None, role: str | None = None):
    """Images and prompt ids of a samples file; with `expect`, first its sidecar is checked (sha256 and each
    expected key, softdimo.io.check_samples), and a sidecar that records a prompt set must record `role`."""
    if expect is not None:
        meta = check_samples(path, expect)
        if role is not None and "set" in meta and meta["set"] != role:
            raise ArtefactError(f"{path} holds the {meta['set']!r} prompt set's samples where the {role!r} set's are "
                                f"expected: a file copied from another output; delete it and rerun the workflow")
    with np.load(path) as f:
        return f["arr_0"], f["prompt_ids"]


def main(argv=None):
    from softdimo.config import load_config

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--samples", required=True, help="evaluation-prompt samples (.npz)")
    parser.add_argument("--fid-samples", default=None, help="FID-set samples (.npz); omitted for test-time rows")
    parser.add_argument("--input", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--method", required=True, help="row name written into the record")
    parser.add_argument("--steps", type=int, required=True, help="sampling steps of the row (0 for real renders)")
    parser.add_argument("--seed", type=nonnegative_int, required=True, help="evaluation seed of the samples")
    add_expect_argument(parser)  # omitted for files without a sidecar (real images / renders)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    expect = expectations(args.expect) if args.expect else None
    torch.set_num_threads(1)
    inputs = dict(item.split("=", 1) for item in args.input)
    judges = Judges.load(cfg, inputs, need_fid=args.fid_samples is not None)
    t0 = time.time()
    images, ids = load_samples(args.samples, expect, role="eval")
    want = len(judges.metadata) * cfg.t2i.world.images_per_prompt
    if len(images) != want or np.bincount(ids, minlength=len(judges.metadata)).min() != cfg.t2i.world.images_per_prompt:
        raise ValueError(f"{args.samples}: {len(images)} images; the evaluation set is every caption x "
                         f"{cfg.t2i.world.images_per_prompt} = {want} images")
    metrics = judges.score_prompts(images, ids)
    if args.fid_samples:
        metrics.update(judges.score_fid_set(*load_samples(args.fid_samples, expect, role="fid")))
        metrics["fid_samples_sha256"] = sha256(args.fid_samples)
    meta_path = Path(args.samples).with_suffix(".json")
    metrics.update({"method": args.method, "steps": args.steps, "eval_seed": args.seed, "n_eval_images": int(len(images)), "evaluator": "geneval-shapes detector, clip/preference judges, shapes-cnn FID",
                    "samples_sha256": sha256(args.samples), "eval_seconds": round(time.time() - t0, 2),
                    "git_commit": git_commit(), "sampling": json.loads(meta_path.read_text()) if meta_path.exists() else {}})
    write_json(args.out, metrics)
    print(json.dumps({"geneval": metrics["geneval"]["overall"], "clip": metrics["clip_score"],
                      "preference": metrics["preference"], "fid": metrics.get("fid")}))


if __name__ == "__main__":
    cli(main)
