"""``paperbot profile``: what a channel's profile is made of, from the command line."""

from __future__ import annotations

import io
import logging
import math
import os
import stat
from dataclasses import replace
from typing import BinaryIO

import click

from bot.cli.runtime import (
    Runtime,
    fail,
    pass_runtime,
    print_wrapped,
    progress_bar,
    readable_errors,
)
from digests.library_import import CLI_USER, MAX_LIBRARY_BYTES, nothing_readable, too_large


@click.group()
def profile() -> None:
    """A channel's interest profile: the papers it liked, and where they came from."""


def _read_limited(file: BinaryIO, limit: int, size: int | None) -> bytes:
    """The file's bytes; refused in one line when larger than ``limit``, before reading it
    (a regular file's size is known), or as soon as more than ``limit`` arrived (a pipe)."""
    if size is not None and (line := too_large(size, limit)) is not None:
        fail(line)
    data = file.read(limit + 1)
    if (line := too_large(len(data), limit, known=False)) is not None:
        fail(line)
    return data


def _known_team(rt: Runtime, team: str | None) -> str:
    """``--team``, else the one workspace the store has subscriptions in."""
    if team:
        return team
    teams = sorted({s.team_id for s in rt.store.list_subscriptions(active_only=False)})
    if len(teams) == 1:
        return teams[0]
    if not teams:
        fail("Say which Slack workspace with --team T…: no channel has subscribed yet.")
    fail(f"Say which Slack workspace with --team: the store knows {', '.join(teams)}.")


@profile.command("import")
@click.option("--channel", required=True, help="The Slack channel id (C…) whose profile to seed.")
@click.option(
    "--team",
    help="The Slack workspace id (T…); needed only when the store serves several workspaces.",
)
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
    from digests.enrich import Enricher, enrich_settings_for
    from digests.ingest import fetch_settings_for
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
        team_id = _known_team(rt, team)
        arxiv = Enricher(
            rt.store,
            fetch=fetch_settings_for(rt.settings),
            rules=rt.rules,
            clock=rt.clock,
            # Asked for now: no time budget (Ctrl-C keeps what was already stored).
            settings=replace(enrich_settings_for(rt.settings), budget=math.inf),
            say_offline=lambda line: None,  # the report's failure is said below
        )
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
