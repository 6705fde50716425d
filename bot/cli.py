"""The ``paperbot`` command: sources, polling, lookups, digests, the demo and the server."""

from __future__ import annotations

import difflib
import json
import logging
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

import click
from click.core import ParameterSource
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from digests.errors import ConfigError, PaperbotError, QueryError
from digests.model import Digest, PaperHit, SourceInfo, SourceSpec
from digests.query import VALID_TERMS, parse_query
from digests.render import format_ago, wrap_text
from digests.settings import OPTIONS, Settings
from digests.sourcefile import (
    check_location,
    check_tags,
    format_interval,
    load_sources,
    parse_interval,
    parse_kind,
    read_sources_file,
)
from digests.sourcestatus import source_status
from digests.store import (
    ArchivedDigest,
    Store,
    create_db_engine,
    schema_revision,
    upgrade,
    wait_for_database,
)
from digests.topics import TopicRules, load_aliases, load_rules

if TYPE_CHECKING:
    from digests.ingest import SourceReport
    from digests.summarize import Summarizer

# Subcommands import their heavy dependencies (httpx, feedparser, the digest pipeline)
# when they run, so that `paperbot query` and `--help` start quickly.

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


class PaperbotGroup(click.Group):
    """The top command: its help ends with every setting, from the one settings table."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Settings (environment variables)"):
            formatter.write_dl(
                [
                    (name, f"{what} (default: {default.strip('()')})")
                    for name, (default, what) in OPTIONS.items()
                ],
                col_max=max(map(len, OPTIONS)),
            )
            formatter.write_paragraph()
            formatter.write_text("Slack's own variables: see `paperbot serve --help`.")
        super().format_epilog(ctx, formatter)


@click.group(
    cls=PaperbotGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="paperbot")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """paperbot: collects papers from arXiv, Hugging Face, curated weekly lists and
    paper-note pages into one store, and answers lookups and weekly digests.

    Settings come from the environment (listed below).
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s"
    )
    with readable_errors(config_hint=SETTINGS_HINT):
        settings = Settings.from_env()
    runtime = Runtime(settings=settings, out=Console(), err=Console(stderr=True, highlight=False))
    ctx.obj = runtime
    ctx.call_on_close(runtime.close)


# -- db ----------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@pass_runtime
def db_upgrade(rt: Runtime) -> None:
    """Create or upgrade the database schema to the newest version."""
    with readable_errors():
        engine = create_db_engine(rt.settings.database_url)
        wait_for_database(
            engine,
            attempts=rt.settings.db_connect_attempts,
            delay=rt.settings.db_connect_delay,
        )
        before = schema_revision(engine)
        upgrade(engine)
        after = schema_revision(engine)
        engine.dispose()
    url = engine.url.render_as_string(hide_password=True)
    if before is None:
        said = f"created the database at revision {after}"
    elif before != after:
        said = f"upgraded the database from revision {before} to {after}"
    else:
        said = f"the database is up to date at revision {after}"
    click.echo(f"{said} ({url})")


# -- sources -----------------------------------------------------------------------------


@cli.group()
def sources() -> None:
    """Add, list and remove the sources paperbot polls."""


@sources.command("add")
@click.argument("location")
@click.option(
    "--kind", help="Source kind (rss and atom mean feed); detected from the content when left out."
)
@click.option("--name", help="A unique name, ignoring case (default: derived from the location).")
@click.option("--interval", default="6h", show_default=True, help="How often to check.")
@click.option("--tag", "tags", multiple=True, help="Tag every paper of this source (repeat).")
@pass_runtime
def sources_add(
    rt: Runtime,
    location: str,
    kind: str | None,
    name: str | None,
    interval: str,
    tags: tuple[str, ...],
) -> None:
    """Add a source: an http(s) URL, a file:// URL or a local path.

    A local file must exist and be readable. Adding again a source that was retired, at
    the same location, restores it with its papers.
    """
    with readable_errors():
        location = check_location(location)
        name = (default_source_name(location) if name is None else name).strip()
        if not name:
            fail("--name is empty: give the source a name")
        spec = SourceSpec(
            name=name,
            location=location,
            kind=parse_kind(kind) if kind is not None else None,
            interval_seconds=parse_interval(interval),
            tags=check_tags(tags),
            origin="cli",
        )
        before = rt.store.get_source(name)
        info = rt.store.add_source(spec, now=rt.clock())
    # A name already taken was refused, unless it was a retired source's: restored.
    done = "restored retired source" if before is not None else "added source"
    papers = f", {info.paper_count} papers kept" if before is not None else ""
    rt.out.print(
        f"{done} [bold]{escape(info.name)}[/] ({info.kind or 'kind detected on fetch'}, "
        f"every {format_interval(info.interval_seconds)}{papers}): {escape(info.location)}"
    )


