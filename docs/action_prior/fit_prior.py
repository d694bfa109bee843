"""Give a model an action prior (`action_prior: true`) fitted on its own, and write the model with it.

The prior is the action expert's dense regression of the chunk from the current frame's latents (every
view, flattened) and the state; here it is fitted by squared error in normalised action units on the
dataset's successful episodes, every tick, before the action stage continues the expert on the
residuals (the stage's small batches would give the regression a few passes over the data; a
separate fit gives it tens, as the frame network of docs/privileged had). Every other weight is
copied unchanged, so the decoded chunk starts as the old expert's plus the prior's.

  fit_prior.py MODEL_DIR DATASET OUT_MODEL_DIR [EPOCHS]

JOINTS=7,8,9,10,11,12 fits the prior on those action dimensions alone (`action_prior_joints`, run 40);
FRAME_NORM=1 standardises the frame's latents per feature (`action_frame_norm`: the statistics the
action stage would set, over every frame of the dataset, kept by the model; the expert then reads
them standardised too); GATE=1 gives the prior a gate per arm (`action_prior_gate`, run 42): it fits the
reach on the ticks where the arm approaches its next grasp and learns to tell those ticks apart;
WINDOW=40 keeps those ticks to the last 40 before each grasp (`action_prior_window`, run 44); WINDOW=40,0
keeps the left arm's so and leaves the right arm's whole approach (run 45).
"""
import dataclasses
import os
import sys
import time

import numpy as np
import torch

from wav_core.data.torch_dataset import SampleSpec, WavDataset
from wav_core.model.files import load_model, save_model
from wav_core.model.wav import WAVModel
from wav_core.training.latent_cache import LatentCache

torch.manual_seed(0)
torch.set_num_threads(2)
old, card = load_model(sys.argv[1])
epochs = int(sys.argv[4]) if len(sys.argv) > 4 else 40
joints = [int(j) for j in os.environ.get("JOINTS", "").split(",") if j]
frame_norm = os.environ.get("FRAME_NORM", "0") == "1"
gate = os.environ.get("GATE", "0") == "1"
window = [int(w) for w in os.environ.get("WINDOW", "0").split(",")]
window = window[0] if len(window) == 1 else window
cfg = dataclasses.replace(old.cfg, action_prior=True, action_prior_joints=joints, action_prior_gate=gate,
                          action_prior_window=window,
                          action_frame_norm=old.cfg.action_frame_norm or frame_norm)
cfg.validate()
model = WAVModel(cfg)
missing, unexpected = model.load_state_dict(old.state_dict(), strict=False)
new_norm = cfg.action_frame_norm and not old.cfg.action_frame_norm
assert not unexpected and all(k.startswith("action.prior.") or (new_norm and k.startswith("action.frame_"))
                              for k in missing), (missing, unexpected)
model.eval()
norm = card.normalization
ds = WavDataset(sys.argv[2], SampleSpec.for_model(cfg))
if new_norm:
    model.action.set_frame_norm(*LatentCache.build(model.tokenizer, ds).frame_statistics(model.world))
X, Y, A, first = [], [], [], 0
t0 = time.time()
for e in ds.data.episodes:
    start, first = first, first + e.ticks
    if not e.success:
        continue
    for lo in range(0, e.ticks, 256):
        batch = torch.utils.data.default_collate([ds[start + t] for t in range(lo, min(e.ticks, lo + 256))])
        with torch.no_grad():
            latents = model.tokenizer.latents(batch["history"][:, :, -1:])
            b = latents.shape[0]
            X.append(torch.cat([model.world.frame_tokens(latents[:, :, 0]).reshape(b, -1), norm.state(batch["state"])], 1))
            Y.append(norm.encode_actions(batch["actions"], batch["state"], cfg.action_space))
            A.append(batch["approach"])
X, Y, A = torch.cat(X), torch.cat(Y), torch.cat(A)
if cfg.action_frame_norm:
    n_frame = X.shape[1] - cfg.state_dim
    X[:, :n_frame] = (X[:, :n_frame] - model.action.frame_mean.flatten()) / model.action.frame_std.flatten()
print(f"{len(X)} ticks of successful episodes read in {time.time() - t0:.0f} s; inputs mean {X.mean():.3f} "
      f"std {X.std():.3f}; targets std {Y.std():.3f}")
prior = model.action.prior
opt = torch.optim.AdamW(prior.parameters(), lr=1e-3, weight_decay=1e-4)
steps = epochs * ((len(X) + 255) // 256)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
t0, log = time.time(), []
for epoch in range(epochs):
    perm, total = torch.randperm(len(X)), 0.0
    for i in range(0, len(X), 256):
        idx = perm[i:i + 256]
        chunk, logits = model.action.prior_outputs(X[idx])
        loss = model.action.prior_error(chunk, Y[idx], logits, A[idx]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        total += float(loss.detach()) * len(idx)
    log.append(round(total / len(X), 5))
print(f"{epochs} epochs in {time.time() - t0:.0f} s; loss every 10 epochs {log[::10] + [log[-1]]}")
if gate:
    with torch.no_grad():
        said = torch.sigmoid(model.action.prior_outputs(X)[1]) > 0.5
    print(f"gate agrees with the approach labels on {(said == (A > 0.5)).float().mean(0).tolist()} of ticks per arm; "
          f"labels 1 on {A.mean(0).tolist()}")
save_model(sys.argv[3], model, card)
