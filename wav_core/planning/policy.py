"""The public entry point for planning: validates raw observations, normalises, plans, and returns
the action chunk in robot units."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..model.files import ModelCard, load_model
from ..model.wav import WAVModel
from .backend.base import Backend
from .config import PlannerConfig
from .noise import PlanNoise
from .planner import Gaussians, LatentPlanner


@dataclass
class PlanResult:
    actions: np.ndarray
    """[H, 14] absolute joint targets in robot units (radians, gripper opening in metres)."""
    values: np.ndarray
    """[H, C] predicted value chunk (reward-to-go per channel; last channel = weighted total)."""
    snr: float
    """SNR of the chosen candidate's total value (normalised space)."""
    iteration_best_snr: list[float] = field(default_factory=list)
    iteration_mean_snr: list[float] = field(default_factory=list)
    iterations: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    """The chosen candidate's score (PlannerConfig.score); iteration_* lists hold the same score."""


class WAVPolicy:
    """The one entry point for running the model: `backend` names what runs the networks
    ("torch", "torch-cudagraph", "torch-compile", "onnxruntime", "tensorrt"); an unavailable one falls back to
    "torch" with a warning that says why. `backend_options` go to `make_backend` (onnx_dir, ...)."""

    def __init__(self, model: WAVModel, card: ModelCard, planner: PlannerConfig | None = None,
                 backend: str = "torch", directory: str | Path | None = None, **backend_options):
        self.model = model.eval()
        self.card = card
        self.cfg = model.cfg
        self.device = next(model.parameters()).device
        self.directory = None if directory is None else Path(directory)
        """The model directory this policy was loaded from (exports are cached under it)."""
        self._backend_name = backend
        self._backend_options = backend_options
        self.set_planner(planner or PlannerConfig())
        self._last: Gaussians | None = None

    @classmethod
    def load(cls, directory: str | Path, planner: PlannerConfig | None = None, device: str = "cpu",
             backend: str = "torch", **backend_options) -> "WAVPolicy":
        model, card = load_model(directory, device)
        return cls(model, card, planner, backend=backend, directory=directory, **backend_options)

    def set_planner(self, cfg: PlannerConfig) -> None:
        """New planner settings; the backend is rebuilt for them (exported graphs have fixed sizes)."""
        from .backend import make_backend

        cfg.validate()
        backend = make_backend(self._backend_name, self, cfg, **self._backend_options)
        self.planner = LatentPlanner(self.model, self.card.normalization, cfg, backend)

    def set_backend(self, name: str, **options) -> None:
        """Switch what runs the networks (see `make_backend` for names and options); on an error the
        policy keeps its current backend."""
        previous = self._backend_name, self._backend_options
        self._backend_name, self._backend_options = name, options
        try:
            self.set_planner(self.planner.cfg)
        except Exception:
            self._backend_name, self._backend_options = previous
            raise

    def reset(self) -> None:
        """Forget the previous plan (a new episode): the next `warm` plan starts from N(0, I)."""
        self._last = None

    @property
    def last_gaussians(self) -> Gaussians | None:
        """The final video/value noise distributions of the previous plan (what `warm` starts from)."""
        return self._last

    @property
    def backend(self) -> Backend:
        """The backend actually in use (after any fallback)."""
        return self.planner.backend

    @property
    def image_shape(self) -> tuple[int, ...]:
        h, w = self.cfg.image_size
        return (len(self.cfg.views), self.cfg.n_history, h, w, 3)

    def _check(self, images, state, instruction) -> None:
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.shape != self.image_shape:
            got = f"{getattr(images, 'dtype', type(images).__name__)} {getattr(images, 'shape', '')}"
            raise ValueError(f"images: got {got}, expected uint8 array of shape {self.image_shape} "
                             f"[views {self.cfg.views}, history, H, W, RGB]")
        state = np.asarray(state)
        if state.shape != (self.cfg.state_dim,):
            raise ValueError(f"state: got shape {state.shape}, expected ({self.cfg.state_dim},) joint values "
                             f"in the order {self.card.joints}")
        if not np.all(np.isfinite(state)):
            raise ValueError(f"state: contains NaN or inf at indices {np.flatnonzero(~np.isfinite(state)).tolist()}")
        if not isinstance(instruction, str):
            raise ValueError(f"instruction: got {type(instruction).__name__}, expected a string")

    def sample_noise(self, seed: int | None = None, generator: torch.Generator | None = None) -> PlanNoise:
        """All draws of one plan: from `generator`, else seeded by `seed`, else freshly random."""
        if generator is None:
            generator = torch.Generator(device=self.device)
            if seed is None:
                generator.seed()
            else:
                generator.manual_seed(seed)
        return PlanNoise.sample(self.cfg, self.planner.cfg, generator, self.device)

    def _inputs(self, images: np.ndarray, state: np.ndarray, instruction: str | None
                ) -> tuple[torch.Tensor, torch.Tensor, str]:
        """One observation checked and on the device: history [V, F, 3, H, W] in [0, 1], the
        normalised state [S], the instruction (None: the card's)."""
        instruction = self.card.instruction if instruction is None else instruction
        self._check(images, state, instruction)
        hist = torch.from_numpy(np.ascontiguousarray(images)).to(self.device).permute(0, 1, 4, 2, 3).float() / 255.0
        state_t = self.card.normalization.state(torch.as_tensor(np.asarray(state, dtype=np.float32), device=self.device))
        return hist, state_t, instruction

    def _warm_start(self, last: Gaussians | None, warm: bool) -> Gaussians | None:
        if warm and last is not None and self.planner.cfg.warm_start > 0:
            return last.blend_toward_standard(self.planner.cfg.warm_start)
        return None

    def _result(self, out, state: np.ndarray) -> PlanResult:
        """`state`: the observation's state in robot units (a delta model's chunk is relative to it)."""
        state_t = torch.as_tensor(np.asarray(state, dtype=np.float32), device=out.actions.device)
        actions = self.card.normalization.decode_actions(out.actions, state_t, self.cfg.action_space)
        score = out.chosen_score if out.chosen_score is not None else out.chosen_snr
        host = self._to_host([actions, out.values, out.chosen_snr, score, *out.best_snr, *out.mean_snr])
        actions, values, chosen_snr, score = host[:4]
        k = len(out.best_snr)
        return PlanResult(
            actions=actions.astype(np.float64), values=values, snr=float(chosen_snr),
            iteration_best_snr=[float(x) for x in host[4:4 + k]], iteration_mean_snr=[float(x) for x in host[4 + k:]],
            iterations=out.iterations, timings_ms=out.timings_ms, score=float(score),
        )

    def _to_host(self, tensors: list[torch.Tensor]) -> list[np.ndarray]:
        """The plan's results in one device-to-host copy (each copy waits for the device), into pinned
        memory kept between plans on a GPU."""
        flat = torch.cat([t.detach().reshape(-1).float() for t in tensors])
        if flat.is_cuda:
            pinned = self.__dict__.setdefault("_pinned", {})
            buf = pinned.get(flat.numel())
            if buf is None:
                buf = pinned[flat.numel()] = torch.empty(flat.numel(), dtype=flat.dtype, pin_memory=True)
            arr = buf.copy_(flat).numpy().copy()  # the buffer is the next plan's
        else:
            arr = flat.numpy()
        out, at = [], 0
        for t in tensors:
            out.append(arr[at:at + t.numel()].reshape(t.shape))
            at += t.numel()
        return out

    @torch.no_grad()
    def plan(self, images: np.ndarray, state: np.ndarray, instruction: str | None = None, *,
             seed: int | None = None, noise: PlanNoise | None = None, warm: bool = False) -> PlanResult:
        """images [V, n_history, H, W, 3] uint8 at the model resolution (oldest frame first);
        state [14] in robot units; `seed` or `noise` fixes the draws (neither: fresh random draws); `warm` starts from the last
        plan's Gaussians blended toward N(0, I) by `warm_start`."""
        started = time.perf_counter()
        hist, state_t, instruction = self._inputs(images, state, instruction)
        ctx = self.planner.backend.context(hist[None], [instruction])
        noise = noise or self.sample_noise(seed)
        out = self.planner.plan(ctx, state_t[None], noise, self._warm_start(self._last, warm), started=started)
        self._last = out.gaussians
        return self._result(out, state)

    @torch.no_grad()
    def plan_batch(self, observations: list[tuple[np.ndarray, np.ndarray, str | None]], seeds: list[int | None],
                   last: list[Gaussians | None] | None = None, warm: bool = False,
                   noises: list[PlanNoise] | None = None) -> list[tuple[PlanResult, Gaussians]]:
        """Several observations (images, state, instruction; as for `plan`) planned in one call: plan b
        draws its noise from seeds[b] (or takes noises[b]) and, with `warm`, starts from last[b] (its own
        previous plan's final Gaussians) blended as in `plan`. Returns each plan's result and final Gaussians, the
        warm-start memory of its next plan; this policy's own memory (`last_gaussians`) is untouched.
        Plan b equals `plan(*observations[b], seed=seeds[b])` up to float round-off (see
        LatentPlanner.plan_batch)."""
        started = time.perf_counter()
        b = len(observations)
        last = [None] * b if last is None else list(last)
        if b < 1 or len(seeds) != b or len(last) != b:
            raise ValueError(f"plan_batch: got {b} observations, {len(seeds)} seeds and {len(last)} previous plans, "
                             "expected one of each per plan (at least one plan)")
        inputs = [self._inputs(*obs) for obs in observations]
        ctx = self.planner.backend.context(torch.stack([h for h, _, _ in inputs]), [i for _, _, i in inputs])
        state_t = torch.stack([s for _, s, _ in inputs])
        if noises is None:
            noises = [self.sample_noise(seed) for seed in seeds]
        elif len(noises) != b:
            raise ValueError(f"plan_batch: got {len(noises)} noises for {b} observations, expected one per plan")
        outs = self.planner.plan_batch(ctx, state_t, noises, [self._warm_start(g, warm) for g in last],
                                       started=started)
        return [(self._result(out, obs[1]), out.gaussians) for out, obs in zip(outs, observations)]


