"""`value_choice`: the chunk decoded with each value the planner could choose, against the recorded one."""

import pytest
import torch

from wav_core.data.torch_dataset import SampleSpec, WavDataset
from wav_core.eval.value_choice import CHOICES, choice_at, report_lines, value_choice
from wav_core.planning import PlannerConfig
from wav_core.planning.policy import random_policy


def _future_policy():
    return random_policy("tiny", PlannerConfig(K=0, S=3), model_overrides={"conditioning": "future"})


def _deaf_to_the_value(policy):
    """The action expert no longer attends to the value expert's states."""
    with torch.no_grad():
        for blk in policy.model.action.blocks:
            blk.value_attn.out.weight.zero_()
            blk.value_attn.out.bias.zero_()


def test_the_choices_differ_only_where_the_action_reads_the_value(tiny_dataset):
    reads, deaf = _future_policy(), _future_policy()
    _deaf_to_the_value(deaf)
    sample = WavDataset(str(tiny_dataset), SampleSpec.for_model(reads.cfg))[3]
    a = choice_at(reads, sample, 6, torch.Generator().manual_seed(0))
    b = choice_at(deaf, sample, 6, torch.Generator().manual_seed(0))
    assert set(a) == set(CHOICES)
    assert len({round(a[c]["error"], 9) for c in CHOICES}) > 1
    assert len({round(b[c]["error"], 9) for c in CHOICES}) == 1  # every value gives the same chunk
    # The planner's pick scores highest, the worst lowest; both were drawn, so they bracket the mean.
    assert a["best"]["total"] >= a["mean"]["total"] >= a["worst"]["total"]
    assert a["best"]["total"] == pytest.approx(b["best"]["total"])  # same value module, same draws


def test_the_summary_covers_ticks_of_successful_episodes(tiny_dataset):
    policy = _future_policy()
    result = value_choice(policy, tiny_dataset, ticks_per_episode=3, values=4, max_episodes=1)
    assert result["ticks"] == 3 and result["values"] == 4
    assert set(result["action_error"]) == set(result["value_total"]) == set(CHOICES)
    assert 0.0 <= result["best_nearer_than_random"] <= 1.0
    assert any("best-scored of 4 values" in line for line in report_lines(result))
    with pytest.raises(ValueError, match="values"):
        value_choice(policy, tiny_dataset, values=1)


def test_a_paper_conditioned_action_reads_no_value_chunk(tiny_dataset):
    paper = random_policy("tiny", PlannerConfig(K=0, S=3))
    assert value_choice(paper, tiny_dataset, ticks_per_episode=2, values=4, max_episodes=1) is None
    assert "n/a" in report_lines(None)[0]
