"""The whole offline pipeline through the `wav` command: record simulated demonstrations, import
them, train every stage a few steps, export, and evaluate closed-loop in the simulator."""

import json

import yaml

from wav_core.cli.main import main

RUN = {
    "preset": "tiny", "num_workers": 0, "checkpoint_every": 2, "image_every": 2, "log_every": 1,
    # Episodes cut at 1.5 s never succeed: the action stage imitates them anyway here.
    "train": {**{s: {"steps": 2, "warmup": 1, "batch_size": 4} for s in ("tokenizer", "world", "value", "action")},
              "action_episodes": "all"},
}


def test_record_import_train_export_eval(tmp_path, capsys):
    bags, data, run, model = (tmp_path / n for n in ("bags", "data", "run", "model"))
    assert main(["sim", "record", "--task", "drawer", "--episodes", "2", "--seed", "0", "--max-duration", "1.5",
                 "--config", "config/sim_drawer.yaml", "--out", str(bags)]) == 0
    summary = json.loads((bags / "summary.json").read_text())
    assert summary["episodes"] == 2
    assert main(["data", "import", "--bags", str(bags), "--config", "config/sim_drawer.yaml", "--out", str(data)]) == 0
    meta = json.loads((data / "meta.json").read_text())
    assert len(meta["episodes"]) == 2
    # Episodes cut at 1.5 s did not finish the task, and the import carries that over.
    assert [e["success"] for e in meta["episodes"]] == [False, False]
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump(RUN))
    assert main(["train", "--config", str(cfg), "--data", str(data), "--out", str(run), "--no-progress"]) == 0
    assert main(["export", "--run", str(run), "--out", str(model)]) == 0
    out = tmp_path / "eval.json"
    assert main(["eval", "--model", str(model), "--episodes", "1", "--seed", "50", "--K", "1", "--M", "2", "--N", "2",
                 "--S", "2", "--max-seconds", "1.0", "--threads", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["episodes"][0]["seed"] == 50 and result["episodes"][0]["plans"] >= 1
    assert 0.0 <= result["success_rate"] <= 1.0 and set(result["subgoal_rates"]) == {"opened", "placed", "closed"}
