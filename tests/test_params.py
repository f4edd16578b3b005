"""The params loader: typed sections from params.yaml, and one clear line for every mistake."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from mnist_dvc import params
from mnist_dvc.errors import UserError
from tests.conftest import REPO, run
from tests.helpers.params import committed_params


def write_params(tmp_path: Path, document: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def repo_params() -> dict:
    return committed_params()


def test_the_committed_params_load_as_typed_sections():
    train = params.load("train", REPO / "params.yaml")
    assert isinstance(train, params.TrainParams)
    assert train.hidden_units == (128, 128)
    assert isinstance(train.learning_rate, float)
    assert isinstance(params.load("fetch", REPO / "params.yaml").sources, tuple)
    assert params.load("evaluate", REPO / "params.yaml").misclassified_count > 0
    assert params.load("photo_benchmark", REPO / "params.yaml").number_digits == (3, 5)


def test_an_integer_is_accepted_where_a_number_is_expected(tmp_path):
    document = repo_params()
    document["train"]["learning_rate"] = 1
    loaded = params.load("train", write_params(tmp_path, document))
    assert loaded.learning_rate == 1.0 and isinstance(loaded.learning_rate, float)


BAD_VALUES = [
    ("train", "epochs", 0, "train.epochs = 0"),
    ("train", "epochs", -3, "train.epochs = -3"),
    ("train", "epochs", 2.5, "train.epochs = 2.5"),
    ("train", "epochs", "ten", "train.epochs = 'ten'"),
    ("train", "epochs", True, "train.epochs = True"),
    ("train", "batch_size", 0, "train.batch_size = 0"),
    ("train", "batch_size", -1, "train.batch_size = -1"),
    ("train", "learning_rate", 0, "train.learning_rate = 0"),
    ("train", "learning_rate", -0.01, "train.learning_rate = -0.01"),
    ("train", "learning_rate", float("inf"), "train.learning_rate = inf"),
    ("train", "validation_fraction", 0, "train.validation_fraction = 0"),
    ("train", "validation_fraction", 1, "train.validation_fraction = 1"),
    ("train", "validation_fraction", 1.5, "train.validation_fraction = 1.5"),
    ("train", "hidden_units", [], "train.hidden_units = []"),
    ("train", "hidden_units", [128, 0], "train.hidden_units = [128, 0]"),
    ("train", "hidden_units", [128, -5], "train.hidden_units = [128, -5]"),
    ("train", "hidden_units", 128, "train.hidden_units = 128"),
    ("train", "optimizer", "adamax", "train.optimizer = 'adamax'"),
    ("train", "activation", "softmax", "train.activation = 'softmax'"),
    ("train", "lr_schedule", "step", "train.lr_schedule = 'step'"),
    ("train", "dropout", 1.0, "train.dropout = 1.0"),
    ("train", "label_smoothing", -0.1, "train.label_smoothing = -0.1"),
    ("train", "augment_shift_pixels", 30, "train.augment_shift_pixels = 30"),
    ("train", "augment_rotation_degrees", -5, "train.augment_rotation_degrees = -5"),
    ("train", "augment_rotation_degrees", 90, "train.augment_rotation_degrees = 90"),
    ("train", "augment_scale", 0.8, "train.augment_scale = 0.8"),
    ("train", "augment_shear_degrees", 60, "train.augment_shear_degrees = 60"),
    ("train", "augment_thickness", 1.5, "train.augment_thickness = 1.5"),
    ("train", "augment_elastic_pixels", -1, "train.augment_elastic_pixels = -1"),
    ("train", "augment_elastic_sigma", 0, "train.augment_elastic_sigma = 0"),
    ("train", "seed", -1, "train.seed = -1"),
    ("train", "seed", None, "train.seed = null"),
    ("fetch", "sources", [], "fetch.sources = []"),
    ("fetch", "sources", ["ftp"], "fetch.sources = ['ftp']"),
    ("fetch", "timeout_seconds", 0, "fetch.timeout_seconds = 0"),
    ("evaluate", "misclassified_count", 0, "evaluate.misclassified_count = 0"),
    ("photo_benchmark", "single_digits", 0, "photo_benchmark.single_digits = 0"),
    ("photo_benchmark", "numbers", 20_000, "photo_benchmark.numbers = 20000"),
    ("photo_benchmark", "number_digits", [5, 3], "photo_benchmark.number_digits = [5, 3]"),
    ("photo_benchmark", "number_digits", [1, 3], "photo_benchmark.number_digits = [1, 3]"),
    ("photo_benchmark", "number_digits", [3], "photo_benchmark.number_digits = [3]"),
    ("photo_benchmark", "failures_shown", -1, "photo_benchmark.failures_shown = -1"),
    ("calibrate", "view_shift_pixels", 4, "calibrate.view_shift_pixels = 4"),
    ("calibrate", "view_shift_pixels", 0.5, "calibrate.view_shift_pixels = 0.5"),
    ("calibrate", "view_rotation_degrees", 45, "calibrate.view_rotation_degrees = 45"),
    ("calibrate", "not_a_digit_probability", 1.5, "calibrate.not_a_digit_probability = 1.5"),
]


@pytest.mark.parametrize(("section", "key", "value", "named"), BAD_VALUES)
def test_a_bad_value_names_the_key_the_value_and_what_is_allowed(tmp_path, section, key, value, named):
    document = repo_params()
    document[section][key] = value
    with pytest.raises(UserError) as raised:
        params.load(section, write_params(tmp_path, document))
    message = str(raised.value)
    assert named in message
    assert "must be" in message
    assert "\n" not in message


@pytest.mark.parametrize(("section", "typo"), [("train", "epoch"), ("train", "learningrate"), ("fetch", "source")])
def test_an_unknown_key_is_refused_and_the_allowed_keys_listed(tmp_path, section, typo):
    document = repo_params()
    document[section][typo] = 3
    with pytest.raises(UserError, match=rf"unknown key {section}\.{typo}.*allowed keys"):
        params.load(section, write_params(tmp_path, document))


@pytest.mark.parametrize("key", ["epochs", "learning_rate", "hidden_units"])
def test_a_missing_key_is_an_error_that_names_it_not_a_silent_default(tmp_path, key):
    document = repo_params()
    del document["train"][key]
    with pytest.raises(UserError, match=rf"train\.{key} is missing"):
        params.load("train", write_params(tmp_path, document))


def test_a_missing_section_is_named(tmp_path):
    document = repo_params()
    del document["train"]
    with pytest.raises(UserError, match="section 'train' is missing"):
        params.load("train", write_params(tmp_path, document))


@pytest.mark.parametrize(("text", "expected"), [
    ("train: [1, 2\n", "not valid YAML"),
    ("- just\n- a list\n", "expected a mapping"),
    ("train: 5\n", "must be a mapping"),
])
def test_a_malformed_file_is_refused(tmp_path, text, expected):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=expected):
        params.load("train", path)


def test_a_stage_with_a_bad_param_exits_with_one_line_and_leaves_outputs_untouched(tmp_path):
    """Through the real command: no traceback, non-zero exit, the previous model file kept."""
    shutil.copytree(REPO / "stages", tmp_path / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "mnist_dvc", tmp_path / "mnist_dvc", ignore=shutil.ignore_patterns("__pycache__"))
    document = repo_params()
    document["train"]["epochs"] = 0
    write_params(tmp_path, document)
    model = tmp_path / "models" / "model.keras"
    model.parent.mkdir()
    model.write_bytes(b"previous model")
    result = run(["python", "-m", "stages.train"], cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error: params.yaml: train.epochs = 0 is not allowed")
    assert len(result.stderr.strip().splitlines()) == 1, "checked before TensorFlow is imported"
    assert model.read_bytes() == b"previous model"
    assert sorted(p.name for p in model.parent.iterdir()) == ["model.keras"]
