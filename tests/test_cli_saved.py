"""``paperbot saved``: a person's saved papers as a table or BibTeX, on a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from bibtexparser import parse_string
from click.testing import CliRunner, Result
from sqlalchemy import select

from bot.cli import cli
from digests.calendar import IsoWeek
from digests.schema import papers
from digests.store import Store
from tests.factories import add_papers, hand_source, utc


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> dict[str, str]:
    sources = tmp_path / "sources.toml"
    sources.write_text("# no default sources in tests\n", "utf-8")
    store = Store.open(db_url)
    try:
        add_papers(store, hand_source(store, tmp_path), IsoWeek(2026, 10), n=3)
        with store.engine.connect() as conn:
            ids = [
                int(i) for i in conn.execute(select(papers.c.id).order_by(papers.c.id)).scalars()
            ]
        for hour, pid in enumerate(ids):
            store.save_papers("T1", "U1", [pid], channel_id="C1", now=utc(2026, 3, 6, hour))
        store.save_papers("T2", "U2", ids[:1], channel_id="C9", now=utc(2026, 3, 6))
        store.save_papers("T3", "U2", ids[1:2], channel_id="C9", now=utc(2026, 3, 6))
    finally:
        store.dispose()
    return {
        "PAPERBOT_DATA_DIR": str(tmp_path),
        "PAPERBOT_SOURCES_FILE": str(sources),
        "DATABASE_URL": db_url,
        "PAPERBOT_TZ": "UTC",
    }


def run(env: dict[str, str], *args: str, columns: int = 80) -> Result:
    return CliRunner().invoke(cli, list(args), env={**env, "COLUMNS": str(columns)})


def test_saved_table_fits_the_terminal_newest_first(env: dict[str, str]) -> None:
    result = run(env, "saved", "--user", "U1", columns=70)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 70 for line in lines), result.output
    order = [n for n in ("2610.00003", "2610.00002", "2610.00001") if n in result.output]
    assert order == ["2610.00003", "2610.00002", "2610.00001"]
    assert [result.output.index(n) for n in order] == sorted(result.output.index(n) for n in order)


def test_saved_bibtex_to_stdout_and_to_a_file(env: dict[str, str], tmp_path: Path) -> None:
    printed = run(env, "saved", "--user", "U1", "--team", "T1", "--bibtex")
    assert printed.exit_code == 0, printed.output
    library = parse_string(printed.output)
    assert not library.failed_blocks
    assert [e.fields_dict["eprint"].value for e in library.entries] == [
        "2610.00003",
        "2610.00002",
        "2610.00001",
    ]
    out = tmp_path / "saved.bib"
    written = run(env, "saved", "--user", "U1", "--output", str(out))
    assert written.exit_code == 0, written.output
    assert out.read_text("utf-8") == printed.output
    assert "wrote 3 entries" in written.output


def test_saved_asks_for_the_team_when_there_are_several(env: dict[str, str]) -> None:
    several = run(env, "saved", "--user", "U2")
    assert several.exit_code != 0
    assert "U2 saved papers in 2 workspaces (T2, T3)" in several.output
    assert "--team" in several.output and "Traceback" not in several.output
    one = run(env, "saved", "--user", "U2", "--team", "T3", "--bibtex")
    assert one.output.count("@misc{") == 1 and "2610.00002" in one.output
    nobody = run(env, "saved", "--user", "U404")
    assert nobody.exit_code == 0 and "U404 has no saved papers." in nobody.output


def test_saved_says_when_the_file_cannot_be_written(env: dict[str, str], tmp_path: Path) -> None:
    result = run(env, "saved", "--user", "U1", "--output", str(tmp_path / "no" / "such.bib"))
    assert result.exit_code != 0
    assert "cannot write" in result.output and "Traceback" not in result.output
