"""``paperbot query`` and ``paperbot digest``: look papers up, build or show a week's digest."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.cli.runtime import Runtime, fail, print_wrapped, readable_errors
from digests.errors import QueryError
from digests.model import Digest, PaperHit
from digests.query import VALID_TERMS, parse_query
from digests.store import ArchivedDigest

if TYPE_CHECKING:
    from digests.summarize import Summarizer


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


@click.command(context_settings=TERMS_SETTINGS)
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
        if hit.reason:
            print_wrapped(out, hit.reason, first=pad, rest=pad)
        if hit.summary:
            summary = " ".join(hit.summary.split())
            cut = f"{summary[:240]}{'…' if len(summary) > 240 else ''}"
            print_wrapped(out, cut, first=pad, rest=pad)
    if has_more:
        out.print("… more results: add limit:N or narrow the query")


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


@click.command(context_settings=TERMS_SETTINGS)
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
@click.option(
    "--channel",
    help="Build the digest this channel would get: its subscription's filter (unless terms "
    "are given), its profile and what it was already sent. Not archived.",
)
@click.option("--team", help="The channel's workspace (needed only when the id is in several).")
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
    channel: str | None,
    team: str | None,
    list_: bool,
    show_id: int | None,
) -> None:
    """Build the "top papers of the week" digest, e.g. paperbot digest tag:Alignment.

    Each paper comes with a short summary and the reasons it is there. The digest is
    archived (again only when it changed): --list shows past digests and --show ID prints
    one again as it was built, so neither takes query terms, --week, --tz, --top or --lang.
    """
    from digests.digest import (
        DigestRequest,
        build_and_archive,
        build_digest,
        load_profiles,
    )
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
                ("--channel", channel is not None),
                ("--team", team is not None),
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
        if team is not None and channel is None:
            raise click.UsageError("--team goes with --channel", ctx=ctx)
        if channel is not None:
            from bot.cli.profile import resolve_team

            team_id = resolve_team(rt, channel, team)
            subs = rt.store.list_subscriptions(team_id=team_id, channel_id=channel)
            if q is None and subs:
                if len(subs) > 1:
                    rt.err.print(
                        f"channel {channel} has {len(subs)} subscriptions; "
                        f"using #{subs[0].id}'s filter (give terms to use another)"
                    )
                sub_text = subs[0].query
                q = parse_query(sub_text, now=now, tz=subs[0].tz) if sub_text else None
            profile = load_profiles(rt.store, [(team_id, channel)], now=now)[(team_id, channel)]
            request = replace(
                request, query=q, team_id=team_id, channel_id=channel, profile=profile
            )
            if subs:
                # The subscription's size and language unless the command gives its own.
                if ctx.get_parameter_source("top") is ParameterSource.DEFAULT:
                    request = replace(request, top=subs[0].top)
                if lang is None:
                    request = replace(request, lang=subs[0].lang)
            # What the channel would get, shown, not archived: nothing was posted.
            preview = build_digest(
                rt.store,
                request,
                now=now,
                summarizer=make_summarizer(rt),
                weights=rt.settings.rank_weights,
            )
            print_digest(rt, preview, fmt)
            return
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