def default_source_name(location: str) -> str:
    parts = urlsplit(location)
    if parts.scheme in ("http", "https"):
        tail = parts.path.rstrip("/").rsplit("/", 1)[-1]
        return f"{parts.netloc}/{tail}" if tail else parts.netloc
    return Path(parts.path if parts.scheme == "file" else location).name or location


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_runtime
def sources_list(rt: Runtime, as_json: bool) -> None:
    """List sources with their health: never polled, ok, failing (how many in a row, since
    when, the last error), stale, empty or retired (not polled; its papers stay)."""
    with readable_errors():
        found = rt.store.list_sources()
    now = rt.clock()
    if as_json:
        click.echo(json.dumps([_source_json(s, now) for s in found], ensure_ascii=False, indent=2))
        return
    retired = sum(1 for s in found if s.retired)
    title = f"{len(found)} sources" + (f" ({retired} retired)" if retired else "")
    table = Table(title=title, show_lines=False)
    for col in ("name", "kind", "every", "papers", "last success", "failures", "health"):
        table.add_column(col)
    for s in found:
        table.add_row(
            escape(s.name),
            s.kind.value if s.kind else "auto",
            format_interval(s.interval_seconds),
            str(s.paper_count),
            format_ago(s.last_success_at, now),
            str(s.consecutive_failures),
            escape(source_status(s).describe(now)),
        )
    rt.out.print(table)


def _source_json(s: SourceInfo, now: datetime) -> dict[str, Any]:
    return {
        "name": s.name,
        "kind": s.kind.value if s.kind else None,
        "location": s.location,
        "interval": format_interval(s.interval_seconds),
        "tags": list(s.tags),
        "origin": s.origin,
        "papers": s.paper_count,
        "last_success": s.last_success_at.isoformat() if s.last_success_at else None,
        "consecutive_failures": s.consecutive_failures,
        "last_error": s.last_error,
        "retired_at": s.retired_at.isoformat() if s.retired_at else None,
        "health": source_status(s).as_json(now),
    }


@sources.command("remove")
@click.argument("name")
@click.option(
    "--purge",
    is_flag=True,
    help="Delete the source and its mentions instead of retiring it (cannot be undone).",
)
@pass_runtime
def sources_remove(rt: Runtime, name: str, purge: bool) -> None:
    """Retire a source: it is no longer polled, and its papers and their history stay
    (past digests keep them; `sources add` at the same location brings it back).

    With --purge, delete the source and its mentions: papers stay while other sources
    list them. A source from the sources file is removed there first.
    """
    with readable_errors():
        info = rt.store.get_source(name)
        if info is None:
            names = ", ".join(s.name for s in rt.store.list_sources(with_counts=False))
            fail(f"no source named {name!r}", hint=f"sources: {names}")
        if info.origin == "file" and not info.retired:
            then = ", then purge it" if purge else " (its papers stay)"
            fail(
                f"{info.name!r} comes from {rt.settings.sources_file}",
                hint=f"remove it from that file: paperbot retires it on the next start{then}",
            )
        if purge:
            gone = rt.store.purge_source(info.id)
            rt.out.print(f"purged source {escape(info.name)}: deleted {gone} mentions")
            return
        mentions = rt.store.mention_count(info.id)
        command = f"paperbot sources remove {shlex.quote(info.name)} --purge"
        purge_hint = f"`{escape(command)}` deletes its {mentions} mentions"
        if rt.store.retire_source(info.id, now=rt.clock()):
            rt.out.print(
                f"retired source {escape(info.name)}: no longer polled; its "
                f"{info.paper_count} papers stay. {purge_hint}"
            )
        else:
            rt.out.print(f"{escape(info.name)} was already retired. {purge_hint}")


