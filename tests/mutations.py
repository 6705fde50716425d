"""Hypothesis strategies for parser robustness: random bytes and damaged real pages."""

from __future__ import annotations

from hypothesis import strategies as st

_EDITS = st.lists(
    st.tuples(st.integers(0, 1 << 20), st.integers(0, 64), st.binary(max_size=16)),
    max_size=8,
)


def _apply(base: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    data = bytearray(base)
    for offset, length, insert in edits:
        at = offset % (len(data) + 1)
        data[at : at + length] = insert
    return bytes(data)


def damaged(pages: list[bytes]) -> st.SearchStrategy[bytes]:
    """Random bytes, or one of ``pages`` with a few slices replaced by random bytes."""
    return st.one_of(
        st.binary(max_size=2048),
        st.builds(_apply, st.sampled_from(pages), _EDITS),
    )
