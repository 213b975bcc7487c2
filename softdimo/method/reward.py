"""Differentiable rewards of decoded images for reward fine-tuning, best-of-N and TTEO: a reward network's
score of images for their prompts, and a weighted sum of several scorers.
"""
import torch


def reward_of_images(reward, images: torch.Tensor, bank, prompt_ids: torch.Tensor) -> torch.Tensor:
    """Per-image reward of float NCHW images (decoder output, clamped to [-1, 1]) for their prompts."""
    return reward(images.clamp(-1, 1), bank.pooled[prompt_ids])


class CompositeReward(torch.nn.Module):
    """R(images, bank ids) = sum_i weight_i * scorer_i(images, its text features of those prompts).

    Each scorer embeds the prompt strings once (its own tokenizer and prefix) for all bank rows it is asked
    about; differentiable in the images, one value per image (summed rewards keep images independent)."""

    def __init__(self, scorers: dict, weights: dict, prompts: list[str]):
        super().__init__()
        self.weights = {k: w for k, w in weights.items() if w > 0}
        self.scorers = torch.nn.ModuleDict({k: scorers[k] for k in self.weights})
        self.prompts = prompts
        self._text = {}

    def text_features(self, name: str, ids: torch.Tensor) -> torch.Tensor:
        cache = self._text.setdefault(name, {})
        todo = sorted({int(i) for i in ids.tolist()} - cache.keys())
        if todo:
            feats = self.scorers[name].encode_text([self.prompts[i] for i in todo])
            cache.update(zip(todo, feats))
        return torch.stack([cache[int(i)] for i in ids.tolist()])

    def forward(self, images_m11: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return sum(w * self.scorers[k](images_m11, self.text_features(k, ids)) for k, w in self.weights.items())