# -- poll --------------------------------------------------------------------------------


# What `paperbot poll` tells cron: 0 and 1 keep their usual meaning, 2 is click's.
EXIT_SOME_FAILED = 3


@cli.command()
@click.option("--source", "names", multiple=True, help="Poll only this source (repeat).")
@pass_runtime
def poll(rt: Runtime, names: tuple[str, ...]) -> None:
    """Poll sources now and print a report per source, then each failure in full.

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
    print_reports(rt.out, reports)
    failed = sum(1 for r in reports if not r.ok)
    if failed:
        sys.exit(1 if failed == len(reports) else EXIT_SOME_FAILED)


def run_poll(rt: Runtime, chosen: Sequence[SourceInfo]) -> list[SourceReport]:
    """Poll with a progress bar on the terminal (quiet when output is not a terminal)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from digests.gcpause import collector_paused
    from digests.ingest import fetch_settings_for, poll_sources

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=rt.err,
        transient=True,
        disable=not rt.err.is_terminal,
    ) as progress:
        task = progress.add_task("polling", total=len(chosen))

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


def print_wrapped(
    out: Console, text: str, *, first: str = "", rest: str = "", style: str | None = None
) -> None:
    """Text wrapped to the terminal with its indent kept on every line (rich would start
    continuation lines at the margin), and never inside an English word."""
    for line in wrap_text(text, out.width, first, rest):
        out.print(line, style=style, markup=False, highlight=False, soft_wrap=True)


# -- query -------------------------------------------------------------------------------

# `query` and `digest` take their query terms the same way: any number of arguments,
# quoted or not, joined with spaces. A term may start with "-" (-tag:Survey excludes), so
# unknown short options are terms; "-h" is not a help option there, or "-hallucination"
# would show the help. An unknown "--option" is still an error (query_terms).
TERMS_SETTINGS: dict[str, Any] = {"ignore_unknown_options": True, "help_option_names": ["--help"]}


def query_terms(ctx: click.Context, terms: Sequence[str]) -> str:
    """The terms as one query text; a term like ``--jsn`` is a mistyped option."""
    for term in terms:
        if term.startswith("--") and len(term) > 2:
            name = term.split("=", 1)[0]
            known = [o for p in ctx.command.params for o in p.opts if o.startswith("--")]
            raise click.NoSuchOption(
                name, possibilities=difflib.get_close_matches(name, known), ctx=ctx
            )
    return " ".join(terms)


@cli.command(context_settings=TERMS_SETTINGS)
@click.argument("terms", nargs=-1, required=True, metavar="QUERY...")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of papers.")
@click.pass_context
def query(ctx: click.Context, terms: tuple[str, ...], as_json: bool) -> None:
    """Look papers up, e.g. paperbot query tag:Alignment since:4w -tag:Survey.

    \b
    Query terms:
    """
    rt = ctx.find_object(Runtime)
    assert rt is not None
    text = query_terms(ctx, terms)
    with readable_errors():
        try:
            q = parse_query(text, now=rt.clock(), tz=rt.settings.tz)
        except QueryError as e:
            fail(str(e))
        page = rt.store.search(q)
    if as_json:
        click.echo(json.dumps([hit_json(h) for h in page.hits], ensure_ascii=False, indent=2))
        return
    print_hits(rt.out, page.hits, has_more=page.has_more)


# The docstring ends in the closing quotes' indent: the first term must not add to it.
query.help = (query.help or "").rstrip(" ") + "\n".join(
    "      " + line for line in VALID_TERMS.splitlines()
)


def hit_json(hit: PaperHit) -> dict[str, Any]:
    return {
        "id": hit.key,
        "title": hit.title,
        "url": hit.url,
        "authors": list(hit.authors),
        "tags": list(hit.tags),
        "sources": list(hit.sources),
        "summary": hit.summary,
        "first_seen": hit.first_seen.isoformat(),
        "arxiv_id": hit.arxiv_id,
        "pdf": hit.links.pdf,
        "code": hit.links.code,
    }


