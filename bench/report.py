"""The benches' results files, their tables, and the pages of docs/ that show them.

Each bench writes its results to bench/results/<name>.json (committed: the docs are made
from them). Tables in docs/ sit between `<!-- bench:<name> -->` and `<!-- /bench:<name> -->`
markers and are rewritten from the results here, never by hand; a test holds the pages to
the results files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from bench import serving_tables
from bench.measure import ROOT
from bench.tables import met, table
from pipeline import outputs

RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs"
SCALE_PLOT = DOCS / "images" / "scale.png"


def write_results(name: str, results: dict) -> None:
    """Writes a bench's results atomically: a bench stopped mid-way leaves the last ones."""
    outputs.write_json(RESULTS / f"{name}.json", results)


def publish(name: str, results: dict) -> str:
    """Writes a bench's results, rewrites the pages from them, and returns its tables."""
    write_results(name, results)
    update_docs()
    return RENDERERS[name](results)


def read_results(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}"


def _per_example_us(run: dict, train_records: int) -> float:
    return run["wall_s"] / train_records * 1e6


# What the scale goals compare between 1x and 32x: (name, value of a size's row).
_SCALE_MEASURES: list[tuple[str, Callable[[dict], float]]] = [
    ("preprocess peak RSS MiB", lambda r: r["preprocess"]["peak_rss_mib"]),
    (
        "preprocess on Dask: largest worker peak RSS MiB",
        lambda r: max(r["preprocess_dask"]["workers_peak_rss_mib"].values()),
    ),
    ("train peak RSS MiB", lambda r: r["train"]["peak_rss_mib"]),
    ("evaluate peak RSS MiB", lambda r: r["evaluate"]["peak_rss_mib"]),
    (
        "preprocess us per training example",
        lambda r: _per_example_us(r["preprocess"], r["train_records"]),
    ),
    (
        "preprocess on Dask: us per training example",
        lambda r: _per_example_us(r["preprocess_dask"], r["train_records"]),
    ),
    ("train us per training example", lambda r: _per_example_us(r["train"], r["train_records"])),
]


def scale_tables(results: dict) -> str:
    """The scaling curve: each stage at each size, then the goals, 32x against 1x."""
    sizes = results["sizes"]
    rows = []
    for r in sizes:
        for stage, key in (
            ("preprocess", "preprocess"),
            ("preprocess (Dask, 2 workers)", "preprocess_dask"),
            ("train", "train"),
            ("evaluate", "evaluate"),
        ):
            run = r[key]
            rss = run["peak_rss_mib"]
            memory = f"{rss:.0f}"
            if key == "preprocess_dask":
                memory += f" (workers {max(run['workers_peak_rss_mib'].values()):.0f})"
            processed = r["records"] if "preprocess" in key else r["train_records"]
            processed *= 5 if key == "train" else 1
            if key == "evaluate":
                processed = r["records"] - r["train_records"]
            rows.append(
                [
                    f"{r['size']}x",
                    f"{r['train_records']:,}",
                    stage,
                    f"{run['wall_s']:.1f}",
                    memory,
                    f"{processed / run['wall_s']:,.0f}",
                ]
            )
    ingest = results["ingest"]
    rows.insert(
        0,
        ["all", "-", "ingest", f"{ingest['wall_s']:.1f}", f"{ingest['peak_rss_mib']:.0f}", "-"],
    )
    stages = table(["size", "train records", "stage", "wall s", "peak RSS MiB", "records/s"], rows)
    return f"{stages}\n\n{scale_goals(results)}"


