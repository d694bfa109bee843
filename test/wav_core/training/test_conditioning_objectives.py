"""What each conditioning trains the experts on: under `future` the value reads the sample's true
future and stage 3 leaves the scorer (world, text, value) exactly as stage 2 fitted it."""

import dataclasses

import torch

from wav_core.model.normalize import Normalizer
from wav_core.model.presets import tiny
from wav_core.model.wav import WAVModel
from wav_core.training.config import StageConfig
from wav_core.training.objectives import action_loss, set_trainable, train_step, value_loss


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
