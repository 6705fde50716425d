"""Slack settings from the environment, validated once at start, with the domain settings."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from digests.errors import ConfigError
from digests.settings import Settings

DEFAULT_API_URL = "https://slack.com/api/"
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True, slots=True)
class SlackSettings:
    """Everything the Slack side needs. Secrets never appear in repr or logs."""

    bot_token: str = field(repr=False)
    signing_secret: str | None = field(repr=False)
    app_token: str | None = field(default=None, repr=False)  # Socket Mode
    api_url: str = DEFAULT_API_URL  # every Web API call goes here (tests, proxies)
    admins: frozenset[str] = frozenset()  # user ids that are admins whatever Slack says
    port: int = 3000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SlackSettings:
        env = os.environ if environ is None else environ
        missing = [n for n in ("SLACK_BOT_TOKEN",) if not env.get(n)]
        if missing:
            raise ConfigError(
                f"{', '.join(missing)} is not set: copy the Bot User OAuth Token "
                "(xoxb-…) from your Slack app's OAuth & Permissions page"
            )
        api_url = env.get("SLACK_API_URL") or DEFAULT_API_URL
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"SLACK_API_URL={api_url!r} is not an http(s) URL")
        if not api_url.endswith("/"):
            api_url += "/"  # WebClient joins method names onto it
        admins = frozenset(
            a.strip() for a in env.get("PAPERBOT_ADMINS", "").split(",") if a.strip()
        )
        bad = sorted(a for a in admins if not _USER_ID.match(a))
        if bad:
            raise ConfigError(
                f"PAPERBOT_ADMINS has {', '.join(bad)}, which are not Slack user ids (U…)"
            )
        port_raw = env.get("PORT") or "3000"
        if not port_raw.isdigit() or not 0 < int(port_raw) < 65536:
            raise ConfigError(f"PORT={port_raw!r} is not a port number")
        return cls(
            bot_token=env["SLACK_BOT_TOKEN"],
            signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            app_token=env.get("SLACK_APP_TOKEN") or None,
            api_url=api_url,
            admins=admins,
            port=int(port_raw),
        )

    def require_http(self) -> None:
        """HTTP mode verifies every request: it cannot run without the signing secret."""
        if not self.signing_secret:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is not set: HTTP mode needs it to verify that requests "
                "come from Slack (Basic Information page of your app), or use --socket-mode"
            )

    def require_socket(self) -> None:
        if not self.app_token:
            raise ConfigError(
                "SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-…) "
                "with the connections:write scope"
            )


@dataclass(frozen=True, slots=True)
class BotSettings:
    """The whole configuration of a running bot: domain settings plus Slack's."""

    core: Settings
    slack: SlackSettings

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BotSettings:
        return cls(core=Settings.from_env(environ), slack=SlackSettings.from_env(environ))
