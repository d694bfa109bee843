"""`action_prior`: the action expert's flow generates the residual around a dense regression of the
chunk from the frame's latents, the regression learns only from successful episodes, and every
plan adds the two."""

import dataclasses

import pytest
import torch

from wav_core.config.loader import ConfigError
from wav_core.data.torch_dataset import SampleSpec
from wav_core.model.files import load_model, save_model
from wav_core.model.normalize import Normalizer
from wav_core.model.presets import tiny
from wav_core.planning import random_policy
from wav_core.planning.backend.base import Backend
from wav_core.planning.config import PlannerConfig
from wav_core.training.objectives import action_loss, batch_context, set_trainable, train_step
from wav_core.training.config import StageConfig

from .test_conditioning_objectives import model_and_batch

PRIOR = dict(action_reads="observation", action_prior=True)


def _metrics(model, batch):
    loss, metrics = action_loss(model, batch, Normalizer(), torch.Generator().manual_seed(7))
    return float(loss.detach()), {k: float(v) for k, v in metrics.items()}


def test_the_prior_learns_from_successes_and_the_flow_from_what_it_leaves():
    model, batch = model_and_batch("future", **PRIOR)
    batch["success"] = torch.tensor([True, False])
    loss, m = _metrics(model, batch)
    assert loss == pytest.approx(m["action"] + m["prior"], rel=1e-6)
    # the failed episode's chunk does not reach the prior's loss, the successful one's does
    failed = batch["actions"].clone()
    failed[1] += 0.3
    assert _metrics(model, dict(batch, actions=failed))[1]["prior"] == pytest.approx(m["prior"], rel=1e-6)
    moved = batch["actions"].clone()
    moved[0] += 0.3
    assert _metrics(model, dict(batch, actions=moved))[1]["prior"] != pytest.approx(m["prior"], rel=1e-3)
    # the flow's target is the chunk minus the prior's: shifting both by the same amount leaves it unchanged
    norm, space = Normalizer(), model.cfg.action_space
    moved = batch["actions"] + 0.1
    shift = norm.encode_actions(moved, batch["state"], space) - norm.encode_actions(batch["actions"], batch["state"], space)
    with torch.no_grad():
        model.action.prior[-1].bias.add_(shift[0].flatten())
    shifted = _metrics(model, dict(batch, actions=moved))
    assert shifted[1]["action"] == pytest.approx(m["action"], rel=1e-5)


def test_the_action_stage_fits_the_prior():
    model, batch = model_and_batch("future", **PRIOR)
    batch["success"] = torch.tensor([True, True])
    opt = torch.optim.AdamW(set_trainable(model, "action"), lr=3e-3)
    first = _metrics(model, batch)[1]["prior"]
    for _ in range(30):
        train_step(model, batch, "action", opt, Normalizer(), StageConfig(grad_clip=1.0),
                   generator=torch.Generator().manual_seed(0))
    assert _metrics(model, batch)[1]["prior"] < 0.2 * first


def test_a_plan_decodes_the_flow_plus_the_prior():
    model, batch = model_and_batch("future", **PRIOR)
    backend = Backend(model, PlannerConfig(K=0, M=2, N=2, S=3))
    ctx = model.context(batch["history"][:1], batch["instruction"][:1])
    g = torch.Generator().manual_seed(1)
    cfg = model.cfg
    z_vid = torch.randn(1, len(cfg.views), cfg.n_future, cfg.tokenizer.latent_channels, *cfg.latent_hw, generator=g)
    z_val = torch.randn(1, cfg.action_horizon, cfg.value_channels, generator=g)
    noise = torch.randn(1, cfg.action_horizon, cfg.action_dim, generator=g)
    state = torch.zeros(1, cfg.state_dim)
    with torch.no_grad():
        states = backend.features(ctx, z_vid)
        before = backend.actions(states, z_val, state, noise)
        model.action.prior[-1].bias.add_(0.3)
        after = backend.actions(states, z_val, state, noise)
    torch.testing.assert_close(after - before, torch.full_like(before, 0.3), atol=1e-5, rtol=0)


