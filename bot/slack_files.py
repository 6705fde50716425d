"""Files people upload to paperbot in Slack: their size asked first, their bytes read capped.

``files.info`` (scope ``files:read``) tells a file's size before anything is read, so a
file over the limit is refused without downloading it; the download itself stops one
byte past the limit, whatever the size Slack reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack_errors import NETWORK_ERRORS
from digests.errors import PaperbotError

__all__ = ["SlackFile", "SlackFileError", "download", "file_info"]

_TIMEOUT = httpx.Timeout(20.0, connect=5.0)


class SlackFileError(PaperbotError):
    """An uploaded file that could not be read; the message is for the person."""


@dataclass(frozen=True, slots=True)
class SlackFile:
    id: str
    name: str
    size: int
    url: str  # url_private_download: read with the bot's token


def file_info(client: WebClient, file_id: str) -> SlackFile:
    """What Slack knows of an uploaded file; its bytes are not read."""
    try:
        answer = client.files_info(file=file_id)
    except SlackApiError as e:
        error = e.response.get("error") if e.response is not None else None
        if error == "missing_scope":
            raise SlackFileError(
                "paperbot may not read uploaded files: reinstall the app with the "
                "files:read scope (see manifest.yml), or paste the list instead."
            ) from e
        raise SlackFileError(f"Slack would not show the file ({error or e}).") from e
    except NETWORK_ERRORS as e:
        raise SlackFileError("Slack's API is not answering; try again in a minute.") from e
    info = answer.get("file") or {}
    url = info.get("url_private_download") or info.get("url_private")
    if not url:
        raise SlackFileError("Slack gave no address to read the file from.")
    return SlackFile(
        id=str(info.get("id") or file_id),
        name=str(info.get("name") or file_id),
        size=int(info.get("size") or 0),
        url=str(url),
    )


def download(file: SlackFile, *, token: str, limit: int) -> bytes:
    """The file's bytes, at most ``limit + 1`` of them (the caller refuses more)."""
    data = bytearray()
    try:
        # httpx drops the Authorization header when a redirect leaves the host.
        with (
            httpx.Client(timeout=_TIMEOUT, follow_redirects=True) as http,
            http.stream("GET", file.url, headers={"Authorization": f"Bearer {token}"}) as r,
        ):
            if r.status_code != 200:
                raise SlackFileError(f"Slack answered {r.status_code} for {file.name}.")
            for chunk in r.iter_bytes():
                data += chunk
                if len(data) > limit:
                    break
    except httpx.HTTPError as e:
        raise SlackFileError(f"{file.name} could not be read from Slack ({e}).") from e
    return bytes(data[: limit + 1])
