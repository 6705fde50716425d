"""Digests and ``/paper`` lookups as Slack Block Kit messages and as terminal text.

Everything here is pure: records in, plain dicts or a ``str`` out; nothing imports
Slack, and ``bot/`` posts what these functions return. ``slack`` holds the escaping and
fitting every Slack text goes through; ``digest``, ``lookup`` and ``terminal`` build the
messages; ``paper`` is how a paper's authors, tags and links read in them.

Thread convention for digests: ``messages[0]`` is posted to the channel, every later
message in its thread; each message dict is keyword arguments for ``chat.postMessage``
or ``respond``.
"""

from digests.render.digest import (
    MIN_MAX_CHARS,
    THIN_WEEK,
    digest_notice,
    render_digest_messages,
)
from digests.render.lookup import render_lookup_message, render_share_message
from digests.render.paper import format_authors
from digests.render.slack import (
    BUTTON_TEXT_MAX,
    BUTTON_VALUE_MAX,
    CONTEXT_ELEMENTS_MAX,
    CONTEXT_TEXT_MAX,
    DEFAULT_MAX_CHARS,
    FALLBACK_MAX,
    HEADER_MAX,
    LINK_URL_MAX,
    MAX_BLOCKS,
    SECTION_MAX,
    URL_MAX,
    SlackMessage,
    block_text_length,
    escape_mrkdwn,
    text_length,
)
from digests.render.terminal import format_ago, render_digest_text, wrap_text

__all__ = [
    "BUTTON_TEXT_MAX",
    "BUTTON_VALUE_MAX",
    "CONTEXT_ELEMENTS_MAX",
    "CONTEXT_TEXT_MAX",
    "DEFAULT_MAX_CHARS",
    "FALLBACK_MAX",
    "HEADER_MAX",
    "LINK_URL_MAX",
    "MAX_BLOCKS",
    "MIN_MAX_CHARS",
    "SECTION_MAX",
    "THIN_WEEK",
    "URL_MAX",
    "SlackMessage",
    "block_text_length",
    "digest_notice",
    "escape_mrkdwn",
    "format_ago",
    "format_authors",
    "render_digest_messages",
    "render_digest_text",
    "render_lookup_message",
    "render_share_message",
    "text_length",
    "wrap_text",
]