def scale_goals(results: dict) -> str:
    """The scaling goals: the largest size against the smallest."""
    sizes = results["sizes"]
    first, last = sizes[0], sizes[-1]
    goals = []
    for name, value in _SCALE_MEASURES:
        ratio = value(last) / value(first)
        goals.append(
            [
                name,
                f"{value(first):.1f}",
                f"{value(last):.1f}",
                f"{ratio:.2f}",
                "<= 1.25",
                "yes" if ratio <= 1.25 else "NO",
            ]
        )
    header = ["measure", f"{first['size']}x", f"{last['size']}x", "ratio", "target", "met"]
    accuracy = ", ".join(f"{r['size']}x {r['test_accuracy']['accuracy']:.4f}" for r in sizes)
    same = all(r["preprocess_dask"]["same_bytes_as_fnapi"] for r in sizes)
    notes = (
        f"Test accuracy of the default MLP, 5 epochs: {accuracy}. Dask's output "
        f"{'was' if same else 'was NOT'} byte-identical to FnApiRunner's at every size. "
        f"Bench time {results['seconds'] / 60:.0f} min."
    )
    return f"{table(header, goals)}\n\n{notes}\n"


def plot_scale(results: dict) -> None:
    """Wall time and peak RSS of each stage against the size of the data, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    sizes = [r["size"] for r in results["sizes"]]
    figure, (time_axis, memory_axis) = pyplot.subplots(1, 2, figsize=(10, 4))
    for label, key in (
        ("preprocess", "preprocess"),
        ("preprocess on Dask", "preprocess_dask"),
        ("train", "train"),
        ("evaluate", "evaluate"),
    ):
        runs = [r[key] for r in results["sizes"]]
        time_axis.plot(sizes, [run["wall_s"] for run in runs], marker="o", label=label)
        memory = [run["peak_rss_mib"] for run in runs]
        if key == "preprocess_dask":
            memory = [max(run["workers_peak_rss_mib"].values()) for run in runs]
            label += " (largest worker)"
        memory_axis.plot(sizes, memory, marker="o", label=label)
    for axis, title in ((time_axis, "wall time, s"), (memory_axis, "peak RSS, MiB")):
        axis.set_xscale("log", base=2)
        axis.set_xticks(sizes, [f"{s}x" for s in sizes])
        axis.set_xlabel("training data, multiples of MNIST's train split")
        axis.set_title(title)
        axis.grid(True, alpha=0.3)
    time_axis.set_yscale("log")
    memory_axis.set_ylim(bottom=0)
    memory_axis.legend(fontsize=8)
    figure.tight_layout()
    SCALE_PLOT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(SCALE_PLOT, dpi=100)


_RATES = {  # a stage's rate in its run record: how the table words it
    "beam_records_per_s": "records/s in Beam",
    "steps_per_s": "steps/s",
    "examples_per_s": "examples/s",
}


def bench_tables(results: dict) -> str:
    """The pipeline against the notebook, each stage alone, the feeds and the launcher."""
    notebook, pipeline, stages = results["notebook"], results["pipeline"], results["stages"]
    warm_notebook = notebook["after_prepare_s"]["median"] + notebook["import_s"]["median"]
    train_rate = stages["train"]["steps_per_s"]
    portable = results["portable"]
    measures = [
        (
            "cold pipeline / cold notebook",
            pipeline["cold_s"]["median"] / notebook["total_s"]["median"],
            "<= 0.8",
        ),
        (
            "warm experiment / notebook after prepare",
            pipeline["warm_s"]["median"] / warm_notebook,
            "<= 0.5",
        ),
        (
            "train steps/s, splits in memory / numpy floor",
            train_rate / results["floor"]["steps_per_s"],
            ">= 0.95",
        ),
        (
            "train steps/s, splits streamed / in memory",
            results["streamed"]["steps_per_s"] / train_rate,
            "-",
        ),
        ("train steps/s / notebook steps/s", train_rate / notebook["steps_per_s"]["median"], "-"),
        ("Beam preprocess records/s", stages["preprocess"]["beam_records_per_s"], ">= 25000"),
        ("no-op dvc repro s", pipeline["noop_s"]["median"], "<= 1"),
        (
            "portable runner: launcher peak RSS, all / a quarter of MNIST",
            portable[-1]["launcher_peak_rss_mib"] / portable[0]["launcher_peak_rss_mib"],
            "<= 1.1",
        ),
    ]
    goals = table(
        ["measure", "value", "target", "met"],
        [[m, f"{v:.3g}", t, "-" if t == "-" else met(v, t)] for m, v, t in measures],
    )
    rows = []
    for name, stage in stages.items():
        rate = next((f"{v:,.0f} {_RATES[k]}" for k, v in stage.items() if k in _RATES), "-")
        rows.append([name, f"{stage['wall_s']:.1f}", f"{stage['peak_rss_mib']:.0f}", rate])
    per_stage = table(["stage", "wall s", "peak RSS MiB", "throughput"], rows)
    notes = (
        f"Notebook: cold {notebook['total_s']['median']:.1f} s (prepare "
        f"{notebook['prepare_s']['median']:.1f} s), {notebook['steps_per_s']['median']:.0f} "
        f"steps/s, test accuracy {notebook['test_accuracy']['median']:.4f}. Pipeline: cold "
        f"{pipeline['cold_s']['median']:.1f} s, warm {pipeline['warm_s']['median']:.1f} s, "
        f"no-op {pipeline['noop_s']['median']:.2f} s. Train: {train_rate:.0f} steps/s in "
        f"memory, {results['streamed']['steps_per_s']:.0f} streamed (peak RSS "
        f"{results['streamed']['peak_rss_mib']:.0f} MiB against "
        f"{stages['train']['peak_rss_mib']:.0f}); floor {results['floor']['steps_per_s']:.0f}. "
        f"Medians of {results['repeats']} runs; bench time {results['seconds'] / 60:.0f} min."
    )
    return f"{goals}\n\n{per_stage}\n\n{notes}\n"


def accuracy_table(results: dict) -> str:
    rows = [
        [
            r["model"],
            str(r["epochs"]),
            str(r["augment_copies"]),
            f"{r['test_accuracy']:.4f}",
            f"{r['wall_s']:.0f}",
        ]
        for r in results["rows"]
    ]
    header = ["model", "epochs", "augment_copies", "test accuracy", "dvc exp run, s"]
    first = results["rows"][0]
    cached = (first["model"], first["augment_copies"], first["epochs"]) == ("mlp", 0, 5)
    note = (
        "The first row is the pipeline as `make repro` leaves it, so its `dvc exp run` "
        "found everything cached. "
        if cached
        else ""
    )
    return f"{table(header, rows)}\n\n{note}Bench time {results['seconds'] / 60:.0f} min.\n"


_DIGITS = "scikit-learn digits, 8x8 (1,433 / 364)"
_OWN_DATA = {  # row: (dataset, params), in the table's order
    "mnist_idx": ("MNIST, IDX files (tfds)", "defaults"),
    "mnist_png": ("MNIST, a folder of PNG files", "defaults"),
    "digits_mlp": (_DIGITS, "defaults (mlp)"),
    "digits_cnn": (_DIGITS, "train.model=cnn"),
    "digits_cnn_50": (_DIGITS, "train.model=cnn train.epochs=50"),
    "colour_mlp": ("MNIST's 0-3 in random colours, 28x28 RGB, 4 classes", "defaults (mlp)"),
    "colour_cnn": ("MNIST's 0-3 in random colours, 28x28 RGB, 4 classes", "train.model=cnn"),
}


def own_data_tables(results: dict) -> str:
    rows = results["rows"]
    scores = table(
        ["dataset", "params", "test accuracy", "run, s"],
        [
            [*_OWN_DATA[name], f"{rows[name]['test_accuracy']:.4f}", f"{rows[name]['wall_s']:.0f}"]
            for name in _OWN_DATA
            if name in rows
        ],
    )
    gap = abs(rows["mnist_png"]["test_accuracy"] - rows["mnist_idx"]["test_accuracy"])
    idx, png = (rows[n]["stats"] for n in ("mnist_idx", "mnist_png"))
    same_test = idx["test"] == png["test"]

    def examples(stats: dict) -> dict[str, int]:
        return {
            c: sum(stats[s]["examples_per_class"][c] for s in ("train", "validation"))
            for c in stats["train"]["examples_per_class"]
        }

    same_train = examples(idx) == examples(png)
    small, large = results["ingest_memory"]
    memory = table(
        ["folder", "files", "ingest wall s", "ingest peak RSS MiB"],
        [
            [label, f"{run['files']:,}", f"{run['wall_s']:.0f}", f"{run['peak_rss_mib']:.0f}"]
            for label, run in (("a tenth of MNIST", small), ("all of MNIST", large))
        ],
    )
    ratio = large["peak_rss_mib"] / small["peak_rss_mib"]
    return (
        f"{scores}\n\nMNIST through the folder is {gap:.4f} from the IDX route "
        f"(goal: within 0.003: {met(gap, '<= 0.003')}); its test split's statistics are "
        f"{'the same' if same_test else 'NOT the same'}, and train's and validation's "
        f"examples per class together {'the same' if same_train else 'NOT the same'} (the "
        "split between them differs: an example's key holds its file's path).\n\n"
        f"{memory}\n\n{large['files'] / small['files']:.0f} times the files, "
        f"{ratio:.2f} times the memory. Bench time {results['seconds'] / 60:.0f} min.\n"
    )


def small_folder_table(results: dict) -> str:
    """The small-folder recipe against the defaults on shapes drawn with each seed."""
    rows = results["rows"]
    scores = table(
        ["shapes drawn with seed", "params", "test accuracy", "train said: at chance", "run, s"],
        [
            [
                str(r["seed"]),
                r["params"],
                f"{r['test_accuracy']:.4f}",
                "yes" if r["said_chance"] else "no",
                f"{r['wall_s']:.0f}",
            ]
            for r in rows
        ],
    )
    recipe = [r["test_accuracy"] for r in rows if r["params"] == "recipe"]
    goal = f">= {results['goal']}"
    return (
        f"{scores}\n\nThe recipe's lowest test accuracy {min(recipe):.4f} (goal {goal} on every "
        f"seed: {met(min(recipe), goal)}), mean {sum(recipe) / len(recipe):.4f}. "
        f"Bench time {results['seconds'] / 60:.0f} min, {results['cpus']} CPUs.\n"
    )


def persist_table(results: dict) -> str:
    persist, default = results["persist"], results["default"]
    rows = [
        [label, f"{persist[key]:.0f}", f"{default[key]:.0f}", _ratio(persist[key], default[key])]
        for key, label in (
            ("repro", "`dvc repro`, from nothing"),
            ("other_params", "`dvc exp run -S train.epochs=1`"),
            ("back_to_first_params", "`dvc exp run -S train.epochs=5`, back to the first params"),
        )
    ]
    runs = table(["run, s", "persist: true", "DVC's default", "ratio"], rows)
    return (
        f"{runs}\n\nBack at the first params, DVC's default ran "
        f"{default['back_ran_stages']} stage(s) (train came from its run-cache); with "
        f"`persist: true`, {persist['back_ran_stages']}. "
        f"Bench time {results['seconds'] / 60:.0f} min.\n"
    )


def setup_table(results: dict) -> str:
    """A second fresh clone's `make repro` against a cold `dvc repro` in a set-up clone."""
    make, cold = results["make_repro_s"], results["cold_repro_s"]
    rows = [
        ["`make repro` in a fresh clone (uv's and the bytecode caches warm)", f"{make:.0f}"],
        ["`dvc repro` in that clone, set up, from nothing", f"{cold:.0f}"],
    ]
    ratio = make / cold
    return (
        f"{table(['run', 'wall s (median)'], rows)}\n\nSetting up adds {make - cold:.0f} s: "
        f"{ratio:.2f}x the pipeline alone (goal: within 1.6x: {met(ratio, '<= 1.6')}). "
        f"Bench time {results['seconds'] / 60:.0f} min.\n"
    )


