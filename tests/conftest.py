"""Shared test fixtures: the ``../shared`` captures (when present) and our own fixtures."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from digests.store import Store
from tests.paths import FIXTURES, ROOT, SERVER_URL, SHARED
from tests.slackbot import Bot, cut_off_bot, serving_bot

# Test modules import these from tests.paths; they stay importable from here too.
__all__ = ["FIXTURES", "ROOT", "SERVER_URL", "SHARED"]


@pytest.fixture
def shared() -> Path:
    if not (SHARED / "seeds").is_dir():
        pytest.skip("../shared (seed pages and captures) is not beside this checkout")
    return SHARED


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


# -- databases ------------------------------------------------------------------------
# Every test that stores anything runs on a real database: a fresh SQLite file, or — when
# DATABASE_URL points at PostgreSQL — a fresh schema there, dropped afterwards.


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """A URL for an empty database of the kind this run tests."""
    server = SERVER_URL
    if server is None:
        yield f"sqlite:///{tmp_path / 'paperbot.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server)
    with admin.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(server).update_query_dict({"options": f"-csearch_path={schema},public"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    try:
        yield s
    finally:
        s.dispose()


# -- the Slack app --------------------------------------------------------------------


@pytest.fixture
def bot(store: Store, tmp_path: Path) -> Iterator[Bot]:
    """The app over real HTTP with the demo sources ingested and a fake Slack Web API."""
    with serving_bot(store, tmp_path) as running:
        yield running


@pytest.fixture(params=["refused", "503"])
def cut_off(request: pytest.FixtureRequest, store: Store, tmp_path: Path) -> Iterator[Bot]:
    """The app while Slack's Web API refuses connections or answers 503."""
    with cut_off_bot(store, tmp_path, answers_503=request.param == "503") as running:
        yield running
