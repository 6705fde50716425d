"""The one settings object, built once from the environment, validated, then passed down.

Every option lives in ``OPTIONS`` below with its default, so ``paperbot --help`` and the
README can show them all. Nothing reads ``os.environ`` anywhere else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digests.errors import ConfigError
from digests.rank import DEFAULT_WEIGHTS, RankWeights

DEFAULT_ARXIV_API_URL = "https://export.arxiv.org/api/query"

# name -> (default, what it does). Slack's own variables are read by bot/config.py.
OPTIONS: dict[str, tuple[str, str]] = {
    "DATABASE_URL": ("sqlite:///<data dir>/paperbot.db", "SQLAlchemy URL; postgres:// works"),
    "PAPERBOT_DATA_DIR": ("~/.local/share/paperbot", "where the SQLite file lives"),
    "PAPERBOT_SOURCES_FILE": ("<data dir>/sources.toml", "operator-editable sources"),
    "PAPERBOT_TOPICS_FILE": ("(bundled topics.toml)", "topic-tag rules and tag aliases"),
    "PAPERBOT_TZ": ("UTC", "default time zone for weeks and schedules"),
    "PAPERBOT_ALLOW_PRIVATE_NETWORKS": ("0", "1 lets sources live on private addresses"),
    "PAPERBOT_USER_AGENT": ("paperbot/<version>", "User-Agent sent to sources"),
    "PAPERBOT_SUMMARY_CHARS": ("280", "longest digest summary"),
    "PAPERBOT_LLM_BASE_URL": ("(unset)", "OpenAI-compatible endpoint for summaries"),
    "PAPERBOT_LLM_MODEL": ("(unset)", "model name for that endpoint"),
    "PAPERBOT_LLM_API_KEY": ("(unset)", "API key for that endpoint (never logged)"),
    "PAPERBOT_RANK_WEIGHTS": ("(defaults)", "digest ranking weights, e.g. sources=3,upvotes=2"),
    "PAPERBOT_LLM_TIMEOUT": ("15", "seconds to wait for a model summary"),
    "PAPERBOT_LLM_MAX_CHARS": ("4000", "most input text sent to the model per paper"),
    "PAPERBOT_DB_CONNECT_ATTEMPTS": ("5", "tries to reach the database at start"),
    "PAPERBOT_DB_CONNECT_DELAY": ("1", "seconds before the 2nd try, doubling after"),
    "PAPERBOT_DELIVERY_WORKERS": ("8", "channels a scheduler tick posts digests to at once"),
    "PAPERBOT_ENRICH": ("on", "complete papers known by arXiv id from the arXiv API (off: never)"),
    "PAPERBOT_ARXIV_API_URL": (DEFAULT_ARXIV_API_URL, "the arXiv API's query address"),
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _data_dir(environ: Mapping[str, str]) -> Path:
    if environ.get("PAPERBOT_DATA_DIR"):
        return Path(environ["PAPERBOT_DATA_DIR"]).expanduser()
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "paperbot"


def database_url_from(raw: str) -> str:
    """Accept the URL forms hosts hand out: ``postgres://`` (Heroku) means psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix) :]
    return raw


