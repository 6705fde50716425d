"""``paperbot poll``: poll sources now, with a report per source."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.cli.runtime import (
    Runtime,
    fail,
    pass_runtime,
    print_wrapped,
    progress_bar,
    readable_errors,
)
from digests.model import SourceInfo

if TYPE_CHECKING:
    from digests.ingest import SourceReport


# What `paperbot poll` tells cron: 0 and 1 keep their usual meaning, 2 is click's.
EXIT_SOME_FAILED = 3


@click.command()
@click.option("--source", "names", multiple=True, help="Poll only this source (repeat).")
@pass_runtime
def poll(rt: Runtime, names: tuple[str, ...]) -> None:
    """Poll sources now and print a report per source, then each failure in full.

    The papers it brought then get their signatures for like: queries (as after
    `paperbot index`).

    \b
    Exit status:
      0  every source was polled (or there are none)
      3  some sources failed; the others were polled
      1  every source failed, or paperbot could not run (settings, database)
      2  the command line was wrong
    """
    with readable_errors():
        chosen = rt.store.list_sources(names=list(names) if names else None, with_counts=False)
        missing = set(names) - {s.name for s in chosen}
        if missing:
            fail(f"no source named {', '.join(sorted(missing))}")
        retired = [s.name for s in chosen if s.retired]
        if names and retired:
            fail(
                f"{', '.join(retired)}: retired, not polled",
                hint="listed in the sources file again, or added again, it is polled again",
            )
        chosen = [s for s in chosen if not s.retired]
        reports = run_poll(rt, chosen)
        if any(r.new or r.updated for r in reports):
            run_index(rt)
    print_reports(rt.out, reports)
    failed = sum(1 for r in reports if not r.ok)
    if failed:
        sys.exit(1 if failed == len(reports) else EXIT_SOME_FAILED)


def run_poll(rt: Runtime, chosen: Sequence[SourceInfo]) -> list[SourceReport]:
    """Poll with a progress bar on the terminal (quiet when output is not a terminal)."""
    from digests.gcpause import collector_paused
    from digests.ingest import fetch_settings_for, poll_sources

    with progress_bar(rt, "polling", total=len(chosen)) as progress:
        task = progress.task_ids[0]

        def advance(report: SourceReport) -> None:
            progress.update(task, advance=1, description=f"polled {report.name}")

        return poll_sources(
            rt.store,
            chosen,
            fetch_settings=fetch_settings_for(rt.settings),
            rules=rt.rules,
            clock=rt.clock,
            on_report=advance,
            around_batch=collector_paused,  # a one-shot command: no server shares the process
        )


def run_index(rt: Runtime) -> None:
    """The signatures of what the poll brought (``like:`` reads them), after it: a poll
    never waits on them."""
    from digests.index import index_papers

    with progress_bar(rt, "indexing", total=rt.store.unindexed_count()) as progress:
        task = progress.task_ids[0]
        index_papers(rt.store, clock=rt.clock, on_batch=lambda n: progress.advance(task, n))


def print_reports(out: Console, reports: Sequence[SourceReport]) -> None:
    """A table that fits the terminal, then each error whole below it (not cut in a cell)."""
    table = Table(title="poll report")
    table.add_column("source")
    table.add_column("result")
    for col in ("entries", "new", "updated", "skipped"):
        table.add_column(col, justify="right")
    for r in reports:
        table.add_row(
            escape(r.name),
            r.status.replace("_", " "),
            str(r.entries),
            str(r.new),
            str(r.updated),
            str(r.skipped),
        )
    out.print(table)
    failed = [r for r in reports if r.error]
    if failed:
        out.print(f"\n{len(failed)} of {len(reports)} sources failed:", markup=False)
        for r in failed:
            print_wrapped(out, f"{r.name}: {r.error}", first="  ", rest="    ")
    for r in reports:
        for problem in r.problems[:5]:
            print_wrapped(out, f"{r.name}: skipped entry: {problem}", first="  ", rest="    ")
