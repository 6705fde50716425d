"""The fake Slack Web API for the fan-out benchmark, run as its own process.

    python benchmarks/slack_server.py RATELIMIT_SHARE RETRY_AFTER SEED

Runs ``tests.fakeslack.FakeSlack`` with Slack's one-message-per-second-per-channel limit
enforced and RATELIMIT_SHARE of the ``chat.postMessage`` calls answered 429 with
``Retry-After: RETRY_AFTER`` (drawn with SEED). Its own process, so its CPU does not
share the deliverer's interpreter. Prints the port on the first line of stdout, then
serves until killed; ``GET /api/_log`` returns every call with its arrival time
(``time.monotonic()``, comparable across processes on one Linux machine).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from server import serve_until_terminated  # noqa: E402

from tests import fakeslack  # noqa: E402
from tests.fakeslack import FakeSlack  # noqa: E402


def main() -> None:
    share, retry_after, seed = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    # Many workers connect at once; the default listen backlog of 5 would drop SYNs.
    fakeslack._Server.request_queue_size = 1024
    slack = FakeSlack(
        enforce_rate=True,
        ratelimit_share=share,
        ratelimit_retry_after=retry_after,
        seed=seed,
    )
    slack.start()
    serve_until_terminated(int(slack.url.rsplit(":", 1)[1].rstrip("/")), slack.close)


if __name__ == "__main__":
    main()
