"""The photos bench's table in docs/serving.md, and its goals: photographed handwritten
digits within 0.95x of the clean scans' accuracy, and the clean scans no worse than before."""

from __future__ import annotations

from bench import report
from tools.table import markdown

_CLEAN, _PHOTOGRAPHED = "clean scans", "photographed"  # the photos goal's two conditions
PHOTOS_GOAL = ">= 0.95"  # photographed handwritten digits' accuracy / the clean scans'


def table(results: dict) -> str:
    """Each condition's accuracy against the clean scans, and how its wrong answers look."""
    conditions = {scored["condition"]: scored for scored in results["conditions"]}
    clean = conditions[_CLEAN]["accuracy"]
    rows = []
    for name, scored in conditions.items():
        median = scored["wrong_median_probability"]
        wrong = scored["images"] - scored["correct"]
        earlier = scored.get("before_accuracy")
        rows.append(
            [
                name,
                f"{scored['images']:,}",
                "-" if earlier is None else f"{earlier:.1%}",
                f"{scored['accuracy']:.1%}",
                f"{scored['accuracy'] / clean:.3f}",
                "-" if median is None else f"{median:.2f}",
                f"{scored['unsure']:,} ({scored['wrong_unsure']} of {wrong} wrong)",
            ]
        )
    header = [
        "images",
        "count",
        f"before ({results.get('before', '-')})",
        "accuracy",
        "/ clean scans",
        "wrong answers' median probability",
        "flagged unsure",
    ]
    ratio = conditions[_PHOTOGRAPHED]["accuracy"] / clean
    every = results.get("every_clean_scan")
    clean_all = (
        ""
        if every is None
        else f"All {every['images']:,} MNIST test digits as clean scans: "
        f"{every['accuracy']:.2%}, before {every['before_accuracy']:.2%} (goal: no worse: "
        f"{report.met(every['accuracy'] - every['before_accuracy'], '>= 0')}). "
    )
    return (
        f"{markdown(header, rows)}\n\n{clean_all}Goal: photographed handwritten digits within "
        f"0.95x of the clean scans' accuracy: {ratio:.3f}x, {report.met(ratio, PHOTOS_GOAL)}. "
        f"{results['digits']} MNIST test digits; printed: {len(results['fonts'])} fonts at "
        f"{', '.join(map(str, results['font_sizes']))} px, digits 0-9. Unsure: below "
        f"--min-confidence {results['min_confidence']:g}, or no clear digit found. "
        f"Bench time {results['seconds'] / 60:.1f} min.\n"
    )


SECTIONS = {"photos": table}
