"""What dvc.yaml declares, and the project code each stage's command really imports."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from tests.support import ROOT

PACKAGES = ("components", "pipeline", "tools")


def _module_file(name: str) -> Path | None:
    path = ROOT / Path(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """The project modules a file imports, its packages' __init__ included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] in PACKAGES and _module_file(name):
                parts = name.split(".")
                found.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
    return found


def code_of(stage: str) -> set[str]:
    """Every project file `python -m components <stage>` runs, relative to the root."""
    seen, todo = set(), {f"components.{stage}.stage", "components", "components.__main__"}
    while todo:
        name = todo.pop()
        if name in seen or not (path := _module_file(name)):
            continue
        seen.add(name)
        todo |= _imports(path)
    return {str(_module_file(name).relative_to(ROOT)) for name in seen}


def declared(stage: str) -> set[str]:
    """A stage's code as dvc.yaml lists it under `deps`, folders expanded to their modules."""
    deps = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]["deps"]
    listed = set()
    for dep in (d for d in deps if d.split("/")[0] in PACKAGES):
        path = ROOT / dep
        found = path.rglob("*.py") if path.is_dir() else [path]
        listed |= {str(p.relative_to(ROOT)) for p in found}
    return listed


def stage_commands() -> dict[str, str]:
    """Each stage's command, as dvc.yaml spells it (before DVC fills in its vars)."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name: stage["cmd"] for name, stage in stages.items()}
