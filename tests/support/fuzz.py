"""Hypothesis strategies that spoil valid bytes the ways a disk, a network or an attacker
would: cut short anywhere, bits flipped anywhere, bytes slipped in anywhere."""

from __future__ import annotations

from hypothesis import strategies as st


def spoil(data: bytes, cut: int | None, flips: list, insert: tuple[int, bytes]) -> bytes:
    """`data` cut at `cut` (if given), with each (position, bit) flipped and `insert`'s bytes
    put at its position (positions wrap around the length; past the end is the end)."""
    spoiled = bytearray(data[: cut % (len(data) + 1)] if cut is not None else data)
    for position, bit in flips:
        if spoiled:
            spoiled[position % len(spoiled)] ^= 1 << bit
    at, extra = insert
    at %= len(spoiled) + 1
    return bytes(spoiled[:at] + extra + spoiled[at:])


def spoiled(valid: st.SearchStrategy[bytes], reach: int) -> st.SearchStrategy[bytes]:
    """`valid` bytes spoiled within their first `reach` bytes, or left whole."""
    return st.builds(
        spoil,
        valid,
        st.one_of(st.none(), st.integers(0, reach)),
        st.lists(st.tuples(st.integers(0, reach), st.integers(0, 7)), max_size=3),
        st.tuples(st.integers(0, reach), st.binary(max_size=12)),
    )


# A YAML "billion laughs": ten lines whose aliases expand to 9**10 values.
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n"
    for a, b in zip("abcdefghi", "bcdefghij", strict=True)
)
