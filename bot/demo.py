"""``paperbot demo``: the whole pipeline offline, on sources bundled with the package."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from importlib import resources
from pathlib import Path

from digests.model import SourceKind, SourceSpec
from digests.settings import Settings

# name, file, kind, tags: the kinds are given so the demo also shows `--kind` at work.
DEMO_SOURCES: tuple[tuple[str, str, SourceKind, tuple[str, ...]], ...] = (
    ("arXiv cs.CL (demo)", "arxiv_cs.CL_2024-10-04.xml", SourceKind.ARXIV, ()),
    ("HF Daily Papers (demo)", "hf_daily_2024-10-04.json", SourceKind.HF_DAILY, ()),
    ("ML Papers of the Week (demo)", "ml_papers_of_the_week.md", SourceKind.WEEKLY_MD, ()),
    ("paper_notes #Alignment", "notes_alignment.html", SourceKind.NOTES_HTML, ("Alignment",)),
    ("paper page 2403.04224", "paper_page_2403.04224.txt", SourceKind.PAPER_PAGE, ()),
    ("weekly (ja) 2024-06-13", "weekly_ja_2024-06-13.txt", SourceKind.WEEKLY_JA, ()),
)


def demo_dir() -> Path:
    """The bundled demo files, as a real directory (they ship inside the package)."""
    return Path(str(resources.files("digests").joinpath("data/demo")))


def demo_specs(directory: Path) -> list[SourceSpec]:
    return [
        SourceSpec(
            name=name,
            location=str(directory / filename),
            kind=kind,
            interval_seconds=24 * 3600,
            tags=tags,
            origin="cli",
        )
        for name, filename, kind, tags in DEMO_SOURCES
    ]


def demo_settings(base: Settings, workdir: Path) -> Settings:
    """A throwaway SQLite database and an empty sources file: nothing touches the network."""
    sources_file = workdir / "sources.toml"
    sources_file.write_text("# the demo adds its sources itself\n", "utf-8")
    return replace(
        base,
        # The default name: the folder works as PAPERBOT_DATA_DIR afterwards.
        database_url=f"sqlite:///{workdir / 'paperbot.db'}",
        data_dir=workdir,
        sources_file=sources_file,
    )


def make_workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="paperbot-demo-"))
