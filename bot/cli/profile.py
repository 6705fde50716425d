"""``paperbot profile``: seed, see and reset what a channel's feedback taught paperbot."""

from __future__ import annotations

import io
import logging
import os
import stat
from typing import BinaryIO

import click
from rich.table import Table

from bot.cli.runtime import (
    Runtime,
    arxiv_now,
    fail,
    pass_runtime,
    print_wrapped,
    progress_bar,
    readable_errors,
)
from digests.library_import import CLI_USER, MAX_LIBRARY_BYTES, nothing_readable, too_large

__all__ = ["profile", "resolve_team"]


def resolve_team(rt: Runtime, channel: str, team: str | None) -> str:
    """The workspace a command means: ``--team`` when given, else the only one in which
    the channel has a profile or a subscription, else the only one the store serves
    (several or none: say so)."""
    if team:
        return team
    teams = rt.store.channel_teams(channel)
    if len(teams) == 1:
        return teams[0]
    if teams:
        fail(
            f"channel {channel} is in {len(teams)} workspaces: {', '.join(teams)}",
            hint="give --team to choose one",
        )
    known = sorted({s.team_id for s in rt.store.list_subscriptions(active_only=False)})
    if len(known) == 1:
        return known[0]
    if not known:
        fail(
            f"channel {channel} has no profile or subscription in any workspace",
            hint="check the channel id (like C0123ABCD), or give --team T…",
        )
    fail(
        f"channel {channel} is in none of the workspaces the store serves: {', '.join(known)}",
        hint="give --team to choose one",
    )


_CHANNEL = click.option("--channel", required=True, help="The channel's id, like C0123ABCD.")
_TEAM = click.option(
    "--team", help="The workspace's id (needed only when the store serves several)."
)


@click.group()
def profile() -> None:
    """A channel's interest profile: seed it from a library, see it, reset it."""


def _read_limited(file: BinaryIO, limit: int, size: int | None) -> bytes:
    """The file's bytes; refused in one line when larger than ``limit``, before reading it
    (a regular file's size is known), or as soon as more than ``limit`` arrived (a pipe)."""
    if size is not None and (line := too_large(size, limit)) is not None:
        fail(line)
    data = file.read(limit + 1)
    if (line := too_large(len(data), limit, known=False)) is not None:
        fail(line)
    return data


@profile.command("import")
@_CHANNEL
@_TEAM
@click.option("--dry-run", is_flag=True, help="Read and look up the entries, change nothing.")
@click.argument("file", type=click.File("rb"))
@pass_runtime
def import_(rt: Runtime, channel: str, team: str | None, dry_run: bool, file: BinaryIO) -> None:
    """Seed a channel's profile from a reference library: every paper FILE names is liked
    for the channel, as if someone there had pressed 👍 on it.

    FILE (`-` for standard input) is a BibTeX or RIS export from Zotero, Mendeley and the
    like, or a plain list of arXiv ids, DOIs and links, one a line (`#` starts a comment).
    The format is read from the content. Each entry is found in the store by its arXiv
    id, DOI, link or exact title; an arXiv id the store does not know is looked up once
    on the arXiv API and stored as a paper (it counts as no source's in weekly rankings).
    Entries that cannot be read or found are listed with the reason; the rest are
    imported. Imported likes are recorded as user "cli", origin "import".

    \b
    Files over 5 MB are refused. Exit status:
      0  imported (unresolved entries, if any, are listed)
      1  the file could not be read, or paperbot could not run
    """
    from digests.library import decode_library, read_library
    from digests.library_import import import_library

    try:
        info = os.fstat(file.fileno())
        size = info.st_size if stat.S_ISREG(info.st_mode) else None
    except (OSError, ValueError, io.UnsupportedOperation):  # a stream without a file
        size = None
    data = _read_limited(file, MAX_LIBRARY_BYTES, size)
    # bibtexparser logs each broken entry at warning level; the report lists them once.
    logging.getLogger("bibtexparser").setLevel(logging.ERROR)
    library = read_library(decode_library(data))
    if (nothing := nothing_readable(library)) is not None:
        fail(f"{file.name}: {nothing}")
    with readable_errors():
        team_id = resolve_team(rt, channel, team)
        arxiv = arxiv_now(rt, lambda line: None)  # the report says a failure below
        with progress_bar(rt, "importing", total=library.size) as progress:
            task = progress.task_ids[0]
            report = import_library(
                rt.store,
                library,
                team_id=team_id,
                channel_id=channel,
                user_id=CLI_USER,
                now=rt.clock(),
                arxiv=arxiv,
                dry_run=dry_run,
                on_progress=lambda n: progress.advance(task, n),
            )
    if report.arxiv_failure is not None:  # said once, however many entries it left
        print_wrapped(
            rt.err,
            f"arXiv could not be asked ({report.arxiv_failure}): entries known only by an "
            "arXiv id the store lacks are listed as unresolved; import the file again later.",
        )
    rt.out.print(report.summary(), markup=False, highlight=False)
    for item in report.unresolved:
        print_wrapped(rt.out, str(item), first="  ", rest="    ")


@profile.command()
@_CHANNEL
@_TEAM
@click.pass_context
def show(ctx: click.Context, channel: str, team: str | None) -> None:
    """Show a channel's liked and muted papers, its strongest terms and when it changed."""
    from digests.digest import profile_report

    rt = ctx.find_object(Runtime)
    assert rt is not None
    with readable_errors():
        team_id = resolve_team(rt, channel, team)
        report = profile_report(rt.store, (team_id, channel), now=rt.clock())
    out = rt.out
    if report.empty:
        out.print(f"Channel {channel} ({team_id}) has no profile yet: no likes, mutes or imports.")
        if report.reset_at is not None:
            out.print(f"Last reset {report.reset_at:%Y-%m-%d %H:%M} UTC.")
        return
    changed = f"{report.changed_at:%Y-%m-%d %H:%M} UTC" if report.changed_at else "never"
    out.print(f"Profile of channel {channel} ({team_id}), last changed {changed}")
    if report.liked:
        table = Table(title=f"{len(report.liked)} liked", title_justify="left", expand=False)
        table.add_column("paper", overflow="fold")
        table.add_column("votes", justify="right")
        for title, votes in report.liked:
            table.add_row(title, str(votes))
        out.print(table)
    if report.muted:
        table = Table(
            title=f"{len(report.muted)} muted (never posted here again)", title_justify="left"
        )
        table.add_column("paper", overflow="fold")
        for title in report.muted:
            table.add_row(title)
        out.print(table)
    if report.terms:
        out.print("Strongest terms: " + ", ".join(report.terms), soft_wrap=False)


@profile.command()
@_CHANNEL
@_TEAM
@click.option("--yes", is_flag=True, help="Reset without asking.")
@click.pass_context
def reset(ctx: click.Context, channel: str, team: str | None, yes: bool) -> None:
    """Forget every like, mute and import of a channel (saved papers stay)."""
    rt = ctx.find_object(Runtime)
    assert rt is not None
    with readable_errors():
        team_id = resolve_team(rt, channel, team)
        if not yes and not click.confirm(
            f"Forget every like, mute and import of channel {channel} ({team_id})?",
            default=False,
        ):
            rt.out.print("Nothing was reset.")
            return
        gone = rt.store.reset_profile(team_id, channel, now=rt.clock())
    rt.out.print(
        f"Profile of channel {channel} ({team_id}) reset: "
        f"{gone} verdict{'s' if gone != 1 else ''} forgotten."
    )
