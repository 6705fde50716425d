"""Running the bot (the Procfile's two commands): ``db upgrade`` and ``serve``."""

from __future__ import annotations

import os

import click

from bot.cli.runtime import Runtime, pass_runtime, readable_errors
from digests.store import create_db_engine, schema_revision, upgrade, wait_for_database


@click.group()
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


@click.command()
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