def tune_tables(results: dict) -> str:
    """A trial's cost over a plain run, and the study's own report."""
    overhead, study = results["overhead"], results["study"]
    extra = overhead["trial_s"] - overhead["plain_s"]
    costs = table(
        ["run", "wall s (median)"],
        [
            ["dvc exp run -S train.seed=N (workspace)", f"{overhead['plain_s']:.1f}"],
            [
                "a trial: dvc exp run --temp -n ... -S ... -S evaluate.push=false",
                f"{overhead['trial_s']:.1f}",
            ],
            ["overhead per trial", f"{extra:+.1f}"],
        ],
    )
    return (
        f"{costs}\n\nThe study: {study['trials']} trials, {study['jobs']} at a time, "
        f"{study['wall_s'] / 60:.1f} min. Its report:\n\n```\n{study['report']}\n```\n"
    )


def hostile_tables(results: dict) -> str:
    """Peak memory on hostile inputs, against an ordinary one."""
    predict, ingest = results["predict"], results["ingest"]
    base = predict["digit.png"]["peak_rss_mib"]
    decode_base = predict["digit.png"]["decode_peak_rss_mib"]
    rows = [
        [
            f"`{name}`",
            f"{run['file_bytes']:,}",
            f"{run['peak_rss_mib']:.0f} ({run['peak_rss_mib'] / base:.2f})",
            f"{run['decode_peak_rss_mib']:.0f} ({run['decode_peak_rss_mib'] / decode_base:.2f})",
            run["said"].split(": ", 1)[-1][:70],
        ]
        for name, run in predict.items()
    ]
    header = [
        "mnist-predict input",
        "file bytes",
        "peak RSS MiB (/ digit)",
        "reading it alone (/ digit)",
        "result",
    ]
    normal = ingest["mirror"]["peak_rss_mib"]
    ingest_rows = [
        [
            name,
            f"{run['peak_rss_mib']:.0f}",
            f"{run['peak_rss_mib'] / normal:.2f}",
            f"{run['wall_s']:.1f}",
            run["said"].split(" ERROR pipeline: ")[-1][:70],
        ]
        for name, run in ingest.items()
    ]
    ingest_header = ["ingest's mirror", "peak RSS MiB", "/ real mirror", "wall s", "last line"]
    return f"{table(header, rows)}\n\n{table(ingest_header, ingest_rows)}\n"


