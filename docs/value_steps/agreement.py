"""Does a shorter value solve rank futures as the full one does?

On held-out ticks, the model's world imagines M futures from M video noises (the planner's first
iteration, fast features), the value expert denoises N value noises for each with S_ref flow steps
and with fewer, on the same noises; each value chunk is scored as the planner scores it (`mean` of
the normalised total channel) and each future by its best sample, as the video elites are chosen.
Printed per value-step count: the rank correlation of the futures' scores with the full solve's
(median over ticks), how many of the full solve's video elites it keeps, and the mean absolute
score difference.

    python docs/value_steps/agreement.py --model models/sim_drawer --data out/r21/heldout --json agreement.json
"""

import argparse
import json

import numpy as np
import torch

from wav_core.eval.diagnose import spearman
from wav_core.eval.held_out import episode_ticks
from wav_core.planning import PlannerConfig, WAVPolicy
from wav_core.planning.gaussian import elite_count
from wav_core.planning.scoring import score_values


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="held-out dataset directory")
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--N", type=int, default=4)
    ap.add_argument("--S", type=int, default=10, help="the reference solve's steps")
    ap.add_argument("--steps", default="5,3,2,1")
    ap.add_argument("--ticks", type=int, default=4, help="ticks per held-out episode")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json")
    args = ap.parse_args()
    from wav_core.data.torch_dataset import SampleSpec, WavDataset

    torch.set_num_threads(2)
    cfg = PlannerConfig(K=1, M=args.M, N=args.N, S=args.S)
    policy = WAVPolicy.load(args.model, cfg)
    model, backend, mc = policy.model, policy.backend, policy.cfg
    ds = WavDataset(args.data, SampleSpec.for_model(mc))
    gen = torch.Generator().manual_seed(args.seed)
    steps = [int(s) for s in args.steps.split(",")]
    elites = elite_count(cfg.video_elite_frac, args.M)
    rows = {s: {"spearman": [], "elites_kept": [], "abs_diff": []} for s in steps}
    with torch.no_grad():
        for ep, ticks, start in episode_ticks(ds, args.ticks, None):
            for t in ticks:
                sample = ds[start + int(t)]
                ctx = backend.context(sample["history"][None].float(), [sample["instruction"]])
                states = backend.features(ctx, torch.randn(args.M, *mc.future_latent_shape, generator=gen))
                kv = model.value.video_kv(states)
                z = torch.randn(args.M * args.N, *mc.value_shape, generator=gen)

                def futures(n):
                    return score_values(model.solve_value(kv, z, n), cfg.score).view(args.M, args.N).amax(1).numpy()

                ref = futures(args.S)
                top = set(np.argsort(-ref)[:elites])
                for s in steps:
                    got = futures(s)
                    rows[s]["spearman"].append(spearman(ref, got))
                    rows[s]["elites_kept"].append(len(top & set(np.argsort(-got)[:elites])))
                    rows[s]["abs_diff"].append(float(np.abs(got - ref).mean()))
    out = {"model": args.model, "data": args.data, "M": args.M, "N": args.N, "S": args.S, "elites": elites,
           "ticks": len(rows[steps[0]]["spearman"]), "rows": {}}
    print(f"{out['ticks']} held-out ticks, M={args.M} N={args.N}, reference S={args.S}, {elites} video elites")
    print("value steps | futures' rank corr. with S (median, 10th pct) | elites kept (mean) | mean |score diff|")
    for s in steps:
        r = rows[s]
        sp = np.array(r["spearman"])
        row = {"spearman_median": float(np.median(sp)), "spearman_p10": float(np.percentile(sp, 10)),
               "elites_kept_mean": float(np.mean(r["elites_kept"])), "abs_diff_mean": float(np.mean(r["abs_diff"]))}
        out["rows"][s] = row
        print(f"{s:11d} | {row['spearman_median']:.3f}, {row['spearman_p10']:.3f} | "
              f"{row['elites_kept_mean']:.2f} of {elites} | {row['abs_diff_mean']:.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
