"""Training stages of the Meissonic track: the one-step students of the converted Meissonic teacher by the official
Di[M]O Meissonic recipe (config meissonic.recipe: 8 accumulation steps, Adam eps 1e-6, clipping the generator
only, gradient checkpointing, CFG against the negative prompt, timestep 0), and Soft-Di[M]O's reward fine-tuning
through the soft-decoded 1024 px image with t2i_paper's composite CLIP / HPS v2.1 reward.

Stage name for `python -m softdimo.train --stage`: meissonic.student:<method>:<seed>.
"""
from pathlib import Path

import torch

from evaluation import clip_scorers
from evaluation.prompt_sets import load_prompt_set
from softdimo.config import Config, as_dict
from softdimo.method.reward import CompositeReward
from softdimo.method.text_student import TextStudentStage
from softdimo.sampling import image_seeds
from softdimo.tracks.meissonic.pipeline import bank_ids, generate, student_tokens


class Student(TextStudentStage):
    config_section = "meissonic"

    def __init__(self, cfg: Config, inputs: dict[str, Path], method: str, seed: str):
        if cfg.meissonic is None or cfg.t2i_paper is None:
            raise SystemExit("stage meissonic.student needs the meissonic and t2i_paper sections (config/paper.yaml)")
        super().__init__(cfg, inputs, method, seed)
        self.accumulation_steps = cfg.meissonic.recipe.accumulation_steps

    def build(self, device):
        self.build_models(device)
        r, m = self.cfg.meissonic.recipe, self.cfg.meissonic
        # the unguided branch inside the loss: the negative prompt (official) or ''
        self.teacher.null_class = self.bank.prompts.index(m.sampling.negative_prompt if r.negative_prompt_cfg else "")
        for model in (self.teacher, *self.modules.values()):
            model.timestep = r.timestep
        for model in self.modules.values():
            model.gradient_checkpointing = r.gradient_checkpointing
        paper = self.cfg.t2i_paper
        scorers = {k: clip_scorers.configured_scorer(k, self.inputs[k], self.cfg.t2i_paper.scorers).to(device)
                   for k in ("clip", "hps")}
        self.reward = CompositeReward(scorers, as_dict(paper.rewards), self.bank.prompts)
        self.eval_scores = {k: CompositeReward(scorers, {k: 1.0}, self.bank.prompts) for k in scorers}
        self.train_prompts = bank_ids(self.bank, load_prompt_set(self.inputs["train_prompts"])["prompts"]).to(device)
        eval_prompts = load_prompt_set(self.inputs["eval_prompts"])["prompts"]
        ids = bank_ids(self.bank, eval_prompts).repeat(-(-self.d.eval_samples // len(eval_prompts)))
        self.eval_ids = ids[:self.d.eval_samples].to(device)

    def reward_of_soft_tokens(self, probs, prompt_ids):
        """R(Dec(p @ codebook), caption): the soft-decoded image (Soft-Di[M]O's reward path)."""
        return self.reward(self.tokenizer.decode_soft(probs).clamp(-1, 1), prompt_ids)

    @torch.no_grad()
    def periodic_eval(self, modules, step: int) -> dict:
        student, m = modules["student"].eval(), self.cfg.meissonic
        images = generate(student_tokens(student, self.s.r_init, self.d.sigma_init, self.d.monitor_temperature,
                                         self.d.min_masked),
                          self.tokenizer, self.eval_ids, image_seeds(self.seed, len(self.eval_ids)),
                          m.sampling.batch_size, self.cfg.precision, m.sampling.quantize)
        x = torch.from_numpy(images).to(self.device).permute(0, 3, 1, 2).float() / 127.5 - 1
        out, b = {"total_step": self.init_steps + step}, m.sampling.batch_size
        for name, score in self.eval_scores.items():
            out[f"eval_{name}"] = float(torch.cat([score(x[i:i + b], self.eval_ids[i:i + b])
                                                   for i in range(0, len(x), b)]).mean())
        return out


STAGES = {"student": Student}
