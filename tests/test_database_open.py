"""Opening the database: processes that start at once, and a DATABASE_URL that cannot work.

Real processes on a real database: several ``Store.open`` in processes released together,
``paperbot`` subprocesses on a new database, and the command line given URLs, servers and
folders that cannot be used.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from digests.errors import DatabaseUnavailable, DatabaseURLError, StoreError
from digests.store import Store, create_db_engine, database_url, wait_for_database
from tests.paths import ROOT, SERVER_URL


def _run_paperbot(
    env: Mapping[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# -- many processes creating the schema at once ---------------------------------------------


def _open_when_released(url: str, start: Any) -> None:
    start.wait()
    store = Store.open(url)
    try:
        store.paper_count()
    finally:
        store.dispose()


# Rounds, because the races (CREATE TABLE, the switch to WAL) are lost only now and then.
@pytest.mark.parametrize("round_", range(6))
def test_processes_opening_a_new_database_together_all_succeed(db_url: str, round_: int) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(4)
    workers = [context.Process(target=_open_when_released, args=(db_url, start)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=90)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    store = Store.open(db_url, migrate=False)
    try:
        assert store.paper_count() == 0  # the schema is whole
    finally:
        store.dispose()


def test_two_commands_at_once_on_a_new_database_both_succeed(tmp_path: Path, db_url: str) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text("# none\n", "utf-8")
    env = {
        "DATABASE_URL": db_url,
        "PAPERBOT_DATA_DIR": str(tmp_path),
        "PAPERBOT_SOURCES_FILE": str(sources),
    }
    command = [sys.executable, "-c", "from bot.cli import main; main()", "sources", "list"]
    running = [
        subprocess.Popen(
            command,
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for process in running:
        out, err = process.communicate(timeout=90)
        assert process.returncode == 0, err
        assert "Traceback" not in out + err


def test_a_failed_migration_on_sqlite_leaves_the_schema_as_it_was(tmp_path: Path) -> None:
    """The migration runs in one SQLite transaction: a failure halfway creates nothing."""
    url = f"sqlite:///{tmp_path / 'p.db'}"
    first = Store.open(url, migrate=False)
    with first.engine.begin() as conn:  # a table the first migration creates, in the way
        conn.exec_driver_sql("CREATE TABLE tag_aliases (x INTEGER)")
    first.dispose()
    with pytest.raises(StoreError, match="cannot upgrade the database schema"):
        Store.open(url)
    again = Store.open(url, migrate=False)
    with again.engine.connect() as conn:
        tables = {
            row[0]
            for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")
        }
    again.dispose()
    assert tables == {"tag_aliases"}


# -- a DATABASE_URL or a data folder that cannot work ----------------------------------------

# A retry would wait this long: a test that finishes sooner saw no retry.
_RETRY_DELAY = "20"


def _one_line_failure(env: Mapping[str, str], *args: str) -> str:
    began = time.monotonic()
    done = _run_paperbot({"PAPERBOT_DB_CONNECT_DELAY": _RETRY_DELAY, **env}, *args)
    elapsed = time.monotonic() - began
    output = (done.stdout + done.stderr).strip()
    assert done.returncode != 0, output
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    assert elapsed < 10, f"took {elapsed:.1f} s: retried"
    return output


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    sources = tmp_path / "sources.toml"
    sources.write_text("# none\n", "utf-8")
    return {"PAPERBOT_DATA_DIR": str(tmp_path / "data"), "PAPERBOT_SOURCES_FILE": str(sources)}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("garbage", "not a database URL"),
        ("mysql://user:pw@db.example.com/papers", "mysql:// is not supported"),
        ("postgresql://h:notaport/x", "port 'notaport'"),
        ("postgresql://h:99999/x", "port '99999'"),
        ("http://example.com", "http:// is not supported"),
        ("postgresql://db.example.com:5432", "names no database"),
    ],
)
def test_an_unusable_database_url_is_one_line_at_once(
    base_env: dict[str, str], url: str, expected: str
) -> None:
    line = _one_line_failure({**base_env, "DATABASE_URL": url}, "sources", "list")
    assert expected in line
    assert "pw@" not in line
    if "supported" in line or "not a database URL" in line:
        assert "sqlite:///PATH" in line and "postgresql://" in line  # the forms that work


def _local_server() -> str:
    """The PostgreSQL server of this run, else the one on this machine's usual port."""
    server = make_url(SERVER_URL or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    with socket.socket() as s:
        s.settimeout(2)
        if s.connect_ex((server.host or "127.0.0.1", server.port or 5432)) != 0:
            pytest.skip("no PostgreSQL server listens on this machine")
    return server.set(database="no_such_db_xyz", query={}).render_as_string(hide_password=False)


def test_a_database_that_does_not_exist_is_named_at_once(base_env: dict[str, str]) -> None:
    line = _one_line_failure({**base_env, "DATABASE_URL": _local_server()}, "sources", "list")
    assert "no such database 'no_such_db_xyz'" in line


def test_serve_shows_the_same_line(base_env: dict[str, str]) -> None:
    slack = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "test-secret"}
    env = {**base_env, **slack, "DATABASE_URL": "mysql://db.example.com/papers"}
    served = _one_line_failure(env, "serve", "--port", "1")
    listed = _one_line_failure(env, "sources", "list")
    assert served == listed
    assert "mysql:// is not supported" in served


def test_a_data_folder_under_a_file_is_named(tmp_path: Path, base_env: dict[str, str]) -> None:
    """A folder nobody can create, even root (a file stands where a folder should)."""
    blocker = tmp_path / "plain-file"
    blocker.write_text("not a folder\n", "utf-8")
    for data_dir in (blocker, blocker / "paperbot"):
        env = {**base_env, "PAPERBOT_DATA_DIR": str(data_dir)}
        line = _one_line_failure(env, "sources", "list")
        assert f"{blocker} is a file, not a folder" in line


@pytest.mark.skipif(
    os.geteuid() == 0,
    reason="root writes through a chmod; test_a_data_folder_under_a_file_is_named covers root",
)
def test_a_read_only_data_folder_is_named(tmp_path: Path, base_env: dict[str, str]) -> None:
    data = tmp_path / "read-only"
    data.mkdir()
    data.chmod(0o555)
    try:
        line = _one_line_failure({**base_env, "PAPERBOT_DATA_DIR": str(data)}, "sources", "list")
    finally:
        data.chmod(0o755)
    assert f"no permission to write {data}" in line


def test_only_a_server_that_does_not_answer_is_retried() -> None:
    """Connection refused is worth waiting for (a server starting); a missing database is not."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = create_db_engine(f"postgresql+psycopg://u@127.0.0.1:{port}/x")
    waits: list[float] = []
    with pytest.raises(DatabaseUnavailable, match="after 3 attempts"):
        wait_for_database(refused, attempts=3, delay=1.0, sleep=waits.append)
    refused.dispose()
    assert waits == [1.0, 2.0]

    missing = create_db_engine(_local_server())
    waits.clear()
    with pytest.raises(StoreError, match="no such database") as raised:
        wait_for_database(missing, attempts=3, delay=1.0, sleep=waits.append)
    missing.dispose()
    assert waits == []
    assert not isinstance(raised.value, DatabaseUnavailable)


def test_database_url_forms() -> None:
    assert database_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert database_url("sqlite:////tmp/p.db").get_backend_name() == "sqlite"
    for bad in ("postgresql+psycopg2://u@h/db", "oracle://u@h/db", "://x", "sqlite"):
        with pytest.raises(DatabaseURLError):
            database_url(bad)
