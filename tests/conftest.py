"""Shared test fixtures: the ``../shared`` captures (when present) and our own fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
# The real source pages and captures the product was specified from live beside the
# project; tests over them run whenever that folder exists.
SHARED = ROOT.parent / "shared"


@pytest.fixture
def shared() -> Path:
    if not (SHARED / "seeds").is_dir():
        pytest.skip("../shared (seed pages and captures) is not beside this checkout")
    return SHARED


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
