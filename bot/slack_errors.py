"""What a Slack error means for a digest post: wait, try again, or give up, and what admins hear."""

from __future__ import annotations

import http.client
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.error import URLError

from slack_sdk.errors import SlackApiError

__all__ = [
    "NETWORK_ERRORS",
    "PAUSING_ERRORS",
    "PERMANENT_ERRORS",
    "TRANSIENT_ERRORS",
    "Failure",
    "Permanent",
    "RetryLater",
    "classify_api_error",
    "classify_network_error",
    "failure_hint",
]

# The channel cannot take messages from us any more: pause the subscription.
PAUSING_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived"})
# Slack's own words for "try again": answered with HTTP 200 or 5xx.
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_TOKEN_ERRORS = frozenset(
    {"account_inactive", "invalid_auth", "token_revoked", "token_expired", "not_authed"}
)
_MESSAGE_ERRORS = frozenset(
    {
        "msg_too_long",
        "msg_blocks_too_long",
        "invalid_blocks",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "no_text",
    }
)
# Retrying cannot help; the listed ones get a specific hint for the admins.
PERMANENT_ERRORS = (
    PAUSING_ERRORS
    | _TOKEN_ERRORS
    | _MESSAGE_ERRORS
    | frozenset(
        {
            "missing_scope",
            "no_permission",
            "restricted_action",
            "team_access_not_granted",
            "thread_not_found",
        }
    )
)
_DEFAULT_RETRY_AFTER = 1.0


@dataclass(frozen=True, slots=True)
class Failure:
    kind: Literal["rate", "transient", "permanent"]
    code: str
    retry_after: float = 0.0
    maybe_sent: bool = False  # the request may have reached Slack and been served


class RetryLater(Exception):
    """Not now: the claim goes back to pending and a later run tries again."""

    def __init__(self, error: str, *, slack_down: bool = False) -> None:
        super().__init__(error)
        self.error = error
        self.slack_down = slack_down


class Permanent(Exception):
    """Trying again cannot help: the delivery fails for good and admins are told."""

    def __init__(self, code: str, *, checking: bool = False) -> None:
        super().__init__(code)
        self.code = code
        self.checking = checking  # failed while looking for an earlier post, not posting


def _retry_after(headers: Mapping[str, Any]) -> float:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            try:
                return max(float(raw), 0.0)
            except (TypeError, ValueError):
                break
    return _DEFAULT_RETRY_AFTER


def classify_api_error(e: SlackApiError) -> Failure:
    status = int(getattr(e.response, "status_code", 0) or 0)
    code = str(e.response.get("error") or f"http_{status}")
    if status == 429 or code == "ratelimited":
        return Failure("rate", "ratelimited", retry_after=_retry_after(e.response.headers))
    if status >= 500 or code in TRANSIENT_ERRORS:
        # Slack may have done the work before failing to answer.
        label = code if code in TRANSIENT_ERRORS else f"http_{status}"
        return Failure("transient", label, maybe_sent=True)
    return Failure("permanent", code)


def classify_network_error(e: Exception) -> Failure:
    reason = e.reason if isinstance(e, URLError) else e
    if isinstance(reason, ConnectionRefusedError):
        return Failure("transient", "connection_refused", maybe_sent=False)
    if isinstance(reason, TimeoutError):
        return Failure("transient", "timeout", maybe_sent=True)
    return Failure("transient", f"network_error:{type(reason).__name__}", maybe_sent=True)


NETWORK_ERRORS = (URLError, OSError, http.client.HTTPException)


def failure_hint(code: str, paused: bool, checking: bool) -> str:
    if checking and code in ("missing_scope", "no_permission"):
        return (
            "paperbot could not check whether this digest was already posted, so it did not "
            "post it again (a duplicate is worse than a gap); give the app the "
            "channels:history and groups:history scopes and reinstall it"
        )
    if code == "channel_not_found":
        hint = "the channel is gone, or private without the bot"
    elif code == "not_in_channel":
        hint = "the bot is not a member of this private channel"
    elif code == "is_archived":
        hint = "the channel is archived"
    elif code in _TOKEN_ERRORS:
        hint = "the bot's token no longer works; reinstall the app (subscriptions stay on)"
    elif code == "missing_scope":
        hint = "the app lacks a permission; reinstall it with the scopes of its manifest"
    elif code in _MESSAGE_ERRORS:
        hint = "Slack refused the message itself; this week's digest was skipped (a paperbot bug)"
    else:
        hint = "this week's digest was skipped"
    if paused:
        hint += " — the subscription is paused; invite the bot and subscribe again, or unsubscribe"
    return hint
