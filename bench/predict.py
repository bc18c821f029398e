"""`make bench-predict`: how fast mnist-predict answers, against the tool it replaced.

Each measurement is a fresh `mnist-predict` process (its wall time and peak RSS, bench.rss):
one image, end to end, and a folder of MNIST test digits as PNG files (throughput, and
when its first answer is printed against its last). Three tools answer:

- `litert`: mnist-predict as it is, asking the version's TFLite model on LiteRT;
- `savedmodel`: the same code on the same version without its TFLite model, which it asks
  through TensorFlow, as it does a version pushed before the TFLite export;
- `pre_issue`: the tool before the speed goals were set (PRE_ISSUE: TensorFlow and the
  SavedModel, one process, its own image preparation), run from a git worktree of that
  commit that the bench makes in a temporary folder and removes. The goals are judged
  against it.

They alternate, in the same run, so the ratios share the machine's load. Results in
bench/results/predict.json, the table in docs/serving.md.

    DATA_MIRROR=../shared/data/mnist python -m bench.predict [--model models/serving]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from bench import before, report
from bench.measure import ROOT, bench_env, measure
from bench.results import relative
from components.evaluate import serving
from components.ingest.mirror import read_mirror
from tools.predict import model
from tools.table import markdown

RUNTIMES = ("litert", "savedmodel", "pre_issue")
PRE_ISSUE = before.PREDICT_BEFORE_PHOTOS  # mnist-predict before issue 25: the goals' baseline
ONE_GOAL, FOLDER_GOAL = "<= 0.25", ">= 4"  # LiteRT / pre-issue tool: one image's time, throughput


def savedmodel_only(version: Path, folder: Path) -> Path:
    """A version as it was before the TFLite export: links to all its files but the TFLite
    model, so mnist-predict asks its SavedModel."""
    copy = folder / "savedmodel" / version.name
    for source in version.rglob("*"):
        target = copy / source.relative_to(version)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif source.relative_to(version) != serving.TFLITE_MODEL:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source.resolve())
    return copy


def _digits(folder: Path, count: int) -> Path:
    """The first `count` MNIST test digits as PNG files, named by their index."""
    folder.mkdir(parents=True)
    test = read_mirror(os.environ["DATA_MIRROR"])["test_images"]
    for n, digit in enumerate(test[:count]):
        Image.fromarray(digit).save(folder / f"{n:05d}.png")
    return folder


def _answers(run: dict, folder: Path) -> list[tuple[str, float]]:
    """The answer lines of a run (`file: label (probability)`) and when each arrived."""
    lines = run["output"].splitlines()
    return [
        (line, at)
        for line, at in zip(lines, run["line_s"], strict=True)
        if line.startswith(str(folder))
    ]


def _env(scratch: Path) -> dict[str, str]:
    """The bench's environment, with bytecode as an installed venv has it (`make setup`
    writes it): where PYTHONDONTWRITEBYTECODE is set, in a cache of the bench's own, so the
    venv is left as it is and neither runtime pays for compiling its imports every run."""
    env = bench_env()
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    return env


def _run(
    paths: list[Path], version: Path, folder: Path, images: int, env: dict, tool: Path
) -> dict:
    """One measured run of the mnist-predict in `tool` (a checkout: `python -m` from it
    imports its own `tools`, `pipeline` and `components` first)."""
    command = [sys.executable, "-m", "tools.predict.cli", *map(str, paths), "--model", str(version)]
    run = measure(command, tool, env, check=False)  # exit 3: some answers unsure
    answers = _answers(run, folder)
    if len(answers) != images:
        sys.exit(f"bench: {len(answers)} answers of {images} images:\n{run['output'][-3000:]}")
    return {
        "wall_s": run["wall_s"],
        "peak_rss_mib": run["peak_rss_mib"],
        "first_answer_s": answers[0][1],
        "last_answer_s": answers[-1][1],
        "answers": [line.split(" (")[0] for line, _ in answers],
    }


def _medians(runs: list[dict], images: int) -> dict:
    keys = ("wall_s", "peak_rss_mib", "first_answer_s", "last_answer_s")
    medians = {key: statistics.median(run[key] for run in runs) for key in keys}
    return {**medians, "images_per_s": images / medians["wall_s"], "runs": len(runs)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.predict", description=__doc__)
    parser.add_argument("--model", help="a serving folder or version (default: the served one)")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if not os.environ.get("DATA_MIRROR"):
        sys.exit("bench: set DATA_MIRROR to the MNIST mirror folder")
    started = time.perf_counter()
    version = model.resolve(args.model).resolve()
    runs: dict = {(kind, runtime): [] for kind in ("one", "folder") for runtime in RUNTIMES}
    with (
        tempfile.TemporaryDirectory(prefix="bench-predict-") as scratch,
        before.checkout(PRE_ISSUE) as old,
    ):
        folder = _digits(Path(scratch) / "digits", args.images)
        versions = {
            "litert": version,
            "savedmodel": savedmodel_only(version, Path(scratch)),
            "pre_issue": version,
        }
        tools = {"litert": ROOT, "savedmodel": ROOT, "pre_issue": old}
        one = sorted(folder.iterdir())[:1]
        env = _env(Path(scratch))
        for runtime in RUNTIMES:  # unmeasured: bytecode written, files in the page cache
            _run(one, versions[runtime], folder, 1, env, tools[runtime])
        for repeat in range(args.repeats):
            for runtime in RUNTIMES:
                for kind, paths, images in (("one", one, 1), ("folder", [folder], args.images)):
                    run = _run(paths, versions[runtime], folder, images, env, tools[runtime])
                    runs[kind, runtime].append(run)
                    print(f"{kind} {runtime} #{repeat + 1}: {run['wall_s']:.2f} s", flush=True)
    answers = {runtime: runs["folder", runtime][0]["answers"] for runtime in RUNTIMES}
    results = {
        "model": relative(version),
        "pre_issue": PRE_ISSUE,
        "repeats": args.repeats,
        "folder_images": "MNIST test digits as 28x28 PNG files",
        "one": {r: _medians(runs["one", r], 1) for r in RUNTIMES},
        "folder": {
            "images": args.images,
            **{r: _medians(runs["folder", r], args.images) for r in RUNTIMES},
        },
        "answers_differ": {  # from LiteRT's, file by file
            r: sum(a != b for a, b in zip(answers["litert"], answers[r], strict=True))
            for r in RUNTIMES[1:]
        },
        "seconds": time.perf_counter() - started,
    }
    print(report.publish("predict", results))


def tables(results: dict) -> str:
    """mnist-predict on LiteRT against the pre-issue tool (the goals' baseline) and against
    its own SavedModel path: one image, and a folder of images, as ratios."""
    one, folder = results["one"], results["folder"]
    count = folder["images"]
    measures = [
        ("one image: wall s", one, "wall_s", ONE_GOAL),
        ("one image: peak RSS MiB", one, "peak_rss_mib", "-"),
        (f"{count:,} images: wall s", folder, "wall_s", "-"),
        (f"{count:,} images: images/s", folder, "images_per_s", FOLDER_GOAL),
        (f"{count:,} images: first answer after s", folder, "first_answer_s", "-"),
        (f"{count:,} images: last answer after s", folder, "last_answer_s", "-"),
        (f"{count:,} images: peak RSS MiB", folder, "peak_rss_mib", "-"),
    ]
    rows = []
    for name, runs, key, goal in measures:
        lite = runs["litert"][key]
        ratio = lite / runs["pre_issue"][key]
        rows.append(
            [
                name,
                f"{lite:,.2f}",
                f"{runs['savedmodel'][key]:,.2f}",
                f"{runs['pre_issue'][key]:,.2f}",
                f"{ratio:.3f}",
                f"{lite / runs['savedmodel'][key]:.3f}",
                goal,
                "-" if goal == "-" else report.met(ratio, goal),
            ]
        )
    header = [
        "mnist-predict",
        "LiteRT (default)",
        "SavedModel (TensorFlow)",
        f"pre-issue tool ({results['pre_issue']})",
        "LiteRT / pre-issue",
        "LiteRT / SavedModel",
        "goal (on / pre-issue)",
        "met",
    ]
    differ = results["answers_differ"]
    return (
        f"{markdown(header, rows)}\n\nEach a fresh process; medians of {results['repeats']} runs "
        f"each, alternating, after an unmeasured one (bytecode written, files cached). "
        f"The pre-issue tool is mnist-predict at {results['pre_issue']}, before the speed "
        f"goals (TensorFlow and the SavedModel, its own image preparation), run from a git "
        f"worktree of that commit. The {count:,} images are {results['folder_images']}; "
        f"answers differing from LiteRT's: {differ['savedmodel']} through the SavedModel, "
        f"{differ['pre_issue']} from the pre-issue tool (which prepares images differently). "
        f"Bench time {results['seconds'] / 60:.1f} min.\n"
    )


SECTIONS = {"predict": tables}


if __name__ == "__main__":
    main()
