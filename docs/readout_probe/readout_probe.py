"""Where does the action expert lose the block's position? Ridge probes (wav probe's) of the first
decision's frame latents, of the action expert's readout tokens (`action_readout`) made from them,
and of the readout's values in each expert block, for the shipped drawer model. Fitted on the
first N of 600 fresh seeds (20000-20599) and scored on the last 200, for N = 176 (about the number
of scenes a training set holds) and 400.

  python docs/readout_probe/readout_probe.py MODEL_DIR > readout_probe.txt
"""
import sys

import numpy as np
import torch

from wav_core.eval.probe import probe_samples, ridge_probe
from wav_core.model.files import load_model

torch.set_num_threads(2)
model, card = load_model(sys.argv[1])
model.eval()
cfg = model.cfg
samples = probe_samples("drawer", cfg.views, tuple(cfg.image_size), list(range(20000, 20600)))
feats: dict[str, list[np.ndarray]] = {}
with torch.no_grad():
    for i in range(0, len(samples.seeds), 50):
        f = torch.from_numpy(samples.frames[i:i + 50])
        history = f[:, :, None].expand(-1, -1, cfg.n_history, -1, -1, -1)
        ctx = model.context(history, [card.instruction] * len(f))
        noise = torch.randn(len(f), len(cfg.views), cfg.n_future, *ctx.memory.shape[-3:],
                            generator=torch.Generator().manual_seed(i))
        states = model.world_features(ctx, noise)
        obs = model.action._frame(states)
        readout = model.action._readout(obs)
        feats.setdefault("frame latents", []).append(obs.flatten(1).numpy())
        feats.setdefault("readout tokens", []).append(readout.flatten(1).numpy())
        for b, (_, v) in enumerate(model.action.video_kv(states)):
            feats.setdefault(f"readout values, block {b}", []).append(
                v[:, :, -readout.shape[1]:].permute(0, 2, 1, 3).flatten(1).numpy())
feats = {k: np.concatenate(v) for k, v in feats.items()}
print("target, representation, fitted on N seeds: held-out RMSE (cm) and slope per axis")
for name, xy in samples.targets.items():
    for rep, f in feats.items():
        for n in (176, 400):
            idx = np.r_[0:n, 400:600]
            r = ridge_probe(f[idx], xy[idx], train_frac=n / (n + 200))
            cells = "  ".join(f"{a} {r[a]['rmse'] * 100:5.2f} cm slope {r[a]['slope']:5.2f}" for a in ("x", "y"))
            print(f"{name:20s} {rep:26s} N={n:3d}  {cells}", flush=True)
