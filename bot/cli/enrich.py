"""``paperbot enrich``: complete papers known by arXiv id from the arXiv API, now."""

from __future__ import annotations

import sys

import click

from bot.cli.runtime import (
    Runtime,
    arxiv_now,
    pass_runtime,
    print_wrapped,
    progress_bar,
    readable_errors,
)


@click.command()
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Ask about at most this many papers.",
)
@pass_runtime
def enrich(rt: Runtime, limit: int) -> None:
    """Ask the arXiv API about papers known by arXiv id that lack authors, an abstract,
    categories or arXiv's own title (curated picks, notes, Hugging Face), and print the
    papers completed.

    It asks export.arxiv.org politely: up to 100 ids a request, one request at a time
    at least 3 s apart, over one connection. Each paper is asked about once. The server
    does the same in the background after its polls unless PAPERBOT_ENRICH=off; this
    command runs whatever that setting says.

    \b
    Exit status:
      0  done (or nothing to ask)
      1  arXiv could not be reached (papers keep what their sources gave), or paperbot
         could not run
    """

    offline: list[str] = []
    with readable_errors():
        enricher = arxiv_now(rt, offline.append)
        with progress_bar(rt, "asking arXiv") as progress:
            task = progress.task_ids[0]
            report = enricher.run(
                limit=limit,
                on_chosen=lambda n: progress.update(task, total=n),
                on_batch=lambda n: progress.advance(task, n),
            )
    if report.asked == 0 and report.failure is None:
        rt.out.print("Nothing to ask arXiv about: every paper known by arXiv id is complete.")
        return
    if report.asked:
        requests = "1 request" if report.requests == 1 else f"{report.requests} requests"
        rt.out.print(
            f"Asked arXiv about {report.asked} papers in {requests} ({report.seconds:.1f} s): "
            f"{len(report.completed)} completed, {len(report.unknown)} unknown to arXiv, "
            f"{report.left} left for later.",
            markup=False,
            highlight=False,
        )
    for arxiv_id, title in report.completed:
        print_wrapped(rt.out, f"{arxiv_id} {title}", first="  ", rest="    ")
    for line in offline:  # said once, however many requests it stopped
        print_wrapped(rt.err, line)
    if report.failure is not None:
        sys.exit(1)
