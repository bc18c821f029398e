"""The project's tables: for a terminal, as mnist-compare and mnist-tune print them (no wider
than 120 columns, dotted params keys shortened where that stays unambiguous), and in
Markdown, as the benches write them into docs/."""

from __future__ import annotations

from pipeline.logs import WIDTH


def short_names(keys: list[str]) -> dict[str, str]:
    """Each dotted key by its last part where no other key shares it, else in full."""
    last = [key.rpartition(".")[2] for key in keys]
    return {
        key: name if last.count(name) == 1 else key for key, name in zip(keys, last, strict=True)
    }


def table(rows: list[list[str]]) -> list[str]:
    """Left-aligned columns two spaces apart, no wider than WIDTH (long cells are cut)."""
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return [line.rstrip()[:WIDTH] for line in lines]


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table: the header, its rule, a line per row (a `|` in a cell escaped)."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)])
