"""Run 17: is the drawer learnable from these demonstrations under the robot's control loop, given
perfect perception?

A small network is given the scene as numbers instead of images (the cabinet's position and the
block's position and yaw, as the episode's seed placed them), the joint state and the episode time,
and regresses the demonstrated chunk (16 ticks, relative to the state) on the successful episodes of
a wav dataset. It then drives the simulator through the same ControlLoop, executor, safety filter
and sync protocol as `wav eval`. If it succeeds, the WAV policies' failures come from what they read
off the images; if it does not, from the data or the control loop.

  python docs/privileged/privileged.py fit NET.safetensors DATASET BAGS_DIR [BAGS_DIR ...]
  python docs/privileged/privileged.py eval OUT.json NET.safetensors MODEL FIRST_SEED EPISODES
  python docs/privileged/privileged.py replay OUT.json DATASET MODEL BAGS_DIR SEED [SEED ...]
  python docs/privileged/privileged.py fit-latent NET.safetensors DATASET MODEL
  python docs/privileged/privileged.py eval-latent OUT.json NET.safetensors MODEL FIRST_SEED EPISODES
  SCENE_ERROR_CM=1 SCENE_ERROR_ON=block python docs/privileged/privileged.py eval ...   (a perception 1 cm off)
  LEFT_NET=NET2.safetensors python docs/privileged/privileged.py eval-latent ...   (left arm from NET2)
  COMPOSITE=right python docs/privileged/privileged.py eval-latent ...   (the model's chunk, right arm from NET)

fit-latent / eval-latent: the same network reading the model's frozen tokenizer latents of the
current frame (all views) instead of the scene's numbers: perception without the world module.

replay: the control loop executes a recorded expert episode's commands, chunk by chunk by the sim
clock, on the same seed: what the loop does to a perfect open-loop policy.
"""
import json
import os
import sys
from pathlib import Path

import h5py
import numpy as np
import torch

from wav_core.eval.closed_loop import EvalConfig, PolicySource, run_episode, summarize
from wav_core.parallel import job_results
from wav_core.planning import PlannerConfig
from wav_core.planning.policy import EpisodePolicy, PlanResult
from wav_core.runtime.config import SafetyConfig
from wav_core.sim.env import SimEnv
from wav_core.sim.tasks.base import body_yaw

HORIZON = 16
EVAL = EvalConfig(task="drawer", episodes=1, max_seconds=float(os.environ.get("MAX_SECONDS", 20)), mode="sync")
if os.environ.get("EXPERT_LIMITS"):
    # the limits the scripted expert moves within (firmware joint speed, instant steps) instead of the runtime's
    EVAL.safety = SafetyConfig(max_joint_velocity=3.0, max_joint_acceleration=1000.0, max_gripper_velocity=1.5)


def scene(env: SimEnv, seed: int) -> np.ndarray:
    """Cabinet x, y and block x, y, yaw as `reset(seed)` places them."""
    env.reset(seed)
    cab = env.model.body("cabinet").pos
    block = env.data.body("block").xpos
    return np.array([cab[0], cab[1], block[0], block[1], body_yaw(env.data, "block")], dtype=np.float32)


NO_TIME = os.environ.get("NOTIME") == "1"
"""Ablation: the network is not told the episode time (the input is held at 0)."""
READS = os.environ.get("READS", "latents")
"""`latents`: the frame's tokenizer latents; `readout`: the model's action readout tokens of them."""


SCENE_ERROR_CM = float(os.environ.get("SCENE_ERROR_CM", 0))
"""`eval`: the scene as a perception SCENE_ERROR_CM off would see it: the position of each object named
in SCENE_ERROR_ON (`block`, `cabinet`) moved this far in a direction drawn per episode."""


def scene_error(seed: int) -> np.ndarray:
    err = np.zeros(5, dtype=np.float32)
    rng = np.random.default_rng(seed + 777)
    for name, cols in (("cabinet", [0, 1]), ("block", [2, 3])):
        angle = rng.uniform(0, 2 * np.pi)
        if name in os.environ.get("SCENE_ERROR_ON", "block").split(","):
            err[cols] = SCENE_ERROR_CM / 100 * np.array([np.cos(angle), np.sin(angle)])
    return err


