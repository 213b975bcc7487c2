"""Test-time scaling of a one-step student: best-of-N selected by a reward, TTEO (test-time embedding
optimisation: gradient ascent of the reward on the student's input embedding, weights frozen), and both.

Teacher-agnostic through a `scoring` object with decode(tokens, ids), decode_soft(probs, ids) and
reward(images, ids). Image i of seed k draws its noise from generator seed k*1_000_000 + i; candidate n of that
image from (k*1_000_000 + i)*1000 + n, so the N candidates of best-of-N are the first N of every larger N. The
token draw after TTEO reuses the candidate's own Gumbel noise, so 0 iterations is the candidate itself. The
summed (not averaged) reward makes each image's update independent of the batch it is in.
"""
import numpy as np
import torch
from tqdm import tqdm

from softdimo.sampling import ImageRngs, distill_input
from softdimo.tokenizers.lfq import to_uint8


@torch.no_grad()
def draw_candidates(student, scoring, prompt_ids, seeds, n, *, r_init, distill_cfg):
    """For every image, n candidates: input embedding e, Gumbel noise g and the reward of the decoded sample."""
    e_all, g_all, r_all = [], [], []
    for j in range(n):
        rngs = ImageRngs([s * 1000 + j for s in seeds], prompt_ids.device)
        e = distill_input(student, rngs, r_init, distill_cfg)
        g = rngs.gumbel(student.seq_len, student.splits, student.classes_per_split)
        tokens = (student.forward_embeddings(e, prompt_ids) / distill_cfg.temperature + g).argmax(-1)
        r_all.append(scoring.reward(scoring.decode(tokens, prompt_ids), prompt_ids))
        e_all.append(e)
        g_all.append(g)
    return torch.stack(e_all, 1), torch.stack(g_all, 1), torch.stack(r_all, 1)


def tteo(student, scoring, e, prompt_ids, iters: list[int], lr: float, temperature: float) -> dict:
    """SGD ascent of the reward on the input embedding; returns {iterations: embedding} for each of `iters`."""
    e = e.detach().clone().requires_grad_(True)
    opt = torch.optim.SGD([e], lr=lr)
    out = {0: e.detach().clone()} if 0 in iters else {}
    for it in range(1, max(iters) + 1):
        probs = (student.forward_embeddings(e, prompt_ids).float() / temperature).softmax(-1)
        loss = -scoring.reward(scoring.decode_soft(probs, prompt_ids), prompt_ids).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if it in iters:
            out[it] = e.detach().clone()
    return out


def test_time_grid(student, scoring, prompt_ids, seeds, tt, *, r_init, distill_cfg, batch_size, quantize):
    """Images for every (N, TTEO iterations) of the config. Every candidate is optimised (TTEO, k iterations),
    then image i is the candidate with the highest reward of its decoded tokens among its first N: selection
    comes after optimisation, as in noise-optimisation methods, so TTEO is never undone by picking the
    candidate whose lucky draw it then perturbs."""
    n_max, iters, temp = max(tt.best_of_n), sorted(tt.tteo_iters), distill_cfg.temperature
    images = {(n, k): [] for n in tt.best_of_n for k in iters}
    for start in tqdm(range(0, len(seeds), batch_size), desc="best-of-N + TTEO"):
        ids, sd = prompt_ids[start:start + batch_size], seeds[start:start + batch_size]
        e, g, _ = draw_candidates(student, scoring, ids, sd, n_max, r_init=r_init, distill_cfg=distill_cfg)
        b = len(ids)
        flat_ids = ids.repeat_interleave(n_max)
        for k, e_k in tteo(student, scoring, e.flatten(0, 1), flat_ids, iters, tt.tteo_lr, temp).items():
            with torch.no_grad():
                tokens = (student.forward_embeddings(e_k, flat_ids) / temp + g.flatten(0, 1)).argmax(-1)
                decoded = scoring.decode(tokens, flat_ids)
                r = scoring.reward(decoded, flat_ids).view(b, n_max)
                pictures = to_uint8(decoded, quantize).cpu().numpy().reshape(b, n_max, *decoded.shape[2:], decoded.shape[1])
            for n in tt.best_of_n:
                images[(n, k)].append(pictures[np.arange(b), r[:, :n].argmax(1).cpu().numpy()])
    return {key: np.concatenate(v) for key, v in images.items()}


def setting_sidecar(student_row: str, n: int, k: int, **what) -> dict:
    """What made one samples file of a test-time grid, for its sidecar: the row name the tables give it
    (`<student row>+n<N>_tteo<K>`, checked by the evaluators' --expect method=...), N, K and whatever else the
    caller records (prompt set, seed, ...)."""
    return {"method": f"{student_row}+n{n}_tteo{k}", "best_of_n": n, "tteo_iters": k, "steps": 1, **what}
