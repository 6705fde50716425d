"""Tell which kind of document some bytes are, from the content first and the URL second.

Only the document's head is read, in a fixed order: JSON (Hugging Face), then feeds (arXiv
API, arXiv listing, any other), paper-notes HTML, then the text kinds by their markers.
"""

from __future__ import annotations

import codecs
import re
from urllib.parse import urlsplit

from digests.errors import ParseError
from digests.model import ParseContext, SourceKind

SNIFF_BYTES = 64 * 1024

_HF_PAPER_KEY_RE = re.compile(r'"paper"\s*:\s*\{')
_FEED_ROOT_RE = re.compile(r"<(?:[\w-]+:)?(?:rss|feed|RDF)[\s>]")
_ARXIV_API_RE = re.compile(
    r"xmlns:opensearch=|<opensearch:|<id>\s*https?://(?:export\.)?arxiv\.org/api/|arxiv query:",
    re.IGNORECASE,
)
# arXiv's own namespace, declared on the root element of its listings. Item text is no
# marker: aggregators re-publish arXiv's items ("Announce Type: new", oai:arXiv.org guids)
# under titles of their own, and such a feed is a generic one.
_ARXIV_NAMESPACE_RE = re.compile(
    r"""xmlns:[\w.-]+\s*=\s*["']https?://arxiv\.org/schemas/atom/?["']"""
)
_ARXIV_HOSTS = frozenset({"arxiv.org", "rss.arxiv.org", "export.arxiv.org"})
_NOTES_HTML_RE = re.compile(
    r"""class=["']issue_date["']|<a\s+class=["']button["']\s+href=["'][^"']*articles/""",
    re.IGNORECASE,
)
_PAPER_PAGE_RE = re.compile(r"^論文の概要:", re.MULTILINE)
_ARXIV_URL_FIELD_RE = re.compile(r"^- arxiv url:", re.MULTILINE)
_ISSUE_DATE_RE = re.compile(r"Issue Date:\s*\d{4}-\d{2}-\d{2}")
_NOTES_TEXT_RE = re.compile(
    r"Issue Date:\s*\d{4}-\d{2}-\d{2}\s+\[Paper Note\]|#[^\s#]+\s+Issue Date:\s*\d{4}-\d{2}-\d{2}"
)
_WEEKLY_MD_HEADING_RE = re.compile(r"^#{1,3}\s*Top ML Papers of the Week", re.MULTILINE | re.I)
_TABLE_ROW_RE = re.compile(r"^\|.*\|\s*$", re.MULTILINE)
_WEEKLY_JA_LINK_RE = re.compile(r"^\s*(?:論文リンク|研究および論文リンク)\s*$", re.MULTILINE)
_WEEKLY_JA_INTRO_RE = re.compile(r"^\s*(?:論文紹介|研究紹介)\s*$", re.MULTILINE)

_READABLE = ", ".join(kind.value for kind in SourceKind)


def _feed_kind(head: str, root_at: int, url: str | None) -> SourceKind:
    """Which feed: arXiv's API, an arXiv listing (served by arXiv, or declaring arXiv's
    namespace on its root), or any other."""
    host = path = ""
    if url:
        parts = urlsplit(url)
        host, path = (parts.hostname or "").lower(), parts.path
    if _ARXIV_API_RE.search(head) or (host in _ARXIV_HOSTS and path.startswith("/api")):
        return SourceKind.ARXIV_API
    root = head[root_at : head.find(">", root_at) + 1]
    # An arXiv feed on a skip day has no items, but still comes from arXiv.
    if host in _ARXIV_HOSTS or _ARXIV_NAMESPACE_RE.search(root):
        return SourceKind.ARXIV
    return SourceKind.FEED


def _sniff_text(head: bytes) -> str:
    """The head as text: UTF-16/32 when a BOM (or XML's ``<?`` spelt in UTF-16) says so.

    The feed parser reads UTF-16 feeds that declare it; the sniffing must read them too.
    """
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if head.startswith(bom):
            return head[len(bom) :].decode(codec, errors="replace")
    if head.startswith(b"<\x00?\x00"):
        return head.decode("utf-16-le", errors="replace")
    if head.startswith(b"\x00<\x00?"):
        return head.decode("utf-16-be", errors="replace")
    return head.decode("utf-8", errors="replace")


def detect_kind(data: bytes, ctx: ParseContext) -> SourceKind:
    """The kind of ``data``; raises ``ParseError`` naming the readable kinds if none fits."""
    head = _sniff_text(data[:SNIFF_BYTES]).lstrip("\ufeff \t\r\n")
    content_type = (ctx.content_type or "").lower()

    if head.startswith(("[", "{")):
        if head.startswith("[") and _HF_PAPER_KEY_RE.search(head):
            return SourceKind.HF_DAILY
        # A day without papers is "[]": only the address can say what it is.
        if (
            head.startswith("[")
            and "huggingface.co" in (ctx.url or "")
            and "/daily_papers" in (ctx.url or "")
        ):
            return SourceKind.HF_DAILY
    else:
        if head.startswith("<") and (root := _FEED_ROOT_RE.search(head)):
            return _feed_kind(head, root.start(), ctx.url)
        # Rendered HTML or the Jekyll source (front matter first) of a notes page.
        if _NOTES_HTML_RE.search(head):
            return SourceKind.NOTES_HTML
        if _PAPER_PAGE_RE.search(head) and _ARXIV_URL_FIELD_RE.search(head):
            return SourceKind.PAPER_PAGE
        if _ISSUE_DATE_RE.search(head) and _NOTES_TEXT_RE.search(head):
            return SourceKind.NOTES_TEXT
        if _WEEKLY_MD_HEADING_RE.search(head) and _TABLE_ROW_RE.search(head):
            return SourceKind.WEEKLY_MD
        if _WEEKLY_JA_LINK_RE.search(head) and _WEEKLY_JA_INTRO_RE.search(head):
            return SourceKind.WEEKLY_JA

    what = content_type or "unrecognised content"
    raise ParseError(
        f"cannot tell what kind of document this is ({what}); readable kinds: {_READABLE}",
        url=ctx.url,
    )
