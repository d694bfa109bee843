"""What each conditioning trains the experts on: under `future` the value reads the sample's true
future and stage 3 leaves the scorer (world, text, value) exactly as stage 2 fitted it."""

import dataclasses

import pytest
import torch

from wav_core.config.loader import ConfigError
from wav_core.model.normalize import Normalizer
from wav_core.model.presets import tiny
from wav_core.model.wav import WAVModel
from wav_core.training.config import StageConfig, TrainConfig
from wav_core.training.objectives import action_loss, make_optimizer, set_trainable, train_step, value_loss


def model_and_batch(conditioning, seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dataclasses.replace(tiny(), conditioning=conditioning, **kw)
    model = WAVModel(cfg)
    g = torch.Generator().manual_seed(seed)
    h, w = cfg.image_size
    v = len(cfg.views)
    batch = {
        "history": torch.rand(2, v, cfg.n_history, 3, h, w, generator=g),
        "future": torch.rand(2, v, cfg.n_future, 3, h, w, generator=g),
        "instruction": ["open the drawer"] * 2,
        "values": torch.randn(2, cfg.action_horizon, cfg.value_channels, generator=g),
        "actions": torch.rand(2, cfg.action_horizon, cfg.action_dim, generator=g),
        "state": torch.rand(2, cfg.state_dim, generator=g),
    }
    with torch.no_grad():  # a value head that answers, so the loss sees its input
        model.value.out.weight.normal_(0, 0.1)
    return model, batch


def _value_loss(model, batch):
    return float(value_loss(model, batch, Normalizer(), torch.Generator().manual_seed(7))[0].detach())


def test_the_future_value_reads_the_true_future_and_the_paper_value_does_not():
    for conditioning, depends in (("future", True), ("paper", False)):
        model, batch = model_and_batch(conditioning)
        other = dict(batch, future=torch.rand_like(batch["future"]))
        changed = abs(_value_loss(model, batch) - _value_loss(model, other)) > 1e-7
        assert changed == depends, conditioning


def test_stage_three_trains_only_the_action_expert_under_future():
    for conditioning in ("future", "paper"):
        model, batch = model_and_batch(conditioning)
        params = set_trainable(model, "action")
        frozen = {n: p.detach().clone() for n, p in model.named_parameters()
                  if n.startswith(("world.", "value.", "text."))}
        opt = torch.optim.AdamW(params, lr=1e-2)
        train_step(model, batch, "action", opt, Normalizer(), StageConfig(grad_clip=1.0),
                   generator=torch.Generator().manual_seed(0))
        moved = [n for n, p in model.named_parameters() if n in frozen and not torch.equal(p, frozen[n])]
        if conditioning == "future":
            assert moved == []
            assert all(n.startswith("action.") for n, p in model.named_parameters() if p.requires_grad)
        else:
            assert any(n.startswith("world.") for n in moved)


def test_an_action_expert_reading_the_total_is_trained_on_the_total_channel_alone():
    """`action_value: total`: the true value chunk's other channels do not reach the action loss,
    its total does; with the whole chunk (`chunk`) both do."""
    for action_value, others_reach in (("total", False), ("chunk", True)):
        model, batch = model_and_batch("future", action_value=action_value)
        with torch.no_grad():
            model.action.out.weight.normal_(0, 0.1)

        def loss(values):
            out = action_loss(model, dict(batch, values=values), Normalizer(), torch.Generator().manual_seed(7))
            return float(out[0].detach())

        others = batch["values"].clone()
        others[..., :-1] += 1.0
        total = batch["values"].clone()
        total[..., -1] += 1.0
        assert (abs(loss(others) - loss(batch["values"])) > 1e-7) == others_reach, action_value
        assert abs(loss(total) - loss(batch["values"])) > 1e-7, action_value


@pytest.mark.parametrize("reads", ["readout", "frame"])
def test_the_keyframe_loss_trains_its_head_towards_the_next_grasp(reads):
    model, batch = model_and_batch("future", action_reads="observation", action_readout=2, keyframe_weight=1.0,
                                   keyframe_reads=reads)
    batch.update(keyframe=torch.rand(2, 14), success=torch.tensor([True, True]))
    params = set_trainable(model, "action")
    opt = torch.optim.AdamW(params, lr=3e-3)
    first = last = None
    for _ in range(30):
        out = train_step(model, batch, "action", opt, Normalizer(), StageConfig(grad_clip=1.0),
                         generator=torch.Generator().manual_seed(0))
        first = out["keyframe"] if first is None else first
        last = out["keyframe"]
    assert last < 0.5 * first
    assert out["loss"] > out["action"]  # the keyframe term is part of what is minimised


def test_a_goal_reading_expert_trains_on_the_true_keyframe_and_plans_with_its_prediction():
    model, batch = model_and_batch("future", action_reads="observation", keyframe_weight=1.0, keyframe_goal=True,
                                   keyframe_goal_noise=0.0)
    with torch.no_grad():
        model.action.out.weight.normal_(0, 0.1)
    batch.update(keyframe=torch.rand(2, 14), success=torch.tensor([True, True]))

    def loss(b):
        return float(action_loss(model, b, Normalizer(), torch.Generator().manual_seed(7))[1]["action"])

    assert loss(batch) != loss(dict(batch, keyframe=batch["keyframe"] + 0.5))
    ctx = model.context(batch["history"], batch["instruction"])
    states = model.world_features(ctx, torch.randn(2, *model.cfg.future_latent_shape))
    predicted = model.action.predict_keyframe(states)
    kv = model.action.video_kv(states)
    assert model.cfg.action_kv_tokens in kv[0][0].shape
    for (k, v), (k2, v2) in zip(kv, model.action.video_kv(states, predicted)):
        torch.testing.assert_close(k, k2)
        torch.testing.assert_close(v, v2)


def test_an_expert_trained_on_the_heads_goals_never_reads_the_recorded_one():
    """`keyframe_goal_source: head`: the flow loss depends on the head's prediction, not on the
    recorded keyframe (which only the head's own loss reads), as at inference."""
    model, batch = model_and_batch("future", action_reads="observation", keyframe_weight=1.0, keyframe_goal=True,
                                   keyframe_goal_source="head")
    with torch.no_grad():
        model.action.out.weight.normal_(0, 0.1)
    batch.update(keyframe=torch.rand(2, 14), success=torch.tensor([True, True]))

    def losses(b):
        out = action_loss(model, b, Normalizer(), torch.Generator().manual_seed(7))[1]
        return float(out["action"]), float(out["keyframe"])

    moved = dict(batch, keyframe=batch["keyframe"] + 0.5)
    assert losses(batch)[0] == losses(moved)[0] and losses(batch)[1] != losses(moved)[1]
    before = losses(batch)[0]
    with torch.no_grad():
        model.action.keyframe[-1].bias.add_(0.5)
    assert losses(batch)[0] != before


def test_a_context_goal_moves_every_key_and_starts_at_zero():
    """`keyframe_goal_entry: context`: no extra token; the goal shifts every key and value, from a
    zero-initialised projection (a model trained without a goal starts out unchanged)."""
    model, batch = model_and_batch("future", action_reads="observation", keyframe_weight=1.0, keyframe_goal=True,
                                   keyframe_goal_entry="context")
    ctx = model.context(batch["history"], batch["instruction"])
    states = model.world_features(ctx, torch.randn(2, *model.cfg.future_latent_shape))
    goal = torch.rand(2, 14)
    kv = model.action.video_kv(states, goal)
    assert kv[0][0].shape[2] == model.cfg.action_kv_tokens == model.cfg.state_tokens + model.cfg.action_readout
    torch.testing.assert_close(kv[0][0], model.action.video_kv(states, goal + 1.0)[0][0])
    with torch.no_grad():
        model.action.goal_in.weight.normal_(0, 0.1)
    for (k, v), (k2, v2) in zip(kv, model.action.video_kv(states, goal + 1.0)):
        assert not torch.allclose(k, k2) and not torch.allclose(v, v2)


def test_the_keyframe_head_can_learn_at_its_own_rate():
    model, _ = model_and_batch("future", action_reads="observation", keyframe_weight=1.0)
    opt = make_optimizer(model, "action", StageConfig(lr=1e-4, keyframe_lr_scale=10.0))
    head = {id(p) for p in model.action.keyframe.parameters()}
    rates = {g["lr"]: {id(p) for p in g["params"]} for g in opt.param_groups}
    assert sorted(rates) == pytest.approx([1e-4, 1e-3]) and rates[max(rates)] == head
    assert len(make_optimizer(model, "action", StageConfig(lr=1e-4)).param_groups) == 1
    with pytest.raises(ConfigError, match="keyframe_lr_scale: got 0"):
        StageConfig(keyframe_lr_scale=0).validate()
    with pytest.raises(ConfigError, match="train.world.keyframe_lr_scale: only the action stage"):
        TrainConfig(world=StageConfig(keyframe_lr_scale=3.0)).validate()


def test_the_head_learns_only_successes_keyframes_unless_told_otherwise():
    """A failed episode's keyframe (sample 1) reaches the keyframe loss only with `keyframe_episodes: all`."""
    for episodes, failures_count in (("success", False), ("all", True)):
        model, batch = model_and_batch("future", action_reads="observation", keyframe_weight=1.0,
                                       keyframe_episodes=episodes)
        batch.update(keyframe=torch.rand(2, 14), success=torch.tensor([True, False]))
        moved = dict(batch, keyframe=batch["keyframe"] + torch.tensor([[0.0], [0.5]]))

        def key(b):
            return float(action_loss(model, b, Normalizer(), torch.Generator().manual_seed(7))[1]["keyframe"])

        assert (key(batch) != key(moved)) == failures_count, episodes


def test_keyframe_options_are_checked():
    with pytest.raises(ConfigError, match="keyframe_weight.*action_reads"):
        dataclasses.replace(tiny(), keyframe_weight=1.0).validate()
    with pytest.raises(ConfigError, match="keyframe_reads: readout needs action_readout"):
        dataclasses.replace(tiny(), action_reads="observation", keyframe_weight=1.0, keyframe_reads="readout").validate()
    with pytest.raises(ConfigError, match="keyframe_goal.*keyframe_weight"):
        dataclasses.replace(tiny(), action_reads="observation", keyframe_goal=True).validate()
    with pytest.raises(ConfigError, match="keyframe_reads.*expected one of"):
        dataclasses.replace(tiny(), keyframe_reads="pixels").validate()
    with pytest.raises(ConfigError, match="keyframe_episodes.*expected one of"):
        dataclasses.replace(tiny(), keyframe_episodes="some").validate()
    with pytest.raises(ConfigError, match="keyframe_goal_source: head needs keyframe_goal"):
        dataclasses.replace(tiny(), action_reads="observation", keyframe_weight=1.0, keyframe_goal_source="head").validate()
    with pytest.raises(ConfigError, match="keyframe_goal_entry.*expected one of"):
        dataclasses.replace(tiny(), keyframe_goal_entry="film").validate()
    with pytest.raises(ConfigError, match="keyframe_goal_source.*expected one of"):
        dataclasses.replace(tiny(), keyframe_goal_source="oracle").validate()
    assert WAVModel(tiny()).action.keyframe is None
