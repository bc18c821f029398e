"""The bench stands below the tests: tests may import the bench, never the reverse."""

from __future__ import annotations

import ast

from tests.support import ROOT


def _imported(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_bench_module_imports_from_the_tests():
    found = {
        str(path.relative_to(ROOT)): sorted(
            name for name in _imported(path) if name == "tests" or name.startswith("tests.")
        )
        for path in sorted((ROOT / "bench").rglob("*.py"))
    }
    assert {path: names for path, names in found.items() if names} == {}


def test_the_tests_support_modules_re_export_what_the_bench_moved():
    from bench import cluster, folders
    from tests.support import cluster as support_cluster
    from tests.support import folders as support_folders

    for support, moved in ((support_cluster, cluster), (support_folders, folders)):
        assert support.__all__ and all(
            getattr(support, name) is getattr(moved, name) for name in support.__all__
        )


def test_the_tests_postgres_server_is_the_benchs():
    from bench import postgres
    from tests.support import postgres as support_postgres

    moved = ["PASSWORD", "Postgres", "create_database"]
    assert all(getattr(support_postgres, name) is getattr(postgres, name) for name in moved)
    assert support_postgres.running is postgres.running