def inputs(state: np.ndarray, scene_params: np.ndarray, t: float) -> np.ndarray:
    return np.concatenate([state, scene_params, [0.0 if NO_TIME else t]]).astype(np.float32)


LIMIT = int(os.environ.get("EPISODES", 0)) or None
"""`fit-latent`: fit on the first EPISODES successful episodes only (how the reach scales with scenes)."""


SHIFT_PX = int(os.environ.get("SHIFT_PX", 0))
SHIFT_COPIES = int(os.environ.get("SHIFT_COPIES", 4))
"""`fit-latent`: SHIFT_COPIES copies of every frame, each view shifted by up to SHIFT_PX pixels (edge
pixels repeated), drawn per frame and view: random-shift augmentation against too few scenes."""


def shifted(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """[T, V, H, W, 3] -> the same, each (frame, view) cropped from an edge-padded copy at a random offset."""
    s = SHIFT_PX
    T, V, H, W, _ = frames.shape
    pad = np.pad(frames, ((0, 0), (0, 0), (s, s), (s, s), (0, 0)), mode="edge")
    out = np.empty_like(frames)
    dy, dx = rng.integers(0, 2 * s + 1, (2, T, V))
    for k in range(T):
        for v in range(V):
            out[k, v] = pad[k, v, dy[k, v]:dy[k, v] + H, dx[k, v]:dx[k, v] + W]
    return out


def latent_samples(dataset: str, model: str):
    """(inputs, chunk - state) over the successful episodes, the inputs being the frame's tokenizer
    latents (from the dataset's frame cache), the state and the time."""
    policy = PolicySource(model).load(PlannerConfig(K=0, M=1, N=1, S=5))
    size = "x".join(str(v) for v in policy.cfg.image_size)
    frames = np.load(Path(dataset, "cache", f"frames_{size}.npy"), mmap_mode="r")
    layout = json.load(open(Path(dataset, "cache", f"frames_{size}.json")))["episodes"]
    xs, ys, episodes, rng = [], [], 0, np.random.default_rng(0)
    for ep in layout:
        if episodes == LIMIT:
            break
        with h5py.File(Path(dataset, "episodes", ep["file"]), "r") as f:
            if not bool(f.attrs["success"]):
                continue
            state, action, t = f["state"][:], f["action"][:], f["time"][:] - f["time"][0]
        clip = np.asarray(frames[ep["offset"]:ep["offset"] + ep["ticks"]])
        padded = np.concatenate([action, np.repeat(action[-1:], HORIZON, 0)])
        for copy in range(SHIFT_COPIES if SHIFT_PX else 1):
            lat = frame_latents(policy, shifted(clip, rng) if SHIFT_PX else clip)
            for i in range(len(state)):
                xs.append(np.concatenate([lat[i], inputs(state[i], np.zeros(0), t[i])]))
                ys.append((padded[i:i + HORIZON] - state[i][None]).ravel())
        episodes += 1
    return np.stack(xs).astype(np.float32), np.stack(ys).astype(np.float32), episodes


def frame_latents(policy, frames: np.ndarray) -> np.ndarray:
    """[T, V, H, W, 3] uint8 -> [T, V * C * h * w] tokenizer latents (READS=readout: [T, R * D], the
    action expert's readout of them, tokens ordered as the world's patches)."""
    with torch.no_grad():
        img = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 1, 4, 2, 3).float() / 255.0
        lat = policy.model.tokenizer.latents(img)
        if READS == "readout":
            obs = lat.permute(0, 1, 3, 4, 2).reshape(len(frames), -1, lat.shape[2])
            return policy.model.action._readout(obs).reshape(len(frames), -1).numpy()
        return lat.reshape(len(frames), -1).numpy()


