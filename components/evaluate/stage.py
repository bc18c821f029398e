"""Evaluate stage: score the trained model on the test split, bless it, push it if blessed.

TFX's Evaluator and Pusher in one process (a stage of its own would cost a TensorFlow
start-up per experiment): components.evaluate.blessing compares the model with the
thresholds and with the model serving now; a blessed model becomes the next version under
the serving folder (components.evaluate.serving), unless `evaluate.push` is false. The
test split is streamed through the model a batch at a time (pipeline.dataset), so memory
does not grow with it. Writes, into the reports folder: `metrics.json` (test loss and
accuracy, and whether the model was blessed), `blessing.json` (the verdict, which check
decided it, both models' metrics), `predictions.csv` (actual,predicted per test example:
the confusion matrix), `per_class.csv` (precision, recall, F1 and errors per class) and
`misclassified.png` (misclassified test digits captioned with their true and predicted
labels); and the label audit of the test and validation splits (components.evaluate.
label_audit): `label_issues.json`, `label_metrics.json` and `label_issues_<split>.png`.

    python -m components evaluate --data data/processed --schema data/schema.json \\
        --model models/model.keras --out reports --serving models/serving
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import traceback
from pathlib import Path
from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf

from components.evaluate import label_audit, schemas, serving
from components.evaluate.blessing import bless_and_push
from components.evaluate.infra import Probe
from components.evaluate.scores import Misclassified, Scorer
from pipeline import agreement, artifacts, cli, dataset, outputs, run_record, schema, transform
from pipeline.errors import PipelineError
from pipeline.params import EvaluateParams
from pipeline.reports import Blessing, ClassScores, HeadlineMetrics, Score
from pipeline.workspace import workspace_path

logger = logging.getLogger(__package__)

_BATCH_SIZE = 1000
_SPLITS = (schema.TEST, schema.VALIDATION)


@dataclasses.dataclass(frozen=True)
class Paths(cli.StagePaths):
    stage: ClassVar[str] = "evaluate"

    data: str = cli.flag("preprocess's output folder")
    schema: str = cli.flag("the dataset's schema, as ingest wrote it")
    model: str = cli.flag("train's .keras model file")
    out: str = cli.flag("output folder for the reports")
    serving: str = cli.flag("serving base folder, relative to the project root")


@dataclasses.dataclass(frozen=True)
class Evaluated:
    """What an evaluate run found: the candidate's test scores and the blessing."""

    test: Score
    blessing: Blessing


def _load(model_path: Path) -> keras.Model:
    """The trained model, from a file that may have been damaged since train wrote it.

    Raises:
        PipelineError: for a file Keras cannot load, naming it and the fix.
    """
    try:
        return keras.models.load_model(model_path, safe_mode=True)
    except Exception as error:  # a damaged archive fails in any of zipfile's, h5py's, Keras's ways
        said = f"{type(error).__name__}: {error}".splitlines()[0][:200]
        raise PipelineError(
            f"{model_path} is not a loadable Keras model ({said}); it is damaged: "
            f"`dvc checkout --force {model_path}` restores it, or `dvc repro --force -s train` "
            "remakes it; if it comes back damaged, DVC's cache copy is (docs/troubleshooting.md, "
            "'A damaged cache')",
            evidence="".join(traceback.format_exception(error)),
        ) from None


def _score_candidate(
    model: keras.Model,
    test: tf.data.Dataset,
    data: schema.Schema,
    out_dir: Path,
    audit: label_audit.Probabilities,
) -> tuple[Scorer, Probe]:
    """Scores the model batch by batch, writing predictions.csv (class names, for the
    plots) and misclassified.png, and gathering the probabilities `audit` ranks; the first
    batch's examples, as raw pixels, and their classes are InfraValidator's probe."""
    scores, wrong = Scorer(data.num_classes), Misclassified(data)
    names = np.array(data.classes, object)
    probe = None
    with (out_dir / artifacts.PREDICTIONS_FILE).open("w", newline="") as file:
        rows = csv.writer(file)
        rows.writerow(["actual", "predicted"])
        for images, given in test:
            images, given = images.numpy(), given.numpy()
            probabilities = model.predict_on_batch(images)
            predicted = scores.add(given, probabilities)
            audit.add(given, probabilities)
            rows.writerows(zip(names[given], names[predicted], strict=True))
            wrong.add(images, given, predicted)
            if probe is None:
                probe = Probe.of(transform.unscale_pixels(images), probabilities)
    wrong.grid().save(out_dir / artifacts.MISCLASSIFIED_FILE)
    return scores, probe


