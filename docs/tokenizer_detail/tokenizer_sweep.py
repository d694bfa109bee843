"""Does a tokenizer keep the drawer task's block? Trains tokenizers of given channels and
detail_weight on frames of the simulated rig (random scenes, arms pushed off HOME) and reports, on
frames of other seeds, the error overall, on the block's pixels, and how many block pixels come back
red. Run from the repository root:

    python docs/tokenizer_detail/tokenizer_sweep.py NAME CHANNELS DETAIL_WEIGHT STEPS   # e.g. C 16,32,32 4 2000
    SIZE=64 LC=8 python docs/tokenizer_detail/tokenizer_sweep.py S0 32,64,96 0 1500     # the sim preset

Training scenes: seeds 20000-20399; test scenes: 90000-90059 (two arm poses each, three cameras).
"""
import os
import sys
import time

import numpy as np
import torch

from wav_core.model.config import TokenizerConfig
from wav_core.model.tokenizer import VisualTokenizer
from wav_core.robot import piper
from wav_core.sim.env import SimEnv

SIZE, LC = int(os.environ.get("SIZE", 48)), int(os.environ.get("LC", 4))
CAMERAS = ("cam_high", "cam_left_wrist", "cam_right_wrist")


def frames(seeds, rng):
    env, out = SimEnv("drawer", image_size=(SIZE, SIZE)), []
    for s in seeds:
        env.reset(s)
        for _ in range(2):
            env.set_targets(piper.HOME + np.r_[rng.normal(0, .25, 6), 0.03, rng.normal(0, .25, 6), 0.03])
            env.advance(0.6)
            out += [env.observe()["images"][c] for c in CAMERAS]
    return torch.tensor(np.stack(out)).permute(0, 3, 1, 2).float() / 255


def red(x):
    return (x[:, 0] > 0.5) & (x[:, 1] < 0.3) & (x[:, 2] < 0.3)


def main():
    name, channels, weight, steps = sys.argv[1], [int(c) for c in sys.argv[2].split(",")], float(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    train, test = frames(range(20000, 20400), rng), frames(range(90000, 90060), rng)
    torch.manual_seed(0)
    tok = VisualTokenizer(TokenizerConfig(channels=channels, latent_channels=LC, detail_weight=weight))
    opt = torch.optim.AdamW(tok.parameters(), 1e-3)
    started = time.time()
    for _ in range(steps):
        loss, _ = tok.loss(train[torch.randint(len(train), (32,))])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        r = tok.decode(tok.latents(test)).clamp(0, 1)
    m = red(test)
    err = (r - test) ** 2
    print(f"{name} {SIZE}x{SIZE} channels={channels} latent={LC} detail_weight={weight} steps={steps} "
          f"{time.time() - started:.0f}s  mse {float(err.mean()):.4f}  block-pixel mse "
          f"{float(err.permute(0, 2, 3, 1)[m].mean()):.4f}  block pixels reconstructed red {float(red(r)[m].float().mean()):.2f}")


if __name__ == "__main__":
    main()