def samples(dataset: str, bag_dirs: list[str]):
    """(inputs, chunk - state) over every tick of the dataset's successful episodes."""
    seeds = {}
    for d in bag_dirs:
        for e in json.load(open(Path(d) / "summary.json"))["per_episode"]:
            seeds[str(Path(d) / e["bag"])] = e["seed"]
    env = SimEnv("drawer", render=False)
    xs, ys, episodes = [], [], 0
    for path in sorted(Path(dataset, "episodes").glob("*.h5")):
        with h5py.File(path, "r") as f:
            if not bool(f.attrs["success"]):
                continue
            source = str(f.attrs["source"])
            if source not in seeds:
                raise ValueError(f"{path}: source {source!r} is in none of the bag folders' summary.json")
            params = scene(env, seeds[source])
            state, action, t = f["state"][:], f["action"][:], f["time"][:] - f["time"][0]
        n = len(state)
        padded = np.concatenate([action, np.repeat(action[-1:], HORIZON, 0)])
        for i in range(n):
            xs.append(inputs(state[i], params, t[i]))
            ys.append((padded[i:i + HORIZON] - state[i][None]).ravel())
        episodes += 1
    env.close()
    return np.stack(xs), np.stack(ys).astype(np.float32), episodes


class Net(torch.nn.Module):
    def __init__(self, n_in: int, n_out: int, hidden: int = 512):
        super().__init__()
        for name, n in (("x_mean", n_in), ("x_std", n_in), ("y_mean", n_out), ("y_std", n_out)):
            self.register_buffer(name, torch.zeros(n))
        self.net = torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, hidden),
                                       torch.nn.GELU(), torch.nn.Linear(hidden, hidden), torch.nn.GELU(),
                                       torch.nn.Linear(hidden, n_out))

    def forward(self, x):
        """Normalised output; `chunk` gives robot units."""
        return self.net((x - self.x_mean) / self.x_std)

    def chunk(self, x):
        return self.forward(x) * self.y_std + self.y_mean


def fit_latent(path, dataset, model):
    torch.set_num_threads(2)
    _fit(path, *latent_samples(dataset, model))


def fit(path, dataset, *bag_dirs):
    _fit(path, *samples(dataset, list(bag_dirs)))


