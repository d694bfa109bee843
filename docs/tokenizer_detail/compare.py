"""Two models' tokenizers on the frames `wav diagnose` reads from held-out demonstrations: the
tokenizer check (error overall and on the most detailed pixels), the share of the block's (red)
pixels that come back red, and a picture (rows: frame, first model, second model). Run from the
repository root:

    python docs/tokenizer_detail/compare.py BEFORE_MODEL AFTER_MODEL HELDOUT_DATASET OUT_DIR
"""
import json
import sys
from pathlib import Path

import imageio.v2 as iio
import numpy as np
import torch

from wav_core.eval.diagnose import dataset_observations
from wav_core.eval.tokenizer_check import tokenizer_check
from wav_core.planning import PlannerConfig, WAVPolicy


def red(x):
    return (x[:, 0] > 0.5) & (x[:, 1] < 0.3) & (x[:, 2] < 0.3)


def main():
    before, after, data, out = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
    torch.set_num_threads(1)
    policies = {"before": WAVPolicy.load(before, PlannerConfig(K=0)), "after": WAVPolicy.load(after, PlannerConfig(K=0))}
    frames = [o.images for o in dataset_observations(policies["before"], data, 8, 4)]
    x = torch.from_numpy(np.concatenate([f.reshape(-1, *f.shape[-3:]) for f in frames])).permute(0, 3, 1, 2).float() / 255
    block = red(x)
    result, recons = {"data": data, "block_pixels": int(block.sum())}, {}
    for name, policy in policies.items():
        with torch.no_grad():
            recons[name] = policy.model.tokenizer.decode(policy.model.tokenizer.latents(x)).clamp(0, 1)
        result[name] = {"model": before if name == "before" else after,
                        **tokenizer_check(policy.model, frames),
                        "block_pixels_red": float(red(recons[name])[block].float().mean())}
    pick = [int(i) for i in torch.nonzero(block.flatten(1).sum(1) >= 4).flatten()[:6]]
    rows = [torch.cat([t[i] for i in pick], dim=2) for t in (x, recons["before"], recons["after"])]
    img = (torch.cat(rows, dim=1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    out.mkdir(parents=True, exist_ok=True)
    iio.imwrite(out / "reconstructions.png", np.kron(img, np.ones((4, 4, 1), dtype=np.uint8)))
    (out / "compare.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
