"""Does the action expert memorise its training scenes? Its flow loss at fixed noises and flow times
on 256 ticks of the training recordings against 256 of held-out recordings (other seeds), over
all episodes or the successful ones only.

  python docs/readout_probe/heldout_loss.py MODEL_DIR TRAIN_DATASET HELDOUT_DATASET {all,success}
"""
import sys

import numpy as np
import torch
from torch.utils.data import default_collate

from wav_core.data.torch_dataset import SampleSpec, WavDataset
from wav_core.model.files import load_model
from wav_core.training.objectives import action_loss

torch.set_num_threads(2)
model_dir, train_dir, heldout_dir, episodes = sys.argv[1:5]
model, card = load_model(model_dir)
model.eval()
result = {}
for name, path in (("train", train_dir), ("held-out", heldout_dir)):
    ds = WavDataset(path, SampleSpec.for_model(card.config))
    samples = ds.stage_samples("action", episodes)
    idx = np.random.default_rng(0).choice(samples, size=min(256, len(samples)), replace=False)
    losses = []
    with torch.no_grad():
        for b in range(0, len(idx), 32):
            batch = default_collate([ds[int(i)] for i in idx[b:b + 32]])
            loss, _ = action_loss(model, batch, card.normalization, torch.Generator().manual_seed(b))
            losses.append(float(loss))
    result[name] = float(np.mean(losses))
print(f"{model_dir} ({episodes} episodes): action flow loss train {result['train']:.4f}, "
      f"held-out {result['held-out']:.4f}, ratio {result['held-out'] / result['train']:.2f}")