def print_hits(out: Console, hits: Sequence[PaperHit], *, has_more: bool) -> None:
    if not hits:
        out.print("No papers match. Try fewer terms, or `paperbot poll` to fetch sources.")
        return
    for i, hit in enumerate(hits, start=1):
        number = f"{i}. "
        pad = " " * len(number)
        print_wrapped(out, hit.title, first=number, rest=pad, style="bold")
        authors = [a for a in hit.authors if a.strip()]
        if authors:
            more = f" +{len(authors) - 3}" if len(authors) > 3 else ""
            print_wrapped(out, ", ".join(authors[:3]) + more, first=pad, rest=pad)
        if hit.url:  # never wrapped: a URL cut in two is not clickable
            out.print(f"{pad}{hit.url}", markup=False, highlight=False, soft_wrap=True)
        if hit.tags:
            print_wrapped(out, " ".join(f"#{t}" for t in hit.tags[:10]), first=pad, rest=pad)
        print_wrapped(out, f"sources: {', '.join(hit.sources)}", first=pad, rest=pad)
        if hit.summary:
            summary = " ".join(hit.summary.split())
            cut = f"{summary[:240]}{'…' if len(summary) > 240 else ''}"
            print_wrapped(out, cut, first=pad, rest=pad)
    if has_more:
        out.print("… more results: add limit:N or narrow the query")


def main() -> None:
    cli(prog_name="paperbot")


# -- digest ------------------------------------------------------------------------------


def make_summarizer(rt: Runtime) -> Summarizer:
    """Extractive offline; a model endpoint when PAPERBOT_LLM_* is set (cached in the db)."""
    from digests.digest import StoreSummaryCache
    from digests.summarize import ExtractiveSummarizer, create_summarizer

    if rt.settings.llm is None:
        return ExtractiveSummarizer()
    return create_summarizer(rt.settings.llm, cache=StoreSummaryCache(rt.store, rt.clock))


def digest_json(digest: Digest) -> dict[str, Any]:
    from digests.render import digest_notice

    return {
        "id": digest.digest_id,
        "week": digest.week,
        "tz": digest.tz,
        "scope": digest.scope,
        "candidates": digest.candidates,
        "notice": digest_notice(digest),
        "items": [
            {
                "rank": item.rank,
                "title": item.title,
                "url": item.url,
                "authors": list(item.authors),
                "score": item.score,
                "reasons": [{"label": r.label, "points": r.points} for r in item.reasons],
                "why": " · ".join(r.label for r in item.reasons),
                "summary": item.summary,
                "tags": list(item.tags),
                "pdf": item.links.pdf,
                "code": item.links.code,
            }
            for item in digest.items
        ],
        "sources": [
            {"name": s.name, "mentions": s.mentions, "status": s.status, "error": s.error}
            for s in digest.sources
        ],
    }


def print_digest(rt: Runtime, digest: Digest, fmt: str) -> None:
    from digests.render import render_digest_messages, render_digest_text

    if fmt == "blocks":
        click.echo(json.dumps(render_digest_messages(digest), ensure_ascii=False, indent=2))
    elif fmt == "json":
        click.echo(json.dumps(digest_json(digest), ensure_ascii=False, indent=2))
    else:
        click.echo(render_digest_text(digest, width=min(rt.out.width, 100)))


