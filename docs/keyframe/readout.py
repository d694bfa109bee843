"""How well a model's keyframe head names the right arm's grasp pose on held-out demonstrations.

For every successful held-out episode, every 10th tick before the right gripper first closes: the head's
prediction of the right arm's joints 1-3 at that grasp against the recorded ones (radians), beside
predicting their mean over the episodes (whose error is the spread the block's position makes).
readout.py MODEL_DIR HELDOUT_DATASET
"""
import sys

import numpy as np
import torch

from wav_core.data.keyframes import gripper_thresholds
from wav_core.data.torch_dataset import SampleSpec, WavDataset
from wav_core.model.files import load_model
from wav_core.training.objectives import _features, batch_context

model, card = load_model(sys.argv[1])
ds = WavDataset(sys.argv[2], SampleSpec.for_model(model.cfg))
norm = card.normalization
lo, hi = np.asarray(norm.state_min), np.asarray(norm.state_max)
pred, true = [], []
for e in ds.data.episodes:
    if not e.success:
        continue
    action = np.asarray(ds._file(e.index)["action"][:])
    closes = np.flatnonzero(action[:, 13] < gripper_thresholds(ds.data.stats["action"])[1])
    if not len(closes):
        continue
    first = sum(x.ticks for x in ds.data.episodes[:e.index])
    samples = [ds[first + t] for t in range(0, int(closes[0]), 10)]
    batch = torch.utils.data.default_collate(samples)
    with torch.no_grad():
        states = _features(model, batch_context(model, batch, None), batch, torch.Generator().manual_seed(0))
        p = model.action.predict_keyframe(states).numpy()
    pred.append((p + 1) / 2 * (hi - lo) + lo)
    true.append(batch["keyframe"].numpy())
pred, true = np.concatenate(pred), np.concatenate(true)
for j in (7, 8, 9):
    err = np.sqrt(np.mean((pred[:, j] - true[:, j]) ** 2))
    spread = true[:, j].std()
    print(f"right joint{j - 6}: head error {err:.4f} rad, spread {spread:.4f} rad, R^2 {1 - err ** 2 / spread ** 2:.2f} "
          f"({len(true)} ticks)")
