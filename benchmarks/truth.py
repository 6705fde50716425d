"""How true the weekly digest is on a real-shaped week: one figure per way it can be wrong.

    python benchmarks/truth.py [--tree PATH] [--json OUT] [--keep DIR]

Builds the week of ``truthweek.py`` (seeded, the same every run), serves it and an arXiv
API from a local HTTP server, and runs paperbot's own commands on a new SQLite database:
``poll``, ``enrich`` when the revision has it, ``digest --week 2025-W26`` (English and
Japanese) and ``query``. Then it compares what they print with the truth. Only the
command line is used, so ``--tree`` can point at another checkout (an older revision)
and the two reports can be set side by side. Nothing reaches the internet.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import truthweek  # noqa: E402
from truthweek import WEEK, WEEK_START, Paper, Truth  # noqa: E402

_TOP = 100
_ARXIV_URL_RE = re.compile(r"arxiv\.org/(?:abs|pdf)/([^\s/?#]+?)(?:v\d+)?(?:\.pdf)?$")
_KANA_RE = re.compile(r"[\u3040-\u30ff]")
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")
_CLAUSE_ENDS = ".;:!?。、；：—–,)"


# One loopback address per publisher, so each is a host of its own, as on the internet.
_HOSTS = {
    "radar": "127.0.0.2",
    "briefs": "127.0.0.3",
    "zh": "127.0.0.4",
    "hf": "127.0.0.5",
    "dair": "127.0.0.6",
    "api": "127.0.0.7",
}


@contextmanager
def _serve(files: dict[str, bytes], truth: Truth) -> Iterator[dict[str, str]]:
    """Every document and the arXiv API over HTTP; each publisher's base URL by name."""
    by_id = truth.by_id()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/api/query":
                ids = parse_qs(parts.query).get("id_list", [""])[0].split(",")
                body = truthweek.api_response(by_id, [i for i in ids if i])
            elif parts.path.lstrip("/") in files:
                body = files[parts.path.lstrip("/")]
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    servers = {name: ThreadingHTTPServer((host, 0), Handler) for name, host in _HOSTS.items()}
    for server in servers.values():
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield {
            name: f"http://{_HOSTS[name]}:{server.server_address[1]}"
            for name, server in servers.items()
        }
    finally:
        for server in servers.values():
            server.shutdown()
            server.server_close()


def _sources_toml(base: dict[str, str]) -> str:
    entries = [
        *(
            (f"Paper Radar {c}", f"{base['radar']}/radar/{c}.rss", "rss")
            for c in truthweek.LISTINGS
        ),
        ("Morning Paper Briefs", f"{base['briefs']}/briefs.rss", None),
        ("ZH Paper Digest", f"{base['zh']}/zh.rss", None),
        ("HF Daily Papers", f"{base['hf']}/hf/2025-06-week.json", "hf-daily"),
        ("HF Daily Papers February", f"{base['hf']}/hf/2025-02-25.json", "hf-daily"),
        ("ML Papers of the Week", f"{base['dair']}/dair/README.md", "weekly-md"),
    ]
    out = []
    for name, url, kind in entries:
        out.append(f'[[source]]\nname = "{name}"\nurl = "{url}"\n')
        if kind:
            out.append(f'kind = "{kind}"\n')
    return "\n".join(out)


class _Paperbot:
    """paperbot's command line of one checkout, on one data folder."""

    def __init__(self, tree: Path, data: Path, base: dict[str, str]) -> None:
        self.tree = tree
        self.env = {
            **os.environ,
            "PYTHONPATH": str(tree),
            "PAPERBOT_DATA_DIR": str(data),
            "PAPERBOT_SOURCES_FILE": str(data / "sources.toml"),
            "PAPERBOT_ALLOW_PRIVATE_NETWORKS": "1",
            "PAPERBOT_ARXIV_API_URL": f"{base['api']}/api/query",
            "COLUMNS": "150",
        }
        self.env.pop("DATABASE_URL", None)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-c", "from bot.cli import main; main()", *args]
        # Run from the checkout: ``-c`` puts the working folder first on the path.
        done = subprocess.run(
            cmd, env=self.env, cwd=self.tree, capture_output=True, text=True, check=False
        )
        if check and done.returncode not in (0, 3):
            raise SystemExit(f"paperbot {' '.join(args)} failed:\n{done.stderr[-2000:]}")
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args).stdout)


