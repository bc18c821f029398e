"""The pages of docs/ (and the README) that show the benches' results.

Tables sit between `<!-- bench:<section> -->` and `<!-- /bench:<section> -->` markers and are
rewritten from the results files (bench.results), never by hand; a test holds the pages to
the results. Each bench module owns its sections: its `SECTIONS` maps a section's name to
the function that writes it from the bench's results, and its `GOALS` hold the targets it
is judged against. A bench's results file is named after its first section.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path

from bench import results as results_files
from bench.measure import ROOT

DOCS = ROOT / "docs"
# The bench modules whose results the pages show, each with its results file's name.
BENCHES = {
    "bench": "bench.run",
    "scale": "bench.scale",
    "accuracy": "bench.accuracy",
    "tune": "bench.tune",
    "tune_shared": "bench.tune_shared",
    "own_data": "bench.own_data",
    "small_folder": "bench.small_folder",
    "persist": "bench.persist",
    "setup": "bench.setup",
    "hostile": "bench.hostile",
    "photos": "bench.photos.tables",
    "predict": "bench.predict",
    "serve": "bench.serve",
    "labels": "bench.labels",
}
Renderer = Callable[[dict], str]
_SECTION = re.compile(r"(<!-- bench:(\w+) -->\n).*?(<!-- /bench:\2 -->)", re.DOTALL)


def met(value: float, bound: str) -> str:
    """ "yes" if `value` is within `bound` ("<= 0.25" or ">= 4"), else "NO"."""
    op, number = bound.split()
    return "yes" if (value <= float(number) if op == "<=" else value >= float(number)) else "NO"


def sections(name: str) -> dict[str, Renderer]:
    """The sections a results file feeds, as its bench module names them."""
    return importlib.import_module(BENCHES[name]).SECTIONS


def _sources() -> dict[str, tuple[str, Renderer]]:
    """Each section: its results file's name, and what writes it."""
    return {
        section: (name, renderer)
        for name in BENCHES
        for section, renderer in sections(name).items()
    }


def publish(name: str, results: dict) -> str:
    """Writes a bench's results, rewrites the pages from them, and returns its sections."""
    results_files.write(name, results)
    update_docs()
    return "\n".join(renderer(results) for renderer in sections(name).values())


def render(text: str) -> str:
    """`text` with every bench section rewritten from its results file."""
    sources = _sources()

    def section(match: re.Match) -> str:
        name, renderer = sources[match.group(2)]
        results = results_files.read(name)
        body = renderer(results) if results else "(no results yet)\n"
        return f"{match.group(1)}{body}{match.group(3)}"

    return _SECTION.sub(section, text)


def pages() -> list[Path]:
    """The pages with bench sections: the README and docs/."""
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def update_docs() -> None:
    for page in pages():
        text = page.read_text()
        if (rendered := render(text)) != text:
            page.write_text(rendered)
