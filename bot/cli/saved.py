"""``paperbot saved``: a person's saved papers (🔖 in Slack) as a table or as BibTeX."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from bot.cli.runtime import Runtime, fail, pass_runtime, readable_errors


@click.command()
@click.option("--user", "user_id", required=True, help="Slack user id (U…) whose papers to show.")
@click.option(
    "--team",
    "team_id",
    help="Slack workspace id (T…); needed only when the user saved papers in several.",
)
@click.option("--bibtex", "as_bibtex", is_flag=True, help="Print BibTeX instead of a table.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the BibTeX to this file (implies --bibtex).",
)
@pass_runtime
def saved(
    rt: Runtime, user_id: str, team_id: str | None, as_bibtex: bool, output: Path | None
) -> None:
    """The papers a person saved with 🔖 in Slack, newest first.

    A table that fits the terminal, or with --bibtex every paper as a BibTeX entry
    (arXiv papers as @misc with eprint and archivePrefix), ready for a .bib file:
    paperbot saved --user U0123ABC --bibtex --output saved.bib
    """
    from digests.bibtex import bibtex

    with readable_errors():
        store = rt.store
        if team_id is None:
            teams = store.saved_teams(user_id)
            if len(teams) > 1:
                fail(
                    f"{user_id} saved papers in {len(teams)} workspaces ({', '.join(teams)})",
                    hint="choose one with --team",
                )
            team_id = teams[0] if teams else ""
        rows = store.saved_papers(team_id, user_id)
        cited = {p.paper_id: p for p in store.cited_papers([r.paper_id for r in rows])}
    papers = [(cited[r.paper_id], r.saved_at) for r in rows if r.paper_id in cited]
    if as_bibtex or output is not None:
        text = bibtex([p for p, _ in papers])
        if output is None:
            click.echo(text, nl=False)
            return
        try:
            output.write_text(text, "utf-8")
        except OSError as e:
            fail(f"cannot write {output}: {e.strerror or e}")
        rt.err.print(f"wrote {len(papers)} entries to {output}", markup=False, highlight=False)
        return
    if not papers:
        rt.out.print(f"{user_id} has no saved papers.", markup=False, highlight=False)
        return
    table = Table(title=f"Saved by {user_id}", title_justify="left", expand=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("saved", no_wrap=True)
    table.add_column("title", ratio=3, overflow="fold")
    table.add_column("authors", ratio=1, overflow="ellipsis", no_wrap=True)
    table.add_column("id", no_wrap=True)
    for number, (paper, saved_at) in enumerate(papers, start=1):
        authors = ", ".join(paper.authors[:2]) + (" …" if len(paper.authors) > 2 else "")
        ref = paper.arxiv_id or paper.doi or paper.key
        table.add_row(str(number), f"{saved_at:%Y-%m-%d}", paper.title, authors, ref)
    rt.out.print(table, markup=False, highlight=False)
