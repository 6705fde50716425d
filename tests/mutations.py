"""Hostile input for robustness tests: random bytes, damaged real pages, XML entity bombs
and a gzip bomb."""

from __future__ import annotations

import gzip
from functools import cache

from hypothesis import strategies as st

_EDITS = st.lists(
    st.tuples(st.integers(0, 1 << 20), st.integers(0, 64), st.binary(max_size=16)),
    max_size=8,
)


def _apply(base: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    data = bytearray(base)
    for offset, length, insert in edits:
        at = offset % (len(data) + 1)
        data[at : at + length] = insert
    return bytes(data)


def damaged(pages: list[bytes]) -> st.SearchStrategy[bytes]:
    """Random bytes, or one of ``pages`` with a few slices replaced by random bytes."""
    return st.one_of(
        st.binary(max_size=2048),
        st.builds(_apply, st.sampled_from(pages), _EDITS),
    )


_ITEM = (
    "<item><title>{title}</title><link>https://arxiv.org/abs/2408.00001</link>"
    "<guid>oai:arXiv.org:2408.00001v1</guid>"
    "<description>arXiv:2408.00001v1 Announce Type: new Abstract: x</description></item>"
)


def rss(doctype: str, title: str, encoding: str = "utf-8") -> bytes:
    """An RSS document of one arXiv item titled ``title``, with ``doctype`` before it."""
    head = f'<?xml version="1.0" encoding="{encoding}"?>\n{doctype}\n'
    body = (
        f'<rss version="2.0"><channel><title>t</title>{_ITEM.format(title=title)}</channel></rss>'
    )
    return (head + body).encode(encoding)


def _laughs(levels: int = 9, sep: str = "\n") -> str:
    """A DOCTYPE whose last entity expands to ``10 ** (levels - 1)`` copies of the first."""
    ents = ['<!ENTITY lol0 "lollollollollollollollollollol">']
    ents += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)]
    return f"<!DOCTYPE rss [{sep}{sep.join(ents)}{sep}]>"


BOMBS: dict[str, bytes] = {
    "billion-laughs": rss(_laughs(), "&lol8;"),
    "billion-laughs-one-line": rss(_laughs(sep=""), "&lol8;"),
    # feedparser drops nested entities but keeps "safe" flat ones: this is the one it let
    # through (100 kB expanded a thousand times over).
    "quadratic-blowup": rss(f'<!DOCTYPE rss [\n<!ENTITY a "{"A" * 100_000}">\n]>', "&a;" * 1000),
    "external-entity": rss('<!DOCTYPE rss [\n<!ENTITY x SYSTEM "file:///etc/passwd">\n]>', "&x;"),
    "parameter-entity": rss(
        '<!DOCTYPE rss [\n<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd">\n%p;\n]>', "t"
    ),
    "entity-value-with-markup": rss(
        '<!DOCTYPE rss [\n<!ENTITY b "<b>x</b>">\n' + _laughs()[15:-2] + "\n]>", "&lol8;"
    ),
    "lowercase-keywords": rss(_laughs().replace("ENTITY", "entity"), "t"),
    "utf-16": rss(_laughs(), "&lol8;", encoding="utf-16"),
    "utf-16-be": rss(_laughs(), "&lol8;", encoding="utf-16-be"),
}


@cache
def gzip_bomb() -> bytes:
    """50 MiB of zeros, under a megabyte on the wire."""
    return gzip.compress(bytes(50 * 1024 * 1024), compresslevel=9)
