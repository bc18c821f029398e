"""The tables of docs/serving.md: mnist-predict on photos (bench.photos) and its speed
against the tool before it and its own SavedModel path (bench.predict)."""

from __future__ import annotations

from bench.tables import met, table

_CLEAN, _PHOTOGRAPHED = "clean scans", "photographed"  # the photos goal's two conditions
PHOTOS_GOAL = ">= 0.95"  # photographed handwritten digits' accuracy / the clean scans'
ONE_GOAL, FOLDER_GOAL = "<= 0.25", ">= 4"  # LiteRT / pre-issue tool: one image's time, throughput


def photos_table(results: dict) -> str:
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
        f"{met(every['accuracy'] - every['before_accuracy'], '>= 0')}). "
    )
    return (
        f"{table(header, rows)}\n\n{clean_all}Goal: photographed handwritten digits within "
        f"0.95x of the clean scans' accuracy: {ratio:.3f}x, {met(ratio, PHOTOS_GOAL)}. "
        f"{results['digits']} MNIST test digits; printed: {len(results['fonts'])} fonts at "
        f"{', '.join(map(str, results['font_sizes']))} px, digits 0-9. Unsure: below "
        f"--min-confidence {results['min_confidence']:g}, or no clear digit found. "
        f"Bench time {results['seconds'] / 60:.1f} min.\n"
    )


def speed_tables(results: dict) -> str:
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
                "-" if goal == "-" else met(ratio, goal),
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
        f"{table(header, rows)}\n\nEach a fresh process; medians of {results['repeats']} runs "
        f"each, alternating, after an unmeasured one (bytecode written, files cached). "
        f"The pre-issue tool is mnist-predict at {results['pre_issue']}, before the speed "
        f"goals (TensorFlow and the SavedModel, its own image preparation), run from a git "
        f"worktree of that commit. The {count:,} images are {results['folder_images']}; "
        f"answers differing from LiteRT's: {differ['savedmodel']} through the SavedModel, "
        f"{differ['pre_issue']} from the pre-issue tool (which prepares images differently). "
        f"Bench time {results['seconds'] / 60:.1f} min.\n"
    )
