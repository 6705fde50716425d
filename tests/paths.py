"""Where tests find things: the checkout, its fixture files, the ``../shared`` captures,
and the database server a run tests against."""

from __future__ import annotations

import os
from pathlib import Path

from digests.settings import database_url_from

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
# The real source pages and captures the product was specified from live beside the
# project; tests over them run whenever that folder exists.
SHARED = ROOT.parent / "shared"


def _server_url() -> str | None:
    raw = os.environ.get("DATABASE_URL", "")
    if raw.startswith(("postgres://", "postgresql")):
        return database_url_from(raw)
    return None


# Tests reach the database only through the fixtures in conftest.py: nothing may fall back
# on the process environment and write into the server's shared schema.
SERVER_URL = _server_url()
os.environ.pop("DATABASE_URL", None)