@dataclass(frozen=True, slots=True)
class LLMSettings:
    """How to reach an OpenAI-compatible chat-completions endpoint.

    ``base_url`` includes the API version path (``https://api.openai.com/v1``);
    ``/chat/completions`` is appended. An empty ``api_key`` sends no Authorization
    header (local servers often need none).
    """

    base_url: str
    api_key: str = field(repr=False)
    model: str
    timeout: float = 15.0  # seconds, per connect / read / write
    max_chars: int = 4000  # the most characters of paper text put into one prompt

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> LLMSettings | None:
        """Read ``PAPERBOT_LLM_*``; None when none of them is set (extractive only).

        ``PAPERBOT_LLM_BASE_URL`` and ``PAPERBOT_LLM_MODEL`` are required once any is
        set; ``PAPERBOT_LLM_API_KEY``, ``PAPERBOT_LLM_TIMEOUT`` (seconds) and
        ``PAPERBOT_LLM_MAX_CHARS`` are optional.
        """

        def read(name: str) -> str:
            return environ.get(f"PAPERBOT_LLM_{name}", "").strip()

        base_url, api_key, model = read("BASE_URL"), read("API_KEY"), read("MODEL")
        if not (base_url or api_key or model):
            return None
        missing = [
            f"PAPERBOT_LLM_{name}"
            for name, value in (("BASE_URL", base_url), ("MODEL", model))
            if not value
        ]
        if missing:
            raise ConfigError(f"set {' and '.join(missing)} too, or unset PAPERBOT_LLM_*")
        scheme = urlsplit(base_url).scheme if "://" in base_url else ""
        if scheme not in ("http", "https"):
            raise ConfigError("PAPERBOT_LLM_BASE_URL must be an http(s) URL")
        timeout, max_chars = 15.0, 4000
        if read("TIMEOUT"):
            try:
                timeout = float(read("TIMEOUT"))
            except ValueError:
                timeout = -1.0
            if not 0 < timeout <= 600:
                raise ConfigError("PAPERBOT_LLM_TIMEOUT must be seconds in (0, 600]")
        if read("MAX_CHARS"):
            raw = read("MAX_CHARS")
            max_chars = int(raw) if raw.isdigit() else -1
            if not 200 <= max_chars <= 100_000:
                raise ConfigError("PAPERBOT_LLM_MAX_CHARS must be an integer in 200..100000")
        return cls(
            base_url=base_url.rstrip("/"),
            api_key=api_key,
            model=model,
            timeout=timeout,
            max_chars=max_chars,
        )


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    data_dir: Path
    sources_file: Path
    topics_file: Path | None
    tz: str = "UTC"
    allow_private_networks: bool = False
    user_agent: str | None = None
    summary_chars: int = 280
    llm: LLMSettings | None = None  # None: extractive summaries only (the offline default)
    rank_weights: RankWeights = DEFAULT_WEIGHTS
    db_connect_attempts: int = 5  # a database still starting (a container, a failover)
    db_connect_delay: float = 1.0  # seconds before the second attempt; doubles after
    # Channels posted to at once by a tick: mostly waiting on Slack's per-channel pacing,
    # so more than the cores; each holds a database connection while it works.
    delivery_workers: int = 8
    # Papers known by arXiv id are completed from the arXiv API in the background.
    enrich: bool = True
    arxiv_api_url: str = DEFAULT_ARXIV_API_URL

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sources_file_is_default(self) -> bool:
        """The sources file is where paperbot writes the defaults on a first start."""
        return self.sources_file == self.data_dir / "sources.toml"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = _data_dir(env)
        raw_db = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'paperbot.db'}"
        tz = env.get("PAPERBOT_TZ") or "UTC"
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ConfigError(
                f"PAPERBOT_TZ={tz!r} is not a time zone; use an IANA name like Asia/Tokyo"
            ) from e
        chars_raw = env.get("PAPERBOT_SUMMARY_CHARS") or "280"
        try:
            chars = int(chars_raw)
        except ValueError as e:
            raise ConfigError(f"PAPERBOT_SUMMARY_CHARS={chars_raw!r} is not a number") from e
        if not 40 <= chars <= 2000:
            raise ConfigError("PAPERBOT_SUMMARY_CHARS must be between 40 and 2000")
        attempts_raw = env.get("PAPERBOT_DB_CONNECT_ATTEMPTS") or "5"
        delay_raw = env.get("PAPERBOT_DB_CONNECT_DELAY") or "1"
        try:
            attempts, delay = int(attempts_raw), float(delay_raw)
        except ValueError as e:
            raise ConfigError(
                f"PAPERBOT_DB_CONNECT_ATTEMPTS={attempts_raw!r} / "
                f"PAPERBOT_DB_CONNECT_DELAY={delay_raw!r}: expected a whole number / seconds"
            ) from e
        if not 1 <= attempts <= 100 or not 0 <= delay <= 60:
            raise ConfigError(
                "PAPERBOT_DB_CONNECT_ATTEMPTS must be 1-100 and PAPERBOT_DB_CONNECT_DELAY 0-60"
            )
        workers_raw = env.get("PAPERBOT_DELIVERY_WORKERS") or "8"
        if not workers_raw.isdigit() or not 1 <= int(workers_raw) <= 64:
            raise ConfigError(
                f"PAPERBOT_DELIVERY_WORKERS={workers_raw!r} must be a whole number from 1 to 64"
            )
        enrich_raw = (env.get("PAPERBOT_ENRICH") or "on").strip().lower()
        if enrich_raw not in _TRUE | _FALSE:
            raise ConfigError(f"PAPERBOT_ENRICH={enrich_raw!r} must be on or off")
        api_url = (env.get("PAPERBOT_ARXIV_API_URL") or DEFAULT_ARXIV_API_URL).strip()
        api_parts = urlsplit(api_url)
        if api_parts.scheme not in ("http", "https") or not api_parts.hostname:
            raise ConfigError(f"PAPERBOT_ARXIV_API_URL={api_url!r} must be an http(s) URL")
        topics = env.get("PAPERBOT_TOPICS_FILE")
        return cls(
            database_url=database_url_from(raw_db),
            data_dir=data_dir,
            sources_file=Path(env.get("PAPERBOT_SOURCES_FILE") or data_dir / "sources.toml"),
            topics_file=Path(topics).expanduser() if topics else None,
            tz=tz,
            allow_private_networks=(
                env.get("PAPERBOT_ALLOW_PRIVATE_NETWORKS", "").lower() in _TRUE
            ),
            user_agent=env.get("PAPERBOT_USER_AGENT") or None,
            summary_chars=chars,
            llm=LLMSettings.from_env(env),
            rank_weights=RankWeights.parse(env.get("PAPERBOT_RANK_WEIGHTS", "")),
            db_connect_attempts=attempts,
            db_connect_delay=delay,
            delivery_workers=int(workers_raw),
            enrich=enrich_raw in _TRUE,
            arxiv_api_url=api_url,
        )
