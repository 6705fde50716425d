"""What every subcommand shares: the runtime (settings, store), readable errors, wrapped output."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn

import click
from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress

    from digests.enrich import Enricher

from digests.errors import ConfigError, PaperbotError
from digests.render import wrap_text
from digests.settings import Settings
from digests.sourcefile import load_sources, read_sources_file
from digests.store import Store
from digests.topics import TopicRules, load_aliases, load_rules

log = logging.getLogger("paperbot")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """What every subcommand shares: settings built once, and the store opened on demand."""

    settings: Settings
    out: Console
    err: Console
    clock: Callable[[], datetime] = utcnow
    _store: Store | None = None
    _rules: TopicRules | None = None

    @property
    def rules(self) -> TopicRules:
        if self._rules is None:
            self._rules = load_rules(self.settings.topics_file)
        return self._rules

    @property
    def store(self) -> Store:
        if self._store is None:
            # Only the aliases: compiling the topic patterns is for commands that ingest.
            topics = self.settings.topics_file
            aliases = self._rules.aliases if self._rules else load_aliases(topics)
            self._store = open_store(self.settings, aliases, now=self.clock(), say=_tell)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()


def _tell(line: str) -> None:
    click.echo(line, err=True)  # one line, never wrapped to the terminal's width


def open_store(
    settings: Settings,
    aliases: Sequence[tuple[str, str]],
    *,
    now: datetime,
    say: Callable[[str], None] = log.warning,
) -> Store:
    """Open (and upgrade) the database, then load the operator's sources file into it.

    What loading the file changed is told in one line through ``say``; nothing when
    nothing changed.
    """
    store = Store.open(
        settings.database_url,
        connect_attempts=settings.db_connect_attempts,
        connect_delay=settings.db_connect_delay,
    )
    try:
        listed = sum(1 for s in store.list_sources(with_counts=False) if s.origin == "file")
        text, created = read_sources_file(
            settings.sources_file,
            may_create=settings.sources_file_is_default and listed == 0,
            listed=listed,
        )
        if created:
            log.info("wrote the default sources to %s", settings.sources_file)
        specs = load_sources(text, where=str(settings.sources_file))
        line = store.sync_sources(specs, now=now).summary(str(settings.sources_file))
        if line:
            say(line)
        store.add_tag_aliases(dict(aliases))
    except BaseException:
        store.dispose()
        raise
    return store


def fail(message: str, *, hint: str | None = None) -> NoReturn:
    """Exit with a readable message instead of a traceback (click prefixes "Error: ")."""
    text = message
    if hint:
        text += f"\n  hint: {hint}"
    raise click.ClickException(text)


SETTINGS_HINT = "see `paperbot --help` for the settings"


@contextmanager
def readable_errors(*, config_hint: str | None = None) -> Iterator[None]:
    """PaperbotError -> one readable line; ``config_hint`` follows a ConfigError (the
    settings hint, where the settings are read)."""
    try:
        yield
    except ConfigError as e:
        fail(str(e), hint=config_hint)
    except PaperbotError as e:
        fail(str(e))


pass_runtime = click.make_pass_decorator(Runtime)


def print_wrapped(
    out: Console, text: str, *, first: str = "", rest: str = "", style: str | None = None
) -> None:
    """Text wrapped to the terminal with its indent kept on every line (rich would start
    continuation lines at the margin), and never inside an English word."""
    for line in wrap_text(text, out.width, first, rest):
        out.print(line, style=style, markup=False, highlight=False, soft_wrap=True)


@contextmanager
def progress_bar(rt: Runtime, label: str, total: int | None = None) -> Iterator[Progress]:
    """The one progress bar of long commands: on stderr, only on a terminal, gone when
    done; its task (id 0) starts as ``label`` with ``total`` (None: not known yet)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=rt.err,
        transient=True,
        disable=not rt.err.is_terminal,
    ) as progress:
        progress.add_task(label, total=total)
        yield progress


def arxiv_now(rt: Runtime, say_offline: Callable[[str], None]) -> Enricher:
    """The arXiv API client for a command run now: no time budget, since the operator
    asked (Ctrl-C keeps what was already stored)."""
    # Imported here: most commands never ask arXiv, and these load the fetch layer.
    from digests.enrich import Enricher, enrich_settings_for
    from digests.ingest import fetch_settings_for

    return Enricher(
        rt.store,
        fetch=fetch_settings_for(rt.settings),
        rules=rt.rules,
        clock=rt.clock,
        settings=replace(enrich_settings_for(rt.settings), budget=math.inf),
        say_offline=say_offline,
    )
