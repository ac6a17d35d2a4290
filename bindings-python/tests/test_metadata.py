"""One version for the crate and the package; the wheel's ABI floor matches requires-python."""

from __future__ import annotations

import re

import tomllib
import trainpod
from conftest import REPO


def test_version_matches_the_workspace() -> None:
    cargo = tomllib.loads((REPO / "Cargo.toml").read_text())
    assert trainpod.__version__ == cargo["workspace"]["package"]["version"]


def test_abi3_floor_matches_requires_python() -> None:
    cargo = (REPO / "Cargo.toml").read_text()
    floor = re.search(r"abi3-py3(\d+)", cargo)
    assert floor is not None
    project = tomllib.loads((REPO / "bindings-python" / "pyproject.toml").read_text())
    assert project["project"]["requires-python"] == f">=3.{floor.group(1)}"
