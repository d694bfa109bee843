"""Fit a model's keyframe head on its own, outside the action stage, and write the model with it.

The head reads what it reads inside the model (the current frame's latent patches) and learns the
successful training episodes' keyframes, every 2nd tick, each of the 14 joints standardised (at
least 0.05 normalised units); 3/4 of
the episodes are fitted, 1/4 scored (right joints 1-3 before the first grasp, as readout.py). The
model's action expert and every other weight are left as they are.
fit_head.py MODEL_DIR DATASET OUT_MODEL_DIR
"""
import copy
import sys

import numpy as np
import torch

from wav_core.data.keyframes import gripper_thresholds
from wav_core.data.torch_dataset import SampleSpec, WavDataset
from wav_core.model.files import load_model, save_model

torch.manual_seed(0)
model, card = load_model(sys.argv[1])
ds = WavDataset(sys.argv[2], SampleSpec.for_model(model.cfg))
lo, hi = (torch.tensor(x, dtype=torch.float32) for x in (card.normalization.state_min, card.normalization.state_max))
threshold = gripper_thresholds(ds.data.stats["action"])[1]
X, Y, episode, before_grasp = [], [], [], []
first = 0
for e in ds.data.episodes:
    start, first = first, first + e.ticks
    if not e.success:
        continue
    closes = np.flatnonzero(np.asarray(ds._file(e.index)["action"][:, 13]) < threshold)
    grasp = int(closes[0]) if len(closes) else e.ticks
    ticks = range(0, e.ticks, 2)
    batch = torch.utils.data.default_collate([ds[start + t] for t in ticks])
    with torch.no_grad():
        latents = model.tokenizer.latents(batch["history"][:, :, -1:])
        b = latents.shape[0]
        X.append(model.world._patchify(latents).reshape(b, -1))
    Y.append((batch["keyframe"] - lo) / (hi - lo) * 2 - 1)
    episode += [e.index] * b
    before_grasp += [t < grasp for t in ticks]
X, Y, episode, before_grasp = torch.cat(X), torch.cat(Y), np.array(episode), torch.tensor(before_grasp)
ids = np.unique(episode)
held = torch.from_numpy(np.isin(episode, np.random.default_rng(0).choice(ids, len(ids) // 4, replace=False)))
fit = ~held
# joints whose keyframe hardly varies (the grippers' commanded states) are not blown up by the standardising
std = Y[fit].std(0).clamp(min=0.05)

head = copy.deepcopy(model.action.keyframe)
for m in head.modules():
    if isinstance(m, torch.nn.Linear):
        m.reset_parameters()
opt = torch.optim.AdamW(head.parameters(), 1e-3, weight_decay=1e-2)
Xf, Yf = X[fit], Y[fit]
for step in range(4000):
    i = torch.randint(0, len(Xf), (64,))
    loss = ((head(Xf[i]) - Yf[i]) / std).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()

with torch.no_grad():
    pred, old = head(X), model.action.keyframe(X)
to_rad = (hi - lo) / 2
print(f"{len(ids)} successful episodes, {int(fit.sum())} ticks fitted, {int(held.sum())} scored")
for name, rows in (("fitted", fit), ("held-out episodes", held)):
    rows = rows & before_grasp
    for label, p in (("fitted head", pred), ("model's head", old)):
        err = ((p[rows] - Y[rows]) * to_rad).pow(2).mean(0).sqrt()[7:10]
        r2 = 1 - err ** 2 / (Y[rows] * to_rad).var(0)[7:10]
        print(f"{name}, {label}: right joints 1-3 before the grasp, error {np.round(err.numpy(), 4)} rad, "
              f"R^2 {np.round(r2.numpy(), 2)} ({int(rows.sum())} ticks)")
model.action.keyframe.load_state_dict(head.state_dict())
save_model(sys.argv[3], model, card)
print(f"wrote {sys.argv[3]}")