class EpisodePolicy:
    """One episode's handle on a shared WAVPolicy: the same model and planner with its own warm-start
    memory, so episodes run side by side (and planned together by `WAVPolicy.plan_batch`) each
    behave as if they had the policy to themselves. It plans like the policy (`plan`, `reset`)."""

    def __init__(self, policy: WAVPolicy):
        self.policy = policy
        self.last: Gaussians | None = None

    @property
    def card(self) -> ModelCard:
        return self.policy.card

    @property
    def cfg(self):
        return self.policy.cfg

    @property
    def image_shape(self) -> tuple[int, ...]:
        return self.policy.image_shape

    def reset(self) -> None:
        """A new episode: the next warm plan starts from N(0, I)."""
        self.last = None

    def plan(self, images: np.ndarray, state: np.ndarray, instruction: str | None = None, *,
             seed: int | None = None, warm: bool = False) -> PlanResult:
        res, self.last = self.policy.plan_batch([(images, state, instruction)], [seed], [self.last], warm)[0]
        return res


def random_policy(preset_name: str = "tiny", planner: PlannerConfig | None = None, seed: int = 0,
                  device: str = "cpu", backend: str = "torch", model_overrides: dict | None = None,
                  **backend_options) -> WAVPolicy:
    """A randomly initialised policy of a preset (tests and benchmarks); `model_overrides` replace
    top-level ModelConfig fields (e.g. {"conditioning": "future"})."""
    import dataclasses

    from ..model.presets import preset

    torch.manual_seed(seed)
    cfg = dataclasses.replace(preset(preset_name), **(model_overrides or {}))
    cfg.validate()
    model = WAVModel(cfg)
    with torch.no_grad():
        # Output heads start at zero for training; give them weights so every part shapes the plan.
        for p in model.parameters():
            if not p.any():
                p.normal_(0.0, 0.05)
    model = model.to(device)
    return WAVPolicy(model, ModelCard(config=cfg, cameras=list(cfg.views)), planner, backend=backend, **backend_options)


__all__ = ["EpisodePolicy", "PlanResult", "WAVPolicy", "random_policy"]
