"""``paperbot sources``: add, list and remove the sources paperbot polls."""

from __future__ import annotations

import json
import shlex
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from rich.markup import escape
from rich.table import Table

from bot.cli.runtime import Runtime, fail, pass_runtime, readable_errors
from digests.families import source_family
from digests.model import SourceInfo, SourceSpec
from digests.render import format_ago
from digests.sourcefile import (
    check_family,
    check_location,
    check_tags,
    format_interval,
    parse_interval,
    parse_kind,
)
from digests.sourcestatus import source_status


@click.group()
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
@click.option(
    "--family",
    help="Who publishes it: sources of one family count once in ranking "
    "(default: from the kind and the address, e.g. arXiv, Hugging Face, a site's domain).",
)
@pass_runtime
def sources_add(
    rt: Runtime,
    location: str,
    kind: str | None,
    name: str | None,
    interval: str,
    tags: tuple[str, ...],
    family: str | None,
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
            family=check_family(family) if family is not None else None,
        )
        before = rt.store.get_source(name)
        info = rt.store.add_source(spec, now=rt.clock())
    # A name already taken was refused, unless it was a retired source's: restored.
    done = "restored retired source" if before is not None else "added source"
    papers = f", {info.paper_count} papers kept" if before is not None else ""
    rt.out.print(
        f"{done} [bold]{escape(info.name)}[/] ({info.kind or 'kind detected on fetch'}, "
        f"family {escape(_family(info))}, every {format_interval(info.interval_seconds)}"
        f"{papers}): {escape(info.location)}"
    )


def _family(s: SourceInfo) -> str:
    return source_family(s.name, s.location, s.kind, s.family)


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
    for col in ("name", "kind", "family", "every", "papers", "last success", "failures", "health"):
        table.add_column(col)
    for s in found:
        table.add_row(
            escape(s.name),
            s.kind.value if s.kind else "auto",
            escape(_family(s)),
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
        "family": _family(s),
        "family_set": s.family is not None,  # named by the operator, not worked out
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