def _fit(path, x, y, episodes):
    torch.manual_seed(0)
    torch.set_num_threads(2)
    net = Net(x.shape[1], y.shape[1])
    stats = (("x_mean", x.mean(0)), ("x_std", x.std(0) + 1e-6), ("y_mean", y.mean(0)), ("y_std", y.std(0) + 1e-6))
    if os.environ.get("RAW") == "1":  # ablation: inputs and targets as they come, one scale for all
        stats = (("x_mean", np.zeros(x.shape[1])), ("x_std", np.ones(x.shape[1])),
                 ("y_mean", np.zeros(y.shape[1])), ("y_std", np.full(y.shape[1], y.std())))
    for name, v in stats:
        getattr(net, name).copy_(torch.from_numpy(np.asarray(v, dtype=np.float32)))
    xt, yt = torch.from_numpy(x), (torch.from_numpy(y) - net.y_mean) / net.y_std
    epochs = int(os.environ.get("EPOCHS", 60))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    log = []
    for epoch in range(epochs):
        perm, total = torch.randperm(len(xt)), 0.0
        for i in range(0, len(xt), 256):
            idx = perm[i:i + 256]
            loss = torch.nn.functional.mse_loss(net(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        log.append(round(total / len(xt), 5))
    from safetensors.torch import save_file

    save_file(net.state_dict(), path)
    with torch.no_grad():
        err = (net.chunk(xt) - torch.from_numpy(y)).abs().reshape(len(y), HORIZON, 14)
    arm = [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12]
    print(json.dumps({"episodes": episodes, "ticks": len(x), "loss_every_10_epochs": log[::10] + [log[-1]],
                      "train_arm_mae_rad": round(float(err[:, :, arm].mean()), 4),
                      "train_arm_mae_first_step_rad": round(float(err[:, 0, arm].mean()), 4)}, indent=1))


def load_net(path):
    from safetensors.torch import load_file

    state = load_file(path)
    net = Net(state["x_mean"].shape[0], state["y_mean"].shape[0])
    net.load_state_dict(state)
    return net.eval()


class ScenePolicy(EpisodePolicy):
    """Plans a chunk from the scene's numbers, the state and the sim time; the images are ignored."""

    def __init__(self, policy, env: SimEnv, net: Net):
        super().__init__(policy)
        self.env, self.net = env, net
        self.scene_env = SimEnv("drawer", render=False)
        self.params: np.ndarray | None = None

    def reset(self) -> None:
        super().reset()
        self.params = None

    def plan(self, images, state, instruction=None, *, seed=None, warm=False) -> PlanResult:
        if self.params is None:
            self.params = scene(self.scene_env, self.env.seed) + scene_error(self.env.seed)
        with torch.no_grad():
            delta = self.net.chunk(torch.from_numpy(inputs(state, self.params, self.env.time))[None])[0].numpy()
        actions = delta.reshape(HORIZON, 14) + state[None]
        return PlanResult(actions=actions.astype(np.float32), values=np.zeros((HORIZON, 17), np.float32), snr=0.0)


class LatentPolicy(EpisodePolicy):
    """Plans a chunk from the newest frame's tokenizer latents, the state and the sim time."""

    def __init__(self, policy, env: SimEnv, net: Net):
        super().__init__(policy)
        self.env, self.net = env, net

    def plan(self, images, state, instruction=None, *, seed=None, warm=False) -> PlanResult:
        lat = frame_latents(self.policy, np.asarray(images)[:, -1][None])[0]
        x = np.concatenate([lat, inputs(state, np.zeros(0), self.env.time)]).astype(np.float32)
        with torch.no_grad():
            delta = self.net.chunk(torch.from_numpy(x)[None])[0].numpy()
        actions = delta.reshape(HORIZON, 14) + state[None]
        return PlanResult(actions=actions.astype(np.float32), values=np.zeros((HORIZON, 17), np.float32), snr=0.0)


ARMS = {"right": list(range(7, 14)), "left": list(range(0, 7))}


class TwoNetPolicy(LatentPolicy):
    """Two frame networks: the left arm's columns (joints 0-6) from LEFT_NET, the right arm's from NET."""

    def __init__(self, policy, env: SimEnv, net: Net):
        super().__init__(policy, env, net)
        self.left = load_net(os.environ["LEFT_NET"])

    def plan(self, images, state, instruction=None, *, seed=None, warm=False) -> PlanResult:
        res = super().plan(images, state, instruction, seed=seed, warm=warm)
        right_net, self.net = self.net, self.left
        try:
            left = super().plan(images, state, instruction, seed=seed, warm=warm)
        finally:
            self.net = right_net
        res.actions[:, ARMS["left"]] = left.actions[:, ARMS["left"]]
        return res


class CompositePolicy(LatentPolicy):
    """The WAV model plans the chunk (K = 0, action noise off) and the frame network's chunk replaces
    the columns of the arms named in COMPOSITE (`right`: joints 7-13, gripper included): whether the
    model's other arm and the network's reach together complete the task."""

    def plan(self, images, state, instruction=None, *, seed=None, warm=False) -> PlanResult:
        res = EpisodePolicy.plan(self, images, state, instruction, seed=seed, warm=warm)
        net = super().plan(images, state, instruction, seed=seed, warm=warm)
        cols = [j for arm in os.environ["COMPOSITE"].split(",") for j in ARMS[arm]]
        actions = np.array(res.actions, dtype=np.float32)
        actions[:, cols] = net.actions[:, cols]
        return PlanResult(actions=actions, values=res.values, snr=res.snr)


class ReplayPolicy(EpisodePolicy):
    """The recorded commands from the tick the sim clock has reached."""

    def __init__(self, policy, env: SimEnv, actions: np.ndarray):
        super().__init__(policy)
        self.env, self.actions = env, np.concatenate([actions, np.repeat(actions[-1:], HORIZON, 0)])

    def plan(self, images, state, instruction=None, *, seed=None, warm=False) -> PlanResult:
        i = min(int(round(self.env.time * 20.0)), len(self.actions) - HORIZON)
        return PlanResult(actions=self.actions[i:i + HORIZON].astype(np.float32),
                          values=np.zeros((HORIZON, 17), np.float32), snr=0.0)


_W = {}


def _init(model, net_path):
    from wav_core.config.robot import RobotConfig

    torch.set_num_threads(1)
    # COMPOSITE: the WAV model plans as `wav eval --K 0 --M 8 --N 2 --S 5 --action-temperature 0` does
    planner = PlannerConfig(K=0, M=8, N=2, S=5, action_temperature=0.0) if os.environ.get("COMPOSITE") else \
        PlannerConfig(K=0, M=1, N=1, S=5)
    _W["policy"] = PolicySource(model).load(planner)
    _W["env"] = SimEnv("drawer", RobotConfig())
    _W["net"] = load_net(net_path) if net_path else None


def _episode(seed):
    if "recorded" in _W:
        policy = ReplayPolicy(_W["policy"], _W["env"], _W["recorded"][seed])
    elif _W.get("latent") and os.environ.get("LEFT_NET"):
        policy = TwoNetPolicy(_W["policy"], _W["env"], _W["net"])
    elif _W.get("latent") and os.environ.get("COMPOSITE"):
        policy = CompositePolicy(_W["policy"], _W["env"], _W["net"])
    elif _W.get("latent"):
        policy = LatentPolicy(_W["policy"], _W["env"], _W["net"])
    else:
        policy = ScenePolicy(_W["policy"], _W["env"], _W["net"])
    return seed, run_episode(policy, _W["env"], seed, EVAL)


def _init_latent(model, net_path):
    _init(model, net_path)
    _W["latent"] = True


def evaluate_latent(out, net_path, model, first, episodes):
    _run(out, list(range(int(first), int(first) + int(episodes))), _init_latent, (model, net_path))


def _init_replay(model, recorded):
    _init(model, None)
    _W["recorded"] = recorded


def evaluate(out, net_path, model, first, episodes):
    _run(out, list(range(int(first), int(first) + int(episodes))), _init, (model, net_path))


def replay(out, dataset, model, bag_dir, *seeds):
    by_bag = {str(Path(bag_dir) / e["bag"]): e["seed"] for e in json.load(open(Path(bag_dir) / "summary.json"))["per_episode"]}
    recorded = {}
    for path in sorted(Path(dataset, "episodes").glob("*.h5")):
        with h5py.File(path, "r") as f:
            seed = by_bag.get(str(f.attrs["source"]))
            if seed is not None and str(seed) in seeds:
                recorded[seed] = f["action"][:]
    missing = [s for s in seeds if int(s) not in recorded]
    if missing:
        raise ValueError(f"{dataset}: no episode recorded from {bag_dir} with seeds {missing}")
    _run(out, sorted(recorded), _init_replay, (model, recorded))


def _run(out, seeds, init, initargs):
    results = []
    with job_results(_episode, seeds, 2, ordered=False, initializer=init, initargs=initargs) as jobs:
        for seed, res in jobs:
            print(f"seed {seed}: success {res.success} subgoals {res.subgoals}", file=sys.stderr, flush=True)
            results.append(res)
    results.sort(key=lambda r: r.seed)
    s = summarize(results, EVAL, PlannerConfig(K=0, M=1, N=1, S=5))
    json.dump(s, open(out, "w"), indent=1)
    print(json.dumps({k: s[k] for k in ("success_rate", "subgoal_rates", "closest_median_m", "stopped_episodes")
                      if k in s}, indent=1))


if __name__ == "__main__":
    {"fit": fit, "eval": evaluate, "replay": replay, "fit-latent": fit_latent, "eval-latent": evaluate_latent}[sys.argv[1]](*sys.argv[2:])
