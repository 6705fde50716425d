"""``paperbot index``: compute the signatures "more like this" (``like:``) reads, now."""

from __future__ import annotations

import click

from bot.cli.runtime import Runtime, pass_runtime, progress_bar, readable_errors


@click.command()
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Index at most this many papers (default: all that wait).",
)
@pass_runtime
def index(rt: Runtime, limit: int | None) -> None:
    """Compute the signatures of the papers that wait for one: new papers, and papers
    whose text changed. A signature is a paper's most telling terms; like:ID queries
    read them.

    The server does this in the background after its polls, and `paperbot poll` at its
    end. Run it after upgrading to backfill a large store (a million papers take some
    minutes); it can be stopped with Ctrl-C and run again, and goes on where it stopped.

    \b
    Exit status:
      0  done (or nothing to index)
      1  paperbot could not run
    """
    from digests.index import index_papers

    with readable_errors():
        waiting = rt.store.unindexed_count()
        if waiting == 0:
            rt.out.print("Nothing to index: every paper has its signature.")
            return
        total = waiting if limit is None else min(limit, waiting)
        with progress_bar(rt, "indexing", total=total) as progress:
            task = progress.task_ids[0]
            report = index_papers(
                rt.store,
                clock=rt.clock,
                limit=limit,
                on_batch=lambda n: progress.advance(task, n),
            )
    rt.out.print(
        f"Indexed {report.indexed:,} papers in {report.seconds:.1f} s; "
        f"{report.left:,} left to index.",
        markup=False,
        highlight=False,
    )