def test_the_prior_needs_the_frame_and_travels_with_the_model_files(tmp_path):
    with pytest.raises(ConfigError, match="action_prior: true needs action_reads: observation"):
        dataclasses.replace(tiny(), action_prior=True).validate()
    with pytest.raises(ConfigError, match="action_prior_weight: got 0"):
        dataclasses.replace(tiny(), action_reads="observation", action_prior=True, action_prior_weight=0.0).validate()
    policy = random_policy("tiny", PlannerConfig(K=0, M=2, N=2, S=3), model_overrides=PRIOR)
    with torch.no_grad():
        policy.model.action.prior[-1].bias.fill_(0.2)
    save_model(tmp_path / "m", policy.model, policy.card)
    model, card = load_model(tmp_path / "m")
    assert card.config.action_prior and model.action.prior is not None
    torch.testing.assert_close(model.action.prior[-1].bias, torch.full_like(model.action.prior[-1].bias, 0.2))


def test_a_prior_over_some_joints_leaves_the_others_to_the_flow(tmp_path):
    model, batch = model_and_batch("future", **PRIOR, action_prior_joints=[1])
    batch["success"] = torch.tensor([True, True])
    with torch.no_grad():
        model.action.prior[-1].bias.fill_(0.5)
    _, m = _metrics(model, batch)
    # a chunk that differs only outside the prior's joints leaves its loss unchanged, and moves the flow's
    other = batch["actions"].clone()
    other[..., 0] += 0.3
    moved = _metrics(model, dict(batch, actions=other))[1]
    assert moved["prior"] == pytest.approx(m["prior"], rel=1e-6) and moved["action"] != pytest.approx(m["action"])
    own = batch["actions"].clone()
    own[..., 1] += 0.3
    assert _metrics(model, dict(batch, actions=own))[1]["prior"] != pytest.approx(m["prior"], rel=1e-3)
    # the chunk a plan adds is the prior's on joint 1 and 0 elsewhere, after a round trip through the files
    policy = random_policy("tiny", PlannerConfig(K=0, M=2, N=2, S=3), model_overrides=dict(PRIOR, action_prior_joints=[1]))
    with torch.no_grad():
        policy.model.action.prior[-1].bias.fill_(0.2)
    save_model(tmp_path / "m", policy.model, policy.card)
    loaded, card = load_model(tmp_path / "m")
    assert card.config.action_prior_joints == [1]
    state = torch.zeros(1, card.config.state_dim)
    states = [torch.zeros(1, card.config.state_tokens, card.config.world.dim)]
    with torch.no_grad():
        chunk = loaded.action.prior_chunk(states, state)
    assert torch.all(chunk[..., 1] != 0) and torch.all(chunk[..., [0] + list(range(2, chunk.shape[-1]))] == 0)
    for joints, match in (([card.config.action_dim], "action_prior_joints: got"), ([1, 1], "distinct")):
        with pytest.raises(ConfigError, match=match):
            dataclasses.replace(card.config, action_prior_joints=joints).validate()
    with pytest.raises(ConfigError, match="needs action_prior: true"):
        dataclasses.replace(card.config, action_prior=False, action_prior_joints=[1]).validate()


GATED = dict(PRIOR, action_prior_joints=[7, 8, 9, 10, 11, 12], action_prior_gate=True)


