"""evaluate's label audit: the test and validation splits through the model it scores (its
probabilities are out-of-sample there), ranked by confident learning (pipeline.labels).

Writes, into the reports folder: `label_issues.json` (per split, how many were audited and
every example flagged, ranked), `label_metrics.json` (examples flagged per split, for
`dvc metrics show`) and `label_issues_<split>.png` (the most doubted images, captioned with
their given and suggested classes, for `dvc plots show`).
"""

from __future__ import annotations

from pathlib import Path

import keras

from components.evaluate.scores import Misclassified, fits_cell, short_name
from pipeline import artifacts, dataset, labels, outputs, schema

_BATCH_SIZE = 1000
_SHOWN = 40  # images in a split's picture


class Doubted(Misclassified):
    """The most doubted images of a split, each captioned "given -> suggested"."""

    nothing_text = "no label of this split was flagged"

    def _caption(self, label: int, predicted: int) -> list[str]:
        given, suggested = (short_name(self.data.classes[c]) for c in (label, predicted))
        one_line = f"{given} -> {suggested}"
        return [one_line] if fits_cell(one_line) else [given, f"-> {suggested}"]


Probabilities = labels.Probabilities


def gathering(split: dataset.SplitInput, name: str) -> labels.Probabilities:
    """An empty gathering of the split `name`'s probabilities, for the caller to fill."""
    return labels.Probabilities(name, split.count, split.schema.num_classes)


def gather(model: keras.Model, split: dataset.SplitInput, name: str) -> labels.Probabilities:
    """A split's probabilities under `model`, batch by batch."""
    gathered = gathering(split, name)
    for images, given in dataset.batches(split, batch_size=_BATCH_SIZE):
        gathered.add(given.numpy(), model.predict_on_batch(images.numpy()))
    return gathered


def write_audit(
    out_dir: Path,
    gathered: dict[str, tuple[dataset.SplitInput, labels.Probabilities]],
    data: schema.Schema,
) -> labels.LabelMetrics:
    """Ranks each split's doubted labels and writes the label reports into `out_dir`."""
    audits = {}
    for name, (split, probabilities) in gathered.items():
        ranked = probabilities.rank()
        keys, images = dataset.picked(split, ranked.indices, ranked.indices[:_SHOWN])
        audits[name] = labels.flagged(ranked, keys, data.classes)
        doubted = Doubted(data, limit=_SHOWN)
        shown = zip(ranked.indices[:_SHOWN], ranked.given, ranked.suggested, strict=False)
        doubted.images = [(images[int(i)], int(g), int(s)) for i, g, s in shown]
        doubted.grid().save(out_dir / artifacts.LABEL_PLOT_FILES[name])
    outputs.write_json(out_dir / artifacts.LABEL_ISSUES_FILE, labels.LabelIssues(audits).to_json())
    metrics = labels.LabelMetrics({name: len(audit.flagged) for name, audit in audits.items()})
    outputs.write_json(out_dir / artifacts.LABEL_METRICS_FILE, metrics.to_json())
    return metrics


def flagged_line(metrics: labels.LabelMetrics) -> str:
    """The log line: `labels flagged: 12 in test, 7 in validation`."""
    return "labels flagged: " + ", ".join(f"{n} in {s}" for s, n in metrics.flagged.items())
