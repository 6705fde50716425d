"""The ``paperbot`` command: sources, polling, lookups, digests, the demo and the server."""

from __future__ import annotations

import logging

import click
from rich.console import Console

from bot.cli.demo import demo
from bot.cli.enrich import enrich
from bot.cli.index import index
from bot.cli.lookup import digest, query
from bot.cli.poll import poll
from bot.cli.profile import profile
from bot.cli.retag import retag
from bot.cli.runtime import SETTINGS_HINT, Runtime, readable_errors
from bot.cli.saved import saved
from bot.cli.serve import db, serve
from bot.cli.sources import sources
from digests.settings import OPTIONS, Settings

__all__ = ["cli", "main"]

# Subcommands import their heavy dependencies (httpx, feedparser, the digest pipeline)
# when they run, so that `paperbot query` and `--help` start quickly.


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


cli.add_command(db)
cli.add_command(sources)
cli.add_command(poll)
cli.add_command(enrich)
cli.add_command(index)
cli.add_command(retag)
cli.add_command(query)
cli.add_command(digest)
cli.add_command(saved)
cli.add_command(profile)
cli.add_command(demo)
cli.add_command(serve)


def main() -> None:
    cli(prog_name="paperbot")
