from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from trainpod.testing import Emulator

REPO = pathlib.Path(__file__).resolve().parents[2]


def fixture(name: str) -> Any:
    return json.loads((REPO / "tests" / "fixtures" / name).read_text())


@pytest.fixture
def postgres_url() -> str:
    """The test Postgres, or a skip; with TRAINPOD_REQUIRE_POSTGRES=1 a missing one fails."""
    url = os.environ.get("TRAINPOD_TEST_DATABASE_URL", "")
    if url:
        return url
    if os.environ.get("TRAINPOD_REQUIRE_POSTGRES") == "1":
        pytest.fail("TRAINPOD_TEST_DATABASE_URL is not set but TRAINPOD_REQUIRE_POSTGRES=1")
    pytest.skip("set TRAINPOD_TEST_DATABASE_URL (scripts/postgres.sh start) to run Postgres tests")


@pytest.fixture(scope="session")
def emu() -> Iterator[Emulator]:
    """The RunPod emulator (the `trainpod-emulator` binary), shared by the session."""
    with Emulator() as emulator:
        yield emulator
