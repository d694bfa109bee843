"""Can the current frame's latents name the right arm's grasp pose at all? A two-layer MLP of its own,
fitted on the latents of 3/4 of a dataset's successful episodes (every 2nd tick before the right
gripper first closes) and scored on the other 1/4, against the grasp pose's spread.
frame_mlp.py MODEL_DIR DATASET
"""
import sys

import numpy as np
import torch

from wav_core.data.keyframes import gripper_thresholds
from wav_core.data.torch_dataset import SampleSpec, WavDataset
from wav_core.model.files import load_model

torch.manual_seed(0)
model, _ = load_model(sys.argv[1])
ds = WavDataset(sys.argv[2], SampleSpec.for_model(model.cfg))
threshold = gripper_thresholds(ds.data.stats["action"])[1]
X, Y, episode = [], [], []
first = 0
for e in ds.data.episodes:
    start, first = first, first + e.ticks
    closes = np.flatnonzero(np.asarray(ds._file(e.index)["action"][:, 13]) < threshold)
    if not e.success or not len(closes):
        continue
    batch = torch.utils.data.default_collate([ds[start + t] for t in range(0, int(closes[0]), 2)])
    with torch.no_grad():
        X.append(model.tokenizer.latents(batch["history"][:, :, -1:]).flatten(1))
    Y.append(batch["keyframe"][:, 7:10])
    episode += [e.index] * len(batch["keyframe"])
X, Y, episode = torch.cat(X), torch.cat(Y), np.array(episode)
ids = np.unique(episode)
held = torch.from_numpy(np.isin(episode, np.random.default_rng(0).choice(ids, len(ids) // 4, replace=False)))
fit = ~held
mean, std = Y[fit].mean(0), Y[fit].std(0)
net = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 192), torch.nn.GELU(), torch.nn.Linear(192, 192), torch.nn.GELU(),
                          torch.nn.Linear(192, 3))
opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-2)
Xf, Yf = X[fit], (Y[fit] - mean) / std
for _ in range(3000):
    i = torch.randint(0, len(Xf), (64,))
    loss = (net(Xf[i]) - Yf[i]).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
with torch.no_grad():
    pred = net(X) * std + mean
print(f"{len(ids)} episodes, {int(fit.sum())} ticks fitted, {int(held.sum())} scored")
for name, rows in (("fitted", fit), ("held-out episodes", held)):
    err = (pred[rows] - Y[rows]).pow(2).mean(0).sqrt()
    r2 = 1 - err ** 2 / Y[rows].var(0)
    print(f"{name}: right joints 1-3 error {np.round(err.numpy(), 4)} rad, R^2 {np.round(r2.numpy(), 2)}")
