"""Source families: who publishes a source, worked out from its kind and address or named
by the operator, kept by the store and carried by every mention of a week."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digests.errors import ConfigError
from digests.families import family_key, source_family
from digests.ingest import prepare
from digests.model import Entry, SourceKind, SourceSpec
from digests.sourcefile import load_sources
from digests.store import Store
from digests.topics import load_rules

NOW = datetime(2025, 6, 25, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "location", "kind", "family"),
    [
        # arXiv by kind, wherever the document came from (a saved copy)...
        ("arXiv cs.CL", "/data/cs.CL.xml", SourceKind.ARXIV, "arXiv"),
        ("arXiv API", "/data/query.xml", SourceKind.ARXIV_API, "arXiv"),
        # ... and by host, before its kind is known.
        ("cs.CL", "https://rss.arxiv.org/rss/cs.CL", None, "arXiv"),
        ("cs.LG atom", "http://rss.arxiv.org/atom/cs.LG", None, "arXiv"),
        ("api", "https://export.arxiv.org/api/query?search_query=cat:cs.RO", None, "arXiv"),
        ("listing", "https://arxiv.org/list/cs.AI/new", SourceKind.FEED, "arXiv"),
        ("HF", "https://huggingface.co/api/daily_papers", None, "Hugging Face"),
        ("HF copy", "/data/hf.json", SourceKind.HF_DAILY, "Hugging Face"),
        # GitHub: the owner publishes, whichever GitHub host serves it.
        (
            "ML Papers of the Week",
            "https://raw.githubusercontent.com/dair-ai/ML-Papers-of-the-Week/main/README.md",
            SourceKind.WEEKLY_MD,
            "dair-ai",
        ),
        (
            "weekly",
            "https://github.com/dair-ai/ML-Papers-of-the-Week/blob/main/README.md",
            None,
            "dair-ai",
        ),
        (
            "paper_notes #Alignment",
            "https://akihikowatanabe.github.io/paper_notes/articles/Alignment.html",
            SourceKind.NOTES_HTML,
            "akihikowatanabe",
        ),
        # Any other site: its registrable domain, so a lab's feeds are one voice.
        ("Lab blog", "https://blog.example-lab.org/feed.xml", None, "example-lab.org"),
        ("Lab news", "https://news.example-lab.org/rss", SourceKind.FEED, "example-lab.org"),
        ("Oxford", "https://www.cs.ox.ac.uk/feed", None, "ox.ac.uk"),
        ("local server", "http://127.0.0.1:8080/feed.xml", None, "127.0.0.1"),
        ("intranet", "http://localhost/feed.xml", None, "localhost"),
        # A local file speaks for itself.
        ("my notes", "/home/me/notes.html", SourceKind.NOTES_HTML, "my notes"),
        ("saved", "file:///tmp/feed.xml", None, "saved"),
    ],
)
def test_a_source_family_is_derived_from_its_kind_and_address(
    name: str, location: str, kind: SourceKind | None, family: str
) -> None:
    assert source_family(name, location, kind) == family


def test_the_family_an_operator_names_wins() -> None:
    url = "https://rss.arxiv.org/rss/cs.CL"
    assert source_family("cs.CL", url, SourceKind.ARXIV, "  My mirror ") == "My mirror"
    assert source_family("cs.CL", url, SourceKind.ARXIV, "  ") == "arXiv"
    assert family_key("DAIR.AI") == family_key(" dair.ai ")


def test_the_sources_file_takes_a_family() -> None:
    [spec, plain] = load_sources(
        '[[source]]\nname = "Lab"\nurl = "https://lab.example.org/feed"\n'
        'family = "  Example   Lab "\n'
        '[[source]]\nname = "Other"\nurl = "https://other.example.com/feed"\n'
    )
    assert spec.family == "Example Lab"
    assert plain.family is None
    with pytest.raises(ConfigError, match="source 'Lab': the family is empty"):
        load_sources('[[source]]\nname = "Lab"\nurl = "https://x.org/f"\nfamily = " "\n')
    long = "x" * 101
    with pytest.raises(ConfigError, match="the family is longer than 100 characters"):
        load_sources(f'[[source]]\nname = "Lab"\nurl = "https://x.org/f"\nfamily = "{long}"\n')
    with pytest.raises(ConfigError, match="family of 'Lab' must be a string"):
        load_sources('[[source]]\nname = "Lab"\nurl = "https://x.org/f"\nfamily = 3\n')


def test_the_store_keeps_a_family_and_the_week_carries_it(store: Store) -> None:
    added = store.add_source(
        SourceSpec(name="Lab", location="https://lab.example.org/feed", family="Example Lab"),
        now=NOW,
    )
    assert added.family == "Example Lab"
    listing = store.add_source(
        SourceSpec(name="arXiv cs.CL", location="https://rss.arxiv.org/rss/cs.CL"), now=NOW
    )
    assert listing.family is None  # worked out when read, so a better rule applies to it
    entry = Entry(title="A paper", arxiv_id="2506.01234", published=NOW)
    for source in (added, listing):
        store.store_entries(source, prepare([entry], source, load_rules()), now=NOW)
    [candidate] = store.week_candidates(
        datetime(2025, 6, 23, tzinfo=UTC), datetime(2025, 6, 30, tzinfo=UTC)
    )
    assert {(m.source_name, m.family) for m in candidate.mentions} == {
        ("Lab", "Example Lab"),
        ("arXiv cs.CL", "arXiv"),
    }


def test_syncing_the_sources_file_sets_and_clears_a_family(store: Store) -> None:
    spec = SourceSpec(name="Lab", location="https://lab.example.org/feed", origin="file")
    store.sync_sources([spec], now=NOW)
    named = SourceSpec(
        name="Lab", location="https://lab.example.org/feed", origin="file", family="Lab group"
    )
    assert store.sync_sources([named], now=NOW).updated == ("Lab",)
    found = store.get_source("Lab")
    assert found is not None
    assert found.family == "Lab group"
    assert store.sync_sources([spec], now=NOW).updated == ("Lab",)
    cleared = store.get_source("Lab")
    assert cleared is not None
    assert cleared.family is None
