"""Reading a source from disk: a regular file within the size limit, off the event loop."""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
import stat
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from digests.errors import BodyTooLarge, FetchError, FetchTimeout
from digests.fetch.model import FetchResult, FetchSettings, Validators


def local_path(location: str) -> Path | None:
    """The path a location names on disk, or None for a network URL."""
    if location[:5].lower() == "file:":
        parts = urlsplit(location)
        if parts.netloc not in ("", "localhost"):
            raise FetchError("file URL names another host", url=location)
        return Path(url2pathname(parts.path))
    if "://" in location:
        return None
    # No scheme: a path on disk ("samples/feed.xml", "~/feeds/x.xml").
    return Path(location).expanduser()


async def read_file(
    path: Path, previous: Validators, *, settings: FetchSettings, clock: Callable[[], datetime]
) -> FetchResult:
    try:
        async with asyncio.timeout(settings.deadline):
            # In a thread: a slow disk or network mount must not stall other fetches.
            data, uri, content_type = await asyncio.to_thread(_read_capped, path, settings.max_body)
    except TimeoutError as e:
        raise FetchTimeout("file not read in time", url=str(path)) from e
    digest = hashlib.sha256(data).hexdigest()
    unchanged = digest == previous.body_hash
    return FetchResult(
        status="unchanged" if unchanged else "fetched",
        url=uri,
        body=None if unchanged else data,
        content_type=content_type,
        validators=Validators(body_hash=digest),
        fetched_at=clock(),
        max_age=None,
    )


def _read_capped(path: Path, limit: int) -> tuple[bytes, str, str | None]:
    """Read a regular file of at most ``limit`` bytes: (data, file URI, guessed type)."""
    try:
        # O_NONBLOCK so a FIFO at the path cannot block the thread until a writer appears.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise FetchError(f"cannot open {path}: {e.strerror}", url=str(path)) from e
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FetchError(f"{path} is not a regular file", url=str(path))
        if info.st_size > limit:
            raise BodyTooLarge(f"file is over the {limit} byte limit", url=str(path))
        with os.fdopen(fd, "rb") as handle:
            fd = -1  # the file object owns it now
            data = handle.read(limit + 1)  # the file may have grown since fstat
    except OSError as e:
        raise FetchError(f"cannot read {path}: {e.strerror}", url=str(path)) from e
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > limit:
        raise BodyTooLarge(f"file is over the {limit} byte limit", url=str(path))
    resolved = path.resolve()
    content_type, _ = mimetypes.guess_type(resolved.name)
    return data, resolved.as_uri(), content_type
