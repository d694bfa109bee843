"""The chunk executor: interpolation, late chunks, blending without jumps, the replan rule."""

import numpy as np
import pytest

from wav_core.runtime.config import ExecutorConfig
from wav_core.runtime.executor import ChunkExecutor

TICK = 20.0


def ramp(start, slope, h=16):
    return np.repeat((start + slope * np.arange(h))[:, None], 14, axis=1)


def test_interpolates_between_steps_and_runs_out():
    ex = ChunkExecutor(ExecutorConfig(blend_s=0.0), TICK, 16)
    assert ex.target(0.0) is None and ex.plan_due(0.0)
    ex.set_chunk(ramp(0.0, 1.0), anchor=1.0, now=1.0, latency_s=0.0)
    np.testing.assert_allclose(ex.target(1.0), 0.0)
    np.testing.assert_allclose(ex.target(1.0 + 2.5 / TICK), 2.5)
    np.testing.assert_allclose(ex.target(1.0 + 15 / TICK), 15.0)
    np.testing.assert_allclose(ex.target(1.0 + 15.5 / TICK), 15.0)  # the last step lasts its tick
    assert ex.target(1.0 + 16 / TICK) is None


def test_a_late_chunk_starts_at_the_step_that_is_due():
    ex = ChunkExecutor(ExecutorConfig(blend_s=0.0), TICK, 16)
    ex.set_chunk(ramp(0.0, 1.0), anchor=0.0, now=0.3, latency_s=0.3)
    np.testing.assert_allclose(ex.target(0.3), 6.0)  # 0.3 s * 20 Hz


def test_blending_removes_the_jump_at_a_chunk_boundary():
    ex = ChunkExecutor(ExecutorConfig(blend_s=0.25, rate_hz=200), TICK, 16)
    ex.set_chunk(ramp(0.0, 0.0), anchor=0.0, now=0.0, latency_s=0.0)
    ex.set_chunk(ramp(1.0, 0.0), anchor=0.4, now=0.4, latency_s=0.0)  # new chunk 1 rad away
    ts = np.arange(0.4, 0.8, 1 / 200)
    q = np.array([ex.target(t)[0] for t in ts])
    assert np.max(np.abs(np.diff(q))) <= 1.0 / (0.25 * 200) + 1e-9
    assert q[0] < 0.01 and q[-1] == 1.0


def test_an_old_chunk_that_ran_out_fades_into_a_still_new_one_without_a_jump():
    ex = ChunkExecutor(ExecutorConfig(blend_s=0.25, rate_hz=200), TICK, 16)
    ex.set_chunk(ramp(0.0, 0.0), anchor=0.0, now=0.0, latency_s=0.0)
    ex.set_chunk(ramp(1.0, 0.0), anchor=0.7, now=0.75, latency_s=0.05)  # arrives as the old one ends
    q = np.array([ex.target(t)[0] for t in np.arange(0.75, 1.1, 1 / 200)])
    assert np.max(np.abs(np.diff(q))) <= 1.0 / (0.25 * 200) + 1e-9 and q[-1] == 1.0


def test_a_new_chunk_that_continues_the_old_one_is_followed_at_its_own_speed():
    # Sync mode: the old chunk stopped on its last step while the world waited for the plan. The
    # fade removes the one-tick offset between them and otherwise moves with the new chunk; fading
    # from the old step held still made the arm start late and then race at twice the chunk's speed.
    ex = ChunkExecutor(ExecutorConfig(mode="sync", blend_s=0.25, rate_hz=200), TICK, 16)
    ex.set_chunk(ramp(0.0, 0.05), anchor=0.0, now=0.0, latency_s=0.0)  # 1 rad/s, last step 0.75 at 0.75 s
    ex.set_chunk(ramp(0.8, 0.05), anchor=0.8, now=0.8, latency_s=0.0)  # the same path on from 0.8 s
    ts = np.arange(0.8, 1.2, 1 / 200)
    q = np.array([ex.target(t)[0] for t in ts])
    behind = ts - q
    assert behind[0] == pytest.approx(0.05)
    assert np.all(np.diff(behind) <= 1e-12) and np.all(np.abs(behind[ts >= 1.05]) < 1e-9)
    assert np.max(np.diff(q)) * 200 <= 1.0 + 0.05 / 0.25 + 1e-6


def test_next_plan_is_requested_while_the_chunk_covers_p90_latency_plus_margin():
    ex = ChunkExecutor(ExecutorConfig(replan_margin_s=0.1), TICK, 16)  # 16 steps last 0.8 s
    for latency in (0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.3):
        ex.set_chunk(ramp(0.0, 0.0), anchor=0.0, now=0.0, latency_s=latency)
    assert abs(ex.threshold_s - (0.12 + 0.1)) < 1e-9  # p90 of the latencies, plus the margin
    assert not ex.plan_due(0.57)
    assert ex.plan_due(0.59)


def test_replan_after_requests_earlier_by_the_latency():
    ex = ChunkExecutor(ExecutorConfig(replan_after=8), TICK, 16)
    ex.set_chunk(ramp(0.0, 0.0), anchor=0.0, now=0.1, latency_s=0.1)
    assert not ex.plan_due(0.29)
    assert ex.plan_due(0.301)  # 8 steps = 0.4 s, minus 0.1 s latency


def test_sync_mode_plans_when_the_chunk_is_done_and_waits_on_its_last_step():
    ex = ChunkExecutor(ExecutorConfig(mode="sync", blend_s=0.0), TICK, 16)
    ex.set_chunk(ramp(0.0, 1.0), anchor=0.0, now=0.0, latency_s=0.5)
    assert not ex.plan_due(0.79) and ex.plan_due(0.8)
    np.testing.assert_allclose(ex.target(2.0), 15.0)