def _arxiv_of(url: str | None) -> str | None:
    m = _ARXIV_URL_RE.search(url or "")
    return m.group(1) if m else None


def _fold(text: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", unicodedata.normalize("NFKC", text).casefold()).split())


def _paper_of(item: dict[str, Any], truth: Truth) -> Paper | None:
    """The truth's paper a digest item or lookup hit is."""
    arxiv_id = item.get("arxiv_id") or _arxiv_of(item.get("url"))
    if arxiv_id:
        return truth.by_id().get(arxiv_id)
    title = _fold(item["title"])
    for p in truth.papers:
        if p.arxiv_id is None and _fold(p.title) == title:
            return p
    for p in truth.papers:
        names = {_fold(p.title), _fold(p.short or p.title)}
        if title in names or any(title.endswith(n) for n in names):
            return p
    return None


def _mid_clause(summary: str, texts: list[str]) -> bool:
    """Whether a summary cut with "…" stops inside a clause of every text it came from."""
    if not summary.endswith("…"):
        return False
    body = summary[:-1].rstrip()
    if body and body[-1] in _CLAUSE_ENDS:
        return False
    for text in texts:
        at = text.find(body)
        if at >= 0:
            rest = text[at + len(body) :].lstrip()
            return not (rest == "" or rest[0] in _CLAUSE_ENDS)
    return True


def _dump(bot: _Paperbot) -> list[dict[str, Any]]:
    """Every paper paperbot holds, as lookups show them."""
    out: list[dict[str, Any]] = []
    while True:
        page = bot.json("query", "--json", "since:2000-01-01", "limit:100", f"offset:{len(out)}")
        out += page
        if len(page) < 100:
            return out


def measure(bot: _Paperbot, truth: Truth) -> dict[str, Any]:
    """Run the commands and compare what they print with the truth."""
    in_week = [p for p in truth.papers if p.announced >= WEEK_START and p.arxiv_id]
    en = bot.json("digest", "--week", WEEK, "--top", str(_TOP), "--format", "json")["items"]
    ja = bot.json("digest", "--week", WEEK, "--top", str(_TOP), "--format", "json", "--lang", "ja")[
        "items"
    ]
    ranked = [_paper_of(i, truth) for i in en]
    top10 = [p for p in ranked[:10] if p is not None]
    hf_best = sorted(
        (p for p in truth.papers if p.upvotes and p.arxiv_id != truth.trap_arxiv),
        key=lambda p: -(p.upvotes or 0),
    )[:3]
    dair_first = next(p for p in truth.papers if p.pick == 1)
    figures: dict[str, Any] = {}
    figures["top10_arxiv_only"] = sum(1 for p in top10 if not p.pick and not p.upvotes)
    figures["top10_curated_picks"] = sum(1 for p in top10 if p.pick)
    figures["top10_hf_top3"] = sum(1 for p in hf_best if p in top10)
    figures["dair_1_rank"] = next(
        (i for i, p in enumerate(ranked, start=1) if p is dair_first), f">{_TOP}"
    )
    figures["top30_arxiv_only"] = sum(
        1 for p in ranked[:30] if p is not None and not p.pick and not p.upvotes
    )
    old_new = 0
    old_top10 = 0
    for item, p in zip(en, ranked, strict=True):
        if p is not None and p.announced < WEEK_START - timedelta(days=30):
            old_top10 += item["rank"] <= 10
            old_new += "new" in item["why"]
    figures["top100_old_shown_new"] = old_new
    figures["old_papers_top10"] = old_top10
    # Identity.
    trap = bot.json("query", "--json", f"id:{truth.trap_arxiv}")
    figures["trap_merged_into_old_arxiv"] = int(
        any("ML Papers of the Week" in s for h in trap for s in h["sources"])
    )
    records = _dump(bot)
    figures["records"] = len(records)
    per_paper: dict[int, int] = {}
    for r in records:
        p = _paper_of(r, truth)
        if p is not None:
            per_paper[id(p)] = per_paper.get(id(p), 0) + 1
    figures["papers_in_two_records"] = sum(1 for n in per_paper.values() if n > 1)
    figures["brief_lines_as_titles"] = sum(1 for r in records if r["title"] in truth.brief_titles)
    shorts = {p.arxiv_id: p.short for p in truth.papers if p.short and p.arxiv_id}
    figures["short_name_only_title"] = sum(
        1 for r in records if r.get("arxiv_id") in shorts and r["title"] == shorts[r["arxiv_id"]]
    )
    # Summaries.
    by_paper_texts: dict[int, list[str]] = {}
    for p in truth.papers:
        by_paper_texts[id(p)] = [t for t in (p.blurb, p.abstract) if t]
    figures["top100_summaries_mid_clause"] = sum(
        1
        for item, p in zip(en, ranked, strict=True)
        if _mid_clause(item["summary"] or "", by_paper_texts.get(id(p), []) if p else [])
    )
    figures["top100_summaries_with_debris"] = sum(
        1
        for i in en
        if re.search(r"https?://|arXiv:\d|Announce Type|Abstract:", i["summary"] or "")
    )
    figures["top100_en_summaries_not_english"] = sum(
        1 for i in en if _CJK_RE.search(i["summary"] or "")
    )
    figures["top100_ja_summaries_chinese"] = sum(
        1 for i in ja if _CJK_RE.search(i["summary"] or "") and not _KANA_RE.search(i["summary"])
    )
    # Topics.
    tagged = bot.json(
        "query", "--json", "tag:Alignment", "since:2025-06-16", "until:2025-06-29", "limit:100"
    )
    hits = [_paper_of(h, truth) for h in tagged]
    right = sum(1 for p in hits if p is not None and p.topic == "alignment")
    wanted = [p for p in in_week if p.topic == "alignment"]
    figures["alignment_tagged"] = len(hits)
    figures["alignment_precision"] = round(right / len(hits), 2) if hits else None
    figures["alignment_recall"] = (
        round(sum(1 for p in hits if p in wanted) / len(wanted), 2) if wanted else None
    )
    # Search.
    found = bot.json("query", "--json", truth.acronym, "limit:20")
    figures["acronym_rank"] = next(
        (i for i, h in enumerate(found, start=1) if h.get("arxiv_id") == truth.acronym_paper),
        None,
    )
    # Curated picks completed.
    pick_ids = [p.arxiv_id for p in truth.papers if p.pick and p.arxiv_id]
    held = {r.get("arxiv_id"): r for r in records}
    figures["picks_without_authors"] = sum(
        1 for i in pick_ids if i in held and not held[i]["authors"]
    )
    author = bot.json("query", "--json", "author:Łukasz", "limit:100")
    figures["author_nonascii_hits"] = len(author)
    # Of the papers some source lists (a few of last week's are listed nowhere).
    figures["author_nonascii_truth"] = sum(
        1 for p in truth.papers if "Łukasz Nowak" in p.authors and p.arxiv_id in held
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=HERE.parent, help="checkout to run")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--keep", type=Path, help="keep the data folder here")
    parser.add_argument("--seed", type=int, default=26)
    args = parser.parse_args()
    files, truth = truthweek.build(args.seed)
    with tempfile.TemporaryDirectory() as tmp, _serve(files, truth) as base:
        data = args.keep or Path(tmp)
        data.mkdir(parents=True, exist_ok=True)
        (data / "sources.toml").write_text(_sources_toml(base), encoding="utf-8")
        bot = _Paperbot(args.tree.resolve(), data, base)
        bot.run("poll")
        enriched = bot.run("enrich", "--help", check=False).returncode == 0
        if enriched:
            bot.run("enrich")
        figures = {"enrich": enriched, **measure(bot, truth)}
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
