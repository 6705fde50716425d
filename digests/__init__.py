"""paperbot's domain: sources, parsing, the paper store, search, ranking, summaries, rendering.

The ingest pipeline, per source::

    due sources | fetch (fetch/) | parse (sources/) | normalize (normalize.py) | store (store/)

The weekly digest::

    week window | candidates (store) | rank (rank) | summarize (summarize) | render (render)

Nothing in this package imports Slack; ``bot/`` depends on ``digests/``, never the reverse.
"""