def test_a_gated_prior_steers_an_arm_only_while_it_approaches_a_grasp(tmp_path):
    model, batch = model_and_batch("future", **GATED)
    batch["success"] = torch.tensor([True, True])
    # the right arm (columns 7-13) approaches its grasp in sample 0, holds what it grasped in sample 1
    batch["approach"] = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    _, m = _metrics(model, batch)
    # the reach is learned where the arm approaches: a chunk moved on a holding arm leaves the prior's loss
    holding = batch["actions"].clone()
    holding[1, :, 7] += 0.3
    assert _metrics(model, dict(batch, actions=holding))[1]["prior"] == pytest.approx(m["prior"], rel=1e-6)
    reaching = batch["actions"].clone()
    reaching[0, :, 7] += 0.3
    assert _metrics(model, dict(batch, actions=reaching))[1]["prior"] != pytest.approx(m["prior"], rel=1e-3)
    # the gate learns the labels, and the loss without them is refused by name
    opt = torch.optim.AdamW(set_trainable(model, "action"), lr=3e-3)
    for _ in range(40):
        train_step(model, batch, "action", opt, Normalizer(), StageConfig(grad_clip=1.0),
                   generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ctx = batch_context(model, batch, torch.Generator().manual_seed(0))
        states = model.world_states(ctx.memory, torch.randn(2, *model.cfg.future_latent_shape), 1.0, ctx)
        _, gate = model.action.prior_outputs(model.action.prior_input(states, Normalizer().state(batch["state"])))
    assert torch.sigmoid(gate[0, 1]) > 0.8 and torch.sigmoid(gate[1, 1]) < 0.2
    with pytest.raises(ValueError, match="no 'approach' labels"):
        _metrics(model, {k: v for k, v in batch.items() if k != "approach"})


def test_a_closed_gate_leaves_the_chunk_to_the_flow(tmp_path):
    policy = random_policy("tiny", PlannerConfig(K=0, M=2, N=2, S=3),
                           model_overrides={**GATED, "action_prior_window": [40, 0]})
    with torch.no_grad():
        policy.model.action.prior[-1].bias.fill_(0.2)
        policy.model.action.prior[-1].bias[-2:] = torch.tensor([20.0, -20.0])  # left "approaches", right not
    save_model(tmp_path / "m", policy.model, policy.card)
    loaded, card = load_model(tmp_path / "m")
    assert card.config.action_prior_gate and card.config.action_prior_window == [40, 0]
    state = torch.zeros(1, card.config.state_dim)
    states = [torch.zeros(1, card.config.state_tokens, card.config.world.dim)]
    with torch.no_grad():
        assert torch.all(loaded.action.prior_chunk(states, state).abs() < 1e-6)  # the right arm's gate is shut
        loaded.action.prior[-1].bias[-1] = 20.0
        opened = loaded.action.prior_chunk(states, state)
    assert torch.all(opened[..., 7:13] != 0) and torch.all(opened[..., [*range(7), 13]] == 0)
    with pytest.raises(ConfigError, match="action_prior_gate: true needs action_prior: true"):
        dataclasses.replace(card.config, action_prior=False, action_prior_joints=[], action_prior_gate=True).validate()
    with pytest.raises(ConfigError, match="needs whole arms of 7 action channels .* got action_dim 13"):
        dataclasses.replace(card.config, action_dim=13).validate()
    with pytest.raises(ConfigError, match="action_prior_window: 40 needs action_prior_gate: true"):
        dataclasses.replace(card.config, action_prior_gate=False, action_prior_window=40).validate()
    with pytest.raises(ConfigError, match="action_prior_window: got -1"):
        dataclasses.replace(card.config, action_prior_window=-1).validate()
    with pytest.raises(ConfigError, match=r"action_prior_window: got \[40\], expected one number or 2 \(one per arm\)"):
        dataclasses.replace(card.config, action_prior_window=[40]).validate()
    with pytest.raises(ConfigError, match=r"action_prior_window: got \[40, -1\], expected ticks >= 0"):
        dataclasses.replace(card.config, action_prior_window=[40, -1]).validate()
    # the window, one for both arms or one per arm, reaches the samples the model trains on
    assert SampleSpec.for_model(dataclasses.replace(card.config, action_prior_window=40)).approach_window == [40, 40]
    assert SampleSpec.for_model(dataclasses.replace(card.config, action_prior_window=[40, 0])).approach_window == [40, 0]


def test_an_arm_the_prior_steers_draws_no_flow_noise():
    planner = PlannerConfig(K=0, M=2, N=2, S=3, action_noise_gated=True)
    policy = random_policy("tiny", planner, model_overrides=GATED)  # the prior steers the right arm only
    cfg = policy.model.cfg
    with torch.no_grad():
        policy.model.action.prior[-1].bias[-2:] = torch.tensor([20.0, 20.0])  # both gates open, the left untrained
    backend = Backend(policy.model, planner)
    states = [torch.randn(1, cfg.state_tokens, cfg.world.dim)]
    state, value = torch.zeros(1, cfg.state_dim), torch.randn(1, *cfg.value_shape)
    noise = torch.randn(1, cfg.action_horizon, cfg.action_dim)
    with torch.no_grad():
        hushed = backend.action_noise(states, state, noise)
        assert torch.all(hushed[..., 7:14].abs() < 1e-6)  # the right arm, gripper included, is hushed
        assert torch.equal(hushed[..., :7], noise[..., :7])  # the left arm keeps its noise
        # the decode starts from the hushed noise, whatever noise the right arm drew
        other = noise.clone()
        other[..., 7:] = torch.randn_like(other[..., 7:])
        torch.testing.assert_close(backend.actions(states, value, state, noise),
                                   backend.actions(states, value, state, other))
        plain = Backend(policy.model, dataclasses.replace(planner, action_noise_gated=False))
        torch.testing.assert_close(backend.actions(states, value, state, noise),
                                   plain.actions(states, value, state, hushed))
    ungated = random_policy("tiny", PlannerConfig(K=0, M=2, N=2, S=3), model_overrides=PRIOR)
    with pytest.raises(ConfigError, match="action_noise_gated: true needs a model with a gated action prior"):
        Backend(ungated.model, planner)
