"""``paperbot retag``: give stored papers the topic tags the current rules give them."""

from __future__ import annotations

import click

from bot.cli.runtime import Runtime, pass_runtime, progress_bar, readable_errors


@click.command()
@click.option(
    "--chunk",
    type=click.IntRange(1, 10_000),
    default=500,
    show_default=True,
    help="Papers per transaction.",
)
@pass_runtime
def retag(rt: Runtime, chunk: int) -> None:
    """Recompute the topic tags (Alignment, Agents, ...) of every stored paper.

    Papers were tagged by the rules of the day they arrived. After an upgrade that
    changes the bundled rules, or after editing the file PAPERBOT_TOPICS_FILE names,
    run this once: `tag:` lookups and digests then follow the current rules. Only the
    tags the rules gave are touched; tags from sources (a notes page's #Tags, a
    source's own tags) and arXiv categories stay. Safe to interrupt and run again.
    """
    with readable_errors():
        rules, store = rt.rules, rt.store
        with progress_bar(rt, "retagging") as progress:
            task = progress.task_ids[0]

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            counts = store.retag_papers(rules, chunk=chunk, progress=advance)
    rt.out.print(
        f"{counts.papers} papers read, {counts.changed} changed: "
        f"{counts.added} topic tags given, {counts.removed} taken away",
        markup=False,
        highlight=False,
    )
