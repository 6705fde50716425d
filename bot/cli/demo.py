"""``paperbot demo``: paperbot offline on the bundled samples (helpers in ``bot.demo``)."""

from __future__ import annotations

import shlex
import shutil

import click

from bot.cli.lookup import print_hits
from bot.cli.poll import print_reports, run_poll
from bot.cli.runtime import Runtime, pass_runtime, readable_errors
from digests.query import parse_query


@click.command()
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
