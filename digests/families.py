"""Source families: who publishes a source, so that one publisher counts once in ranking.

Pure. arXiv's listings and its API are one voice however many categories an operator
polls; a curated list on GitHub is its owner's; any other site is its registrable domain
(the Public Suffix List decides where that starts). An operator can name a source's family
in ``sources.toml`` or with ``paperbot sources add --family``: that wins.
"""

from __future__ import annotations

import functools
import ipaddress
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from publicsuffixlist import PublicSuffixList

from digests.model import SourceKind

__all__ = ["ARXIV", "HUGGING_FACE", "family_key", "source_family"]

ARXIV = "arXiv"
HUGGING_FACE = "Hugging Face"

# The formats only one publisher serves: a document of this kind is theirs wherever it was
# fetched from (a saved copy, a mirror).
_KIND_FAMILIES = {
    SourceKind.ARXIV: ARXIV,
    SourceKind.ARXIV_API: ARXIV,
    SourceKind.HF_DAILY: HUGGING_FACE,
}
_HOST_FAMILIES = {"arxiv.org": ARXIV, "huggingface.co": HUGGING_FACE}
# Hosts where the first path segment (or, for github.io, the subdomain) is the publisher.
_GITHUB_PATH_HOSTS = frozenset(
    {"github.com", "raw.githubusercontent.com", "gist.githubusercontent.com", "gist.github.com"}
)
_GITHUB_PAGES = ".github.io"


def source_family(
    name: str, location: str, kind: SourceKind | None, family: str | None = None
) -> str:
    """Who publishes a source: ``family`` when the operator set one, else arXiv for its
    listings and API (by kind or by host), Hugging Face for Daily Papers, a GitHub owner
    for what GitHub serves, a site's registrable domain, and a local file's source name."""
    if family is not None and family.strip():
        return family.strip()
    if kind in _KIND_FAMILIES:
        return _KIND_FAMILIES[kind]
    parts = urlsplit(location.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return name.strip()  # a local file speaks for itself
    host = parts.hostname.rstrip(".").lower()
    domain = _registrable(host)
    if domain in _HOST_FAMILIES:
        return _HOST_FAMILIES[domain]
    if host in _GITHUB_PATH_HOSTS:
        segments = [s for s in PurePosixPath(unquote(parts.path)).parts if s != "/"]
        if segments:
            return segments[0].lower()
    if host.endswith(_GITHUB_PAGES) and host != _GITHUB_PAGES[1:]:
        return host.removesuffix(_GITHUB_PAGES).rsplit(".", 1)[-1]
    return domain


def family_key(family: str) -> str:
    """Families are equal ignoring case: "DAIR.AI" set on one source, "dair.ai" on another."""
    return family.strip().casefold()


@functools.cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # reads the bundled list once, on first use


def _registrable(host: str) -> str:
    """``lab.example.org`` -> ``example.org``; ``www.ox.ac.uk`` -> ``ox.ac.uk``; an address,
    or a name with no public suffix (``localhost``), is itself."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return host
    return _suffixes().privatesuffix(host) or host
