"""paperbot's domain: sources, parsing, the paper store, search, ranking, summaries, rendering.

Ingest, per source: due sources | fetch | parse (sources/) | normalize | store (store/).
Weekly digest: week window | candidates (store) | rank | summarize | render.
Nothing in this package imports Slack; ``bot/`` depends on ``digests/``, never the reverse.
"""
