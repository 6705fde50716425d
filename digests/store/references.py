"""Papers found by the references a library names: arXiv ids, DOIs, links and titles."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Connection, select

from digests.schema import papers
from digests.store.base import StoreBase
from digests.store.bulk import LOOKUP_CHUNK, among


@dataclass(frozen=True, slots=True)
class KnownReferences:
    """Each identifier asked about -> the ids of the papers holding it (a title may be
    held by several papers; the other keys are unique)."""

    arxiv: dict[str, int] = field(default_factory=dict)
    doi: dict[str, int] = field(default_factory=dict)
    url: dict[str, list[int]] = field(default_factory=dict)
    title: dict[str, list[int]] = field(default_factory=dict)


class ReferenceStore(StoreBase):
    """One batch of lookups for a whole library, each key in its own index."""

    def find_references(
        self,
        *,
        arxiv_ids: Iterable[str] = (),
        dois: Iterable[str] = (),
        url_keys: Iterable[str] = (),
        title_keys: Iterable[str] = (),
    ) -> KnownReferences:
        """The papers holding each canonical arXiv id, DOI, URL key and title key."""
        found = KnownReferences()
        with self.engine.connect() as conn:
            for key, pid in _lookup(conn, papers.c.arxiv_id, arxiv_ids):
                found.arxiv[key] = pid
            for key, pid in _lookup(conn, papers.c.doi, dois):
                found.doi[key] = pid
            for key, pid in _lookup(conn, papers.c.url_key, url_keys):
                found.url.setdefault(key, []).append(pid)
            for key, pid in _lookup(conn, papers.c.title_key, title_keys):
                found.title.setdefault(key, []).append(pid)
        return found


def _lookup(conn: Connection, col: Column[Any], values: Iterable[str]) -> Iterable[tuple[str, int]]:
    wanted = sorted(set(values))
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        stmt = select(col, papers.c.id).where(among(conn, col, chunk)).order_by(papers.c.id)
        for key, pid in conn.execute(stmt):
            yield str(key), int(pid)