def study_output(results: dict) -> str:
    """The study's report as mnist-tune printed it."""
    study = results["study"]
    return (
        f"```\n$ mnist-tune --trials {study['trials']} --jobs {study['jobs']}\n"
        f"...\n{study['report']}\n```\n\n{study['wall_s'] / 60:.0f} minutes in all.\n"
    )


def compare_output(results: dict) -> str:
    """mnist-compare's table after the study, as it printed it."""
    lines = "\n".join(results["compare"].splitlines()[:6])
    return f"```\n$ mnist-compare | head -6\n{lines}\n```\n"


RENDERERS: dict[str, Callable[[dict], str]] = {
    "scale_goals": scale_goals,
    "hostile": hostile_tables,
    "study": study_output,
    "compare": compare_output,
    "tune": tune_tables,
    "bench": bench_tables,
    "scale": scale_tables,
    "accuracy": accuracy_table,
    "own_data": own_data_tables,
    "small_folder": small_folder_table,
    "persist": persist_table,
    "setup": setup_table,
    "photos": serving_tables.photos_table,
    "predict": serving_tables.speed_tables,
}
# Sections whose results file is not named after them.
SOURCES = {"study": "tune", "compare": "tune", "scale_goals": "scale"}
_SECTION = re.compile(r"(<!-- bench:(\w+) -->\n).*?(<!-- /bench:\2 -->)", re.DOTALL)


def render(text: str) -> str:
    """`text` with every bench section rewritten from its results file."""

    def section(match: re.Match) -> str:
        name = match.group(2)
        results = read_results(SOURCES.get(name, name))
        body = RENDERERS[name](results) if results else "(no results yet)\n"
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
