"""Markdown tables for the pages the benches write, and goals met or not."""

from __future__ import annotations


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def met(value: float, bound: str) -> str:
    """ "yes" if `value` is within `bound` ("<= 0.25" or ">= 4"), else "NO"."""
    op, number = bound.split()
    return "yes" if (value <= float(number) if op == "<=" else value >= float(number)) else "NO"