def _score_version(version: Path, test: tf.data.Dataset, data: schema.Schema) -> Score:
    """A pushed version's test scores, through its `serving_default`: raw pixels in.

    Raises:
        PipelineError: for a version whose model is not the one its schema describes.
    """
    serve = serving.load_signature(version)
    schemas.check_signature(version, serve, data)
    scores = Scorer(data.num_classes)
    for images, labels in test:
        pixels = transform.unscale_pixels(images.numpy())
        scores.add(labels.numpy(), serve(images=tf.constant(pixels))["probabilities"].numpy())
    return scores.score()


def evaluate(paths: Paths, params: EvaluateParams) -> Evaluated:
    """Scores `paths.model` on the test split of `paths.data`, blesses and pushes it.

    `paths.out`, the reports folder, is replaced atomically, keeping the files of other
    tools there (pipeline.outputs.keep_others); a blessed model is pushed to
    `paths.serving`, the serving base folder, unless `params.push` is false.

    Raises:
        PipelineError: for a missing model, or a record that breaks the schema.
    """
    data = schema.read_schema(paths.schema)
    split = dataset.split_input(paths.data, schema.TEST, data)
    validation = dataset.split_input(paths.data, schema.VALIDATION, data)
    agreement.check_schema(paths.schema, data, paths.data, _SPLITS, schema.PROCESSED_DTYPE)

    def test() -> tf.data.Dataset:
        return dataset.batches(split, batch_size=_BATCH_SIZE)

    model_path = outputs.require(paths.model, "train")
    model = _load(model_path)
    with (
        outputs.atomic_output(paths.out, exclusive=True) as temp,
        dataset.reading("evaluate", paths.data, _SPLITS, data, report=paths.anomalies),
    ):
        temp.mkdir()
        audit = label_audit.gathering(split, schema.TEST)
        scores, probe = _score_candidate(model, test(), data, temp, audit)
        score = scores.score()
        logger.info("test accuracy %.4f, loss %.4f", score.accuracy, score.loss)
        audited = {
            schema.TEST: (split, audit),
            schema.VALIDATION: (
                validation,
                label_audit.gather(model, validation, schema.VALIDATION),
            ),
        }
        logger.info(label_audit.flagged_line(label_audit.write_audit(temp, audited, data)))
        blessing = bless_and_push(
            model=model,
            model_path=model_path,
            candidate=score,
            score_version=lambda version: _score_version(version, test(), data),
            serving_dir=paths.serving,
            params=params,
            data=data,
            probe=probe,
        )
        per_class = scores.per_class(data.classes)
        _write_reports(temp, HeadlineMetrics(score, blessing.blessed), per_class, blessing)
        outputs.keep_others(paths.out, temp)  # mnist-audit's report of train, say
    return Evaluated(score, blessing)


def _write_reports(
    out_dir: Path, metrics: HeadlineMetrics, per_class: dict[str, ClassScores], blessing: Blessing
) -> None:
    # The headline metrics only; per-class scores are in per_class.csv for the plots.
    outputs.write_json(out_dir / artifacts.METRICS_FILE, metrics.to_json())
    outputs.write_json(out_dir / artifacts.BLESSING_FILE, blessing.to_json())
    with (out_dir / artifacts.PER_CLASS_FILE).open("w", newline="") as file:
        rows = csv.writer(file)
        rows.writerow(["class", "precision", "recall", "f1", "missed", "false_alarms"])
        rows.writerows(
            [c, f"{s.precision:.6f}", f"{s.recall:.6f}", f"{s.f1:.6f}", s.missed, s.false_alarms]
            for c, s in per_class.items()
        )


def main(argv: list[str] | None = None) -> None:
    paths, params = cli.arguments(Paths, argv, __doc__.splitlines()[0])
    paths = dataclasses.replace(paths, serving=str(workspace_path(paths.serving)))
    # TensorFlow logs "Assets written to <temp folder>" twice per push, at INFO: noise.
    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    with run_record.stage("evaluate"):
        evaluate(paths, params.evaluate)
