"""The README and docs/ stay true: their bench tables are what the bench results say, and
their links lead somewhere."""

from __future__ import annotations

import re

import pytest

from bench import report
from tests.support import ROOT

PAGES = report.pages()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_bench_sections_are_made_from_the_results_files(page):
    text = page.read_text()
    assert report.render(text) == text, (
        f"{page.name}: run `python -c 'from bench import report; report.update_docs()'`"
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_lead_to_files(page):
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
        assert (page.parent / target).exists(), f"{page.name} links to {target}"


def test_every_docs_page_is_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"docs/{page.name}" in readme, page.name


def test_the_parameters_page_lists_every_key_with_the_default_params_yaml_holds():
    import dataclasses

    import yaml

    from pipeline import params

    rows = re.findall(
        r"^\| `([a-z_]+\.[a-z_]+)` \| `([^`]*)` \|", (ROOT / "docs/parameters.md").read_text(), re.M
    )
    documented = {key: yaml.safe_load(default) for key, default in rows}
    pinned = yaml.safe_load((ROOT / "params.yaml").read_text())
    keys = [
        f"{section}.{field.name}"
        for section, kind in params._SECTIONS.items()
        for field in dataclasses.fields(kind)
    ]
    assert list(documented) == keys  # every key, in params.yaml's order
    for key, default in documented.items():
        section, name = key.split(".")
        assert default == pinned[section][name], key


def test_the_small_folder_recipe_is_one_dvc_exp_run_of_settings_the_stages_take(tmp_path):
    import shutil

    from dvc.utils.hydra import apply_overrides

    from bench.small_folder import recipe_settings
    from pipeline.params import load_params

    settings = recipe_settings()  # refuses another command, or a data.* setting
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    apply_overrides(tmp_path / "params.yaml", settings)  # what `dvc exp run -S` writes
    train = load_params(tmp_path / "params.yaml").train
    assert (train.model, train.min_steps > 0) == ("cnn", True), train