@cli.command(context_settings=TERMS_SETTINGS)
@click.argument("terms", nargs=-1, metavar="[QUERY]...")
@click.option("--week", help="ISO week like 2025-W34 (default: the current week).")
@click.option("--tz", help="Time zone the week is cut in (default: PAPERBOT_TZ or UTC).")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--lang", type=click.Choice(["ja", "en"]), help="Prefer summaries in this language.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "blocks", "json"]),
    default="text",
    show_default=True,
    help="text for the terminal, blocks for the Slack messages, json for the ranking.",
)
@click.option("--list", "list_", is_flag=True, help="List archived digests (text or json).")
@click.option("--show", "show_id", type=int, help="Show an archived digest again, as built.")
@click.pass_context
def digest(
    ctx: click.Context,
    terms: tuple[str, ...],
    week: str | None,
    tz: str | None,
    top: int,
    lang: str | None,
    fmt: str,
    list_: bool,
    show_id: int | None,
) -> None:
    """Build the "top papers of the week" digest, e.g. paperbot digest tag:Alignment.

    Each paper comes with a short summary and the reasons it is there. The digest is
    archived (again only when it changed): --list shows past digests and --show ID prints
    one again as it was built, so neither takes query terms, --week, --tz, --top or --lang.
    """
    from digests.digest import DigestRequest, build_and_archive
    from digests.weeks import YEARS, parse_week, week_bounds, week_of

    rt = ctx.find_object(Runtime)
    assert rt is not None
    text = query_terms(ctx, terms)
    if list_ or show_id is not None:
        building = [
            name
            for name, given in (
                ("query terms", bool(terms)),
                ("--week", week is not None),
                ("--tz", tz is not None),
                ("--top", ctx.get_parameter_source("top") is not ParameterSource.DEFAULT),
                ("--lang", lang is not None),
                ("--show", list_ and show_id is not None),
                ("--format blocks", list_ and fmt == "blocks"),  # the archive is no message
            )
            if given
        ]
        if building:
            what = "--list lists the archive" if list_ else "--show prints a digest as built"
            raise click.UsageError(f"{what}: leave out {', '.join(building)}", ctx=ctx)
    with readable_errors():
        if list_:
            print_archive(rt, fmt)
            return
        if show_id is not None:
            found = rt.store.digest_row(show_id)
            if found is None:
                fail(f"no digest with id {show_id}", hint="paperbot digest --list")
            start, end = week_bounds(parse_week(found.week), found.tz)
            loaded = rt.store.load_digest(show_id, start=start, end=end)
            assert loaded is not None
            print_digest(rt, loaded, fmt)
            return
        zone = tz or rt.settings.tz
        now = rt.clock()
        chosen_week = parse_week(week) if week else week_of(now, zone)
        if chosen_week.year not in YEARS:
            fail(f"week {week}: the year must be from {YEARS[0]} to {YEARS[-1]}")
        try:
            q = parse_query(text, now=now, tz=zone) if terms else None
        except QueryError as e:
            fail(str(e))
        request = DigestRequest(
            week=chosen_week,
            tz=zone,
            query=q,
            top=top,
            lang=lang,
            summary_chars=rt.settings.summary_chars,
        )
        built = build_and_archive(
            rt.store,
            request,
            now=now,
            summarizer=make_summarizer(rt),
            weights=rt.settings.rank_weights,
        )
    print_digest(rt, built, fmt)


def print_archive(rt: Runtime, fmt: str) -> None:
    found = rt.store.list_digests()
    if fmt == "json":
        click.echo(json.dumps([archived_json(d) for d in found], ensure_ascii=False, indent=2))
        return
    if not found:
        rt.out.print("No digests yet: `paperbot digest` builds one.")
        return
    table = Table(title="archived digests")
    for col in ("id", "week", "scope", "items", "built", "for"):
        table.add_column(col)
    for d in found:
        table.add_row(
            str(d.id),
            d.week,
            escape(d.scope or "everything"),
            str(d.items),
            d.built_at.strftime("%Y-%m-%d %H:%M UTC"),
            f"subscription {d.subscription_id}" if d.subscription_id else "command line",
        )
    rt.out.print(table)


def archived_json(d: ArchivedDigest) -> dict[str, Any]:
    return {
        "id": d.id,
        "week": d.week,
        "tz": d.tz,
        "query": d.query,
        "scope": d.scope,
        "lang": d.lang,
        "items": d.items,
        "built_at": d.built_at.isoformat(),
        "subscription_id": d.subscription_id,
    }


# -- demo --------------------------------------------------------------------------------


