"""A stand-in for export.arxiv.org's ``api/query?id_list=…``, served by ``LocalServer``.

It answers the entries of ``tests/fixtures/arxiv_api_enrich.xml`` that a request asks
for, in the API's shape; ids in ``generated`` get an entry made from the fixture's first
one; any other id is left out, as arXiv leaves out ids it does not know. An id in
``refused`` spoils its whole request with the API's error feed, as a malformed id does.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit

from tests.httpserver import Recorded, Reply
from tests.paths import FIXTURES

_ENTRY_RE = re.compile(r"  <entry>.*?</entry>\n", re.S)
_ID_RE = re.compile(r"<id>http://arxiv.org/abs/([^<]+?)v\d+</id>")
_ATOM = {"Content-Type": "application/atom+xml; charset=utf-8"}


class FakeArxivApi:
    """The responder of a ``LocalServer`` route; ``asked`` holds each request's ids."""

    def __init__(self, *, generated: Iterable[str] = (), refused: Iterable[str] = ()) -> None:
        text = (FIXTURES / "arxiv_api_enrich.xml").read_text("utf-8")
        blocks = _ENTRY_RE.findall(text)
        self.head = text[: text.index("  <entry>")]
        self.entries: dict[str, str] = {}
        for block in blocks:
            m = _ID_RE.search(block)
            assert m is not None
            self.entries[m.group(1)] = block
        template, template_id = blocks[0], next(iter(self.entries))
        for n, arxiv_id in enumerate(generated):
            self.entries[arxiv_id] = template.replace(template_id, arxiv_id).replace(
                "MEM1:", f"Paper {n}:"
            )
        self.refused = set(refused)
        self.asked: list[list[str]] = []
        self._lock = threading.Lock()
        self._error = (FIXTURES / "arxiv_api_error.xml").read_bytes()

    def __call__(self, request: Recorded) -> Reply:
        query = parse_qs(urlsplit(request.path).query)
        ids = query["id_list"][0].split(",")
        with self._lock:
            self.asked.append(ids)
        if self.refused & set(ids):
            return Reply(body=self._error, headers=_ATOM)
        found = [self.entries[i] for i in ids if i in self.entries]
        body = self.head + "".join(found) + "</feed>\n"
        return Reply(body=body.encode("utf-8"), headers=_ATOM)
