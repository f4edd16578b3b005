"""The params the tests start from: params.yaml as last committed, never the workspace's own edits (a user
who set train.own_data_fraction or fewer epochs must not change what the tests check)."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path
from typing import Any

import yaml

from mnist_dvc import params

REPO = Path(__file__).resolve().parents[2]


def committed_params() -> dict[str, Any]:
    """params.yaml as HEAD holds it, parsed."""
    text = subprocess.run(["git", "show", "HEAD:params.yaml"], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout
    return yaml.safe_load(text)


def section(name: str, **overrides: Any) -> Any:
    """One committed section as its typed params object, with `overrides` replacing some values."""
    loaded = params.parse_section(name, committed_params()[name], params.SECTIONS[name])
    return dataclasses.replace(loaded, **overrides)
