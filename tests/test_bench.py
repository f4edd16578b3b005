"""The benchmark's own logic, on small inputs (its timings are measured by `make bench`, not tested)."""

from pathlib import Path

import yaml

from benchmarks.bench import stage_commands

REPO = Path(__file__).resolve().parents[1]


def test_stages_are_timed_after_the_stages_whose_outputs_they_read(tmp_path):
    dvc_yaml = tmp_path / "dvc.yaml"
    dvc_yaml.write_text(yaml.safe_dump({"stages": {
        "report": {"cmd": "python -m stages.report --csv 'a b.csv'", "deps": ["models/model.keras", "data/own"]},
        "train": {"cmd": "python -m stages.train", "deps": ["data/prepared/mnist.npz"],
                  "outs": ["models/model.keras"]},
        "own": {"cmd": "python -m stages.own", "outs": [{"data/own": {"persist": True}}]},
        "prepare": {"cmd": "python -m stages.prepare", "deps": ["data/own/3"], "outs": ["data/prepared/mnist.npz"]},
    }}))
    commands = stage_commands(dvc_yaml)
    order = list(commands)
    assert order.index("own") < order.index("prepare") < order.index("train") < order.index("report")
    assert commands["report"] == ["python", "-m", "stages.report", "--csv", "a b.csv"]


def test_every_stage_of_the_pipeline_is_timed_with_its_own_command():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    commands = stage_commands(REPO / "dvc.yaml")
    assert sorted(commands) == sorted(stages)
    assert " ".join(commands["classify_own"]) == stages["classify_own"]["cmd"]
    assert list(commands).index("own_data") < list(commands).index("classify_own")