@cli.command()
@click.option("--keep", is_flag=True, help="Keep the demo database and print where it is.")
@pass_runtime
def demo(rt: Runtime, keep: bool) -> None:
    """Run paperbot offline on bundled sample sources, in a throwaway SQLite database.

    Polls the samples (an arXiv listing, Hugging Face Daily Papers, a weekly list, a
    paper-notes tag page, a per-paper summary page and a translated weekly list), shows
    the `tag:Alignment` lookup, then the digest of the latest week in the samples.
    """
    from bot.demo import demo_dir, demo_settings, demo_specs, make_workdir
    from digests.digest import DigestRequest, build_and_archive
    from digests.render import render_digest_text
    from digests.weeks import week_of

    workdir = make_workdir()
    demo_rt = Runtime(
        settings=demo_settings(rt.settings, workdir), out=rt.out, err=rt.err, clock=rt.clock
    )
    try:
        with readable_errors():
            store = demo_rt.store
            for spec in demo_specs(demo_dir()):
                store.add_source(spec, now=rt.clock())
            reports = run_poll(demo_rt, store.list_sources(with_counts=False))
            print_reports(rt.out, reports)
            rt.out.print(
                f"\n{store.paper_count()} papers from {len(reports)} sources "
                "(one record per paper, however many sources mention it)\n"
            )
            rt.out.rule("paperbot query 'tag:Alignment'")
            page = store.search(parse_query("tag:Alignment limit:5", now=rt.clock()))
            print_hits(rt.out, page.hits, has_more=page.has_more)
            latest = store.latest_mention_at()
            if latest is not None:
                week = week_of(latest, rt.settings.tz)
                rt.out.print()
                rt.out.rule(f"paperbot digest --week {week.label}")
                built = build_and_archive(
                    store,
                    DigestRequest(week=week, tz=rt.settings.tz, top=5),
                    now=rt.clock(),
                    weights=rt.settings.rank_weights,
                )
                click.echo(render_digest_text(built, width=min(rt.out.width, 100)))
    finally:
        demo_rt.close()
        if keep:
            settings = demo_rt.settings
            reopen = " ".join(
                f"{name}={shlex.quote(value)}"
                for name, value in (
                    ("PAPERBOT_DATA_DIR", str(settings.data_dir)),
                    # Named too, so that a DATABASE_URL or sources file set in this
                    # shell does not win over the folder.
                    ("DATABASE_URL", settings.database_url),
                    ("PAPERBOT_SOURCES_FILE", str(settings.sources_file)),
                )
            )
            # click.echo, not rich: a command wrapped at the terminal's width breaks when
            # pasted.
            click.echo(f"\ndemo database kept in {workdir}; reopen it with:")
            click.echo(f"  {reopen} paperbot query 'tag:Alignment'")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# -- serve -------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="Port for HTTP mode (default: PORT, else 3000).",
)
@click.option(
    "--socket-mode",
    is_flag=True,
    help="Connect out to Slack over Socket Mode (needs SLACK_APP_TOKEN): no public URL.",
)
@pass_runtime
def serve(rt: Runtime, port: int | None, socket_mode: bool) -> None:
    """Run the Slack bot: /paper, its buttons, the App Home, polling and weekly digests.

    \b
    HTTP mode listens on 0.0.0.0:PORT for Slack at /slack/events (health: /healthz)
    and needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET. --socket-mode needs
    SLACK_BOT_TOKEN and SLACK_APP_TOKEN. Other settings: SLACK_API_URL, PAPERBOT_ADMINS
    (comma-separated user ids that are admins whatever Slack says).
    """
    # Imported here: the Slack and web stacks are only needed by this command.
    from bot.config import BotSettings, SlackSettings
    from bot.server import serve as serve_bot

    with readable_errors(config_hint="see `paperbot serve --help` for Slack's settings"):
        settings = BotSettings(core=rt.settings, slack=SlackSettings.from_env())
        if socket_mode:
            settings.slack.require_socket()
        else:
            settings.slack.require_http()
    # The token now lives in the settings. Bolt's App reads SLACK_BOT_TOKEN from the
    # environment whatever it is given, and warns on every start that it goes unused
    # beside ``authorize``; child processes need not inherit it either.
    os.environ.pop("SLACK_BOT_TOKEN", None)
    with readable_errors():
        serve_bot(settings, store=rt.store, port=port, socket_mode=socket_mode, clock=rt.clock)
