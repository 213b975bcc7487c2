"""Training stages of the MaskGen-L track (paper-scale text-to-image): the one-step students of the converted
official MaskGen-L teacher with TA-TiTok decoding and the CLIP / HPS v2.1 composite reward. Tokenizer and
teacher are converted, not trained (python -m softdimo.tracks.maskgen.pipeline convert).

Stage name for `python -m softdimo.train --stage`: maskgen.student:<method>:<seed>.
"""
from pathlib import Path

import numpy as np
import torch

from evaluation import clip_scorers
from evaluation.prompt_sets import load_prompt_set
from softdimo.config import Config, as_dict
from softdimo.method.reward import CompositeReward
from softdimo.method.text_student import TextStudentStage
from softdimo.sampling import image_seeds
from softdimo.tracks.maskgen.pipeline import bank_ids, generate, student_tokens


class Student(TextStudentStage):
    """The same student on MaskGen-L / TA-TiTok (config t2i_paper): prompts come from the training prompt
    set, TA-TiTok decodes with each caption's text tokens, the reward is the configured CLIP / HPS composite,
    a GAN student's discriminator reads TA-TiTok tokens of real pairs (inputs real_tokens / real_prompts), and
    the training curve carries CLIP score and HPS of the EMA student on GenEval's prompts."""
    config_section = "t2i_paper"

    def __init__(self, cfg: Config, inputs: dict[str, Path], method: str, seed: str):
        if cfg.t2i_paper is None:
            raise SystemExit("stage maskgen.student needs a config with a t2i_paper section (config/paper.yaml)")
        super().__init__(cfg, inputs, method, seed)

    def build(self, device):
        self.build_models(device)
        scorers = {k: clip_scorers.configured_scorer(k, self.inputs[k], self.cfg.t2i_paper.scorers).to(device)
                   for k in ("clip", "hps")}
        weights = as_dict(self.cfg.t2i_paper.rewards)
        self.reward = CompositeReward(scorers, weights, self.bank.prompts)
        self.eval_scores = {k: CompositeReward(scorers, {k: 1.0}, self.bank.prompts) for k in scorers}
        self.train_prompts = bank_ids(self.bank, load_prompt_set(self.inputs["train_prompts"])["prompts"]).to(device)
        if self.w_gan > 0:  # the discriminator's real data: tokenised pairs, each with its caption's bank row
            with np.load(self.inputs["real_tokens"]) as f:
                self.real_tokens = torch.from_numpy(f["tokens"]).to(device)  # int16; widened per batch
            captions = load_prompt_set(self.inputs["real_prompts"])["prompts"]
            if len(captions) != len(self.real_tokens):
                raise SystemExit(f"{self.inputs['real_prompts']}: {len(captions)} captions for "
                                 f"{len(self.real_tokens)} token rows in {self.inputs['real_tokens']}")
            self.real_labels = bank_ids(self.bank, captions).to(device)
        eval_prompts = load_prompt_set(self.inputs["eval_prompts"])["prompts"]
        self.eval_ids = bank_ids(self.bank, eval_prompts).repeat(-(-self.d.eval_samples // len(eval_prompts)))
        self.eval_ids = self.eval_ids[:self.d.eval_samples].to(device)

    def reward_of_soft_tokens(self, probs, prompt_ids):
        return self.reward(self.tokenizer.decode_soft(probs, self.bank.final_tokens(prompt_ids)).clamp(-1, 1), prompt_ids)

    @torch.no_grad()
    def periodic_eval(self, modules, step: int) -> dict:
        student = modules["student"].eval()
        images = generate(student_tokens(student, self.s.r_init, self.d, self.d.monitor_temperature), self.tokenizer,
                          self.bank, self.eval_ids,
                          image_seeds(self.seed, len(self.eval_ids)), self.cfg.t2i_paper.eval.batch_size,
                          self.cfg.precision, quantize=self.cfg.t2i_paper.sampling.quantize)
        x = torch.from_numpy(images).to(self.device).permute(0, 3, 1, 2).float() / 127.5 - 1
        out = {"total_step": self.init_steps + step}
        for name, score in self.eval_scores.items():
            b = self.cfg.t2i_paper.eval.batch_size
            out[f"eval_{name}"] = float(torch.cat([score(x[i:i + b], self.eval_ids[i:i + b])
                                                   for i in range(0, len(x), b)]).mean())
        return out


STAGES = {"student": Student}
