"""`wav view` on a bag recorded from a real run: the simulated rig and the policy node (random tiny
model, debug_images on, dry run) over DDS, recorded by `wav run --record`'s recorder; the PNG shows
the model's input frames, the planned tool paths in their value colours and both arm poses."""

import os
import time

import numpy as np
import pytest
from PIL import Image

from wav_core.cli.main import main
from wav_core.config import RobotConfig
from wav_core.planning import PlannerConfig, random_policy
from wav_core.robot.urdf_kinematics import UrdfKinematics
from wav_core.viz.plan_figure import SIZE_PX, VIEWS, plan_figure
from wav_core.viz.plan_frames import PlanTopics, read_plan_frames

TOPICS = PlanTopics.of(RobotConfig())


@pytest.fixture(scope="module")
def run_bag(tmp_path_factory):

    from wav_core.config.loader import load
    from wav_core.model import save_model
    from wav_core.runtime.config import PolicyConfig
    from wav_ros.launcher import config_path
    from wav_ros.session import Session

    tmp = tmp_path_factory.mktemp("view")
    policy = random_policy("tiny", PlannerConfig(K=1, M=2, N=2, S=2))
    cfg = load(PolicyConfig, config_path("sim_drawer"), section="policy")
    cfg.model = str(save_model(tmp / "model", policy.model, policy.card))
    cfg.planner = PlannerConfig(K=1, M=2, N=2, S=2)
    bag = tmp / "run_bag"
    with Session("sim_drawer", domain_id=140 + os.getpid() % 60, record=str(bag), policy_cfg=cfg,
                 dry_run=True, debug_images=True) as s:
        s.start()
        s.enable()
        wanted = [TOPICS.markers, TOPICS.commanded, *TOPICS.model_input.values()]
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and min(s.recorder.recorded[t] for t in wanted) < 5:
            time.sleep(0.2)
        counts = {t: s.recorder.recorded[t] for t in wanted}
    assert min(counts.values()) >= 5, f"the run did not record the plan view: {counts}"
    return bag


def test_the_view_draws_the_model_input_the_planned_paths_and_both_arms(run_bag, tmp_path):
    out = tmp_path / "plan.png"
    assert main(["view", "--bag", str(run_bag), "--out", str(out)]) == 0
    png = np.asarray(Image.open(out).convert("RGB"))
    assert png.shape == (SIZE_PX[1], SIZE_PX[0], 3)

    frame = read_plan_frames(run_bag, lambda i, t: True)[-1]
    assert frame.image_topics == TOPICS.model_input  # what the model read, not the raw cameras
    assert frame.arms == ["left", "right"] and frame.commanded and frame.measured
    assert all(p.shape[1] == 3 and len(p) == len(c) >= 2 for p, c in zip(frame.paths, frame.colours))
    # Redraw the same plan to learn where the paths land, then look for their colours in the PNG:
    # every path is drawn in the saturated red..green value colours, unlike the grey and blue arms.
    fig = plan_figure(frame, UrdfKinematics.rig())
    fig.canvas.draw()
    hits = total = 0
    for ax in fig.axes:
        if ax.get_label() not in VIEWS:
            continue
        i, j = VIEWS[ax.get_label()]
        for path in frame.paths:
            mids = (path[:-1] + path[1:]) / 2
            for x, y in ax.transData.transform(mids[:, [i, j]]):
                r, g, b = png[int(round(SIZE_PX[1] - y)), int(round(x))].astype(int)
                total += 1
                hits += max(r, g) - b > 60
    assert total >= 4 and hits >= 0.8 * total, f"{hits} of {total} path points drawn in value colours"
    # The camera panels hold the model's frames, not blank axes.
    top = png[: SIZE_PX[1] // 3]
    assert top.std() > 10


def test_a_gif_of_every_second_plan(run_bag, tmp_path):
    gif = tmp_path / "plans.gif"
    assert main(["view", "--bag", str(run_bag), "--out", str(tmp_path / "last.png"), "--every", "2", "--gif", str(gif)]) == 0
    n_plans = len(read_plan_frames(run_bag, lambda i, t: i % 2 == 0))
    with Image.open(gif) as img:
        assert img.n_frames == n_plans >= 2 and img.size == SIZE_PX


def test_time_picks_the_last_plan_before_it(run_bag, tmp_path):
    frames = read_plan_frames(run_bag, lambda i, t: True)
    t = (frames[0].time_s + frames[-1].time_s) / 2
    expected = [f for f in frames if f.time_s <= t][-1]
    out = tmp_path / "mid.png"
    assert main(["view", "--bag", str(run_bag), "--out", str(out), "--time", str(t)]) == 0
    assert out.is_file()
    assert main(["view", "--bag", str(run_bag), "--out", str(tmp_path / "early.png"), "--time", "0"]) == 2
    assert expected.index < frames[-1].index


def test_bad_input_is_refused_by_name(run_bag, tmp_path, capsys):
    assert main(["view", "--bag", str(tmp_path / "nope"), "--out", str(tmp_path / "x.png")]) == 2
    assert "nope: cannot open as rosbag2" in capsys.readouterr().err
    assert main(["view", "--bag", str(run_bag), "--out", str(tmp_path / "x.png"), "--node", "other_policy"]) == 2
    err = capsys.readouterr().err
    assert "/other_policy/plan_markers" in err and "/other_policy/action_chunk" in err and str(run_bag) in err
    assert main(["view", "--bag", str(run_bag), "--out", str(tmp_path / "x.png"), "--every", "2"]) == 2
    assert "--every and --gif" in capsys.readouterr().err
    assert main(["view", "--bag", str(run_bag), "--out", str(tmp_path / "no_dir" / "x.png")]) == 2
    assert "no_dir does not exist" in capsys.readouterr().err
