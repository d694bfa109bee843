"""Does the decoded chunk depend on the images? Arm error (rad) to the demonstrated chunk with the
true history frames, with frames of another held-out episode at the same phase, and with black
frames. Run from the repository root: python docs/tokenizer_detail/vision_ablation.py MODEL HELDOUT_DATASET EPISODES"""
import sys, numpy as np, torch
from wav_core.planning import PlannerConfig, WAVPolicy
from wav_core.data.torch_dataset import SampleSpec, WavDataset
torch.set_num_threads(1)
pol = WAVPolicy.load(sys.argv[1], PlannerConfig(K=0, M=8, N=2, S=5))
ds = WavDataset(sys.argv[2], SampleSpec.for_model(pol.cfg))
eps = {}
for i, (e, t) in enumerate(ds.index):
    eps.setdefault(e, []).append(i)
E = sorted(eps)[:int(sys.argv[3])]
errs = {"true": [], "swapped": [], "black": []}
rng = np.random.default_rng(0)
for k, e in enumerate(E):
    other = E[(k + 1) % len(E)]
    for frac in np.linspace(0.05, 0.6, 8):
        i = eps[e][int(frac * len(eps[e]))]; j = eps[other][int(frac * len(eps[other]))]
        s, o = ds[i], ds[j]
        img = lambda x: (x["history"].permute(0, 1, 3, 4, 2).numpy() * 255).round().astype(np.uint8)
        truth = s["actions"].numpy() if "actions" in s else s["action"].numpy()
        for name, im in (("true", img(s)), ("swapped", img(o)), ("black", np.zeros_like(img(s)))):
            a = pol.plan(im, s["state"].numpy().astype(np.float64), s["instruction"], seed=100 + k).actions
            arms = np.r_[0:6, 7:13]
            errs[name].append(np.abs(a[:, arms] - truth[: len(a)][:, arms]).mean())
for n, v in errs.items():
    print(f"{sys.argv[1]}: {n:8s} arm MAE {np.mean(v):.4f} rad over {len(v)} ticks")
