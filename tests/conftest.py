"""Shared test fixtures: the ``../shared`` captures (when present) and our own fixtures."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from digests.settings import database_url_from
from digests.store import Store
from tests.slackbot import Bot, cut_off_bot, serving_bot

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


# -- databases ------------------------------------------------------------------------
# Every test that stores anything runs on a real database: a fresh SQLite file, or — when
# DATABASE_URL points at PostgreSQL — a fresh schema there, dropped afterwards.


def _server_url() -> str | None:
    raw = os.environ.get("DATABASE_URL", "")
    if raw.startswith(("postgres://", "postgresql")):
        return database_url_from(raw)
    return None


# Tests reach the database only through the fixtures below: nothing may fall back on the
# process environment and write into the server's shared schema.
SERVER_URL = _server_url()
os.environ.pop("DATABASE_URL", None)


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
