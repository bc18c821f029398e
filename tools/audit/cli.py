"""`mnist-audit`: rank the training split's examples whose given label the model doubts.

evaluate audits the test and validation splits with the model it scores; the training
split's probabilities from that model are not out-of-sample. This trains the configured
model (`train.*` in params.yaml) K times, each time on all folds but one (tools.audit.folds),
and ranks the training split's labels by confident learning over the out-of-fold
probabilities (pipeline.labels). It writes reports/label_issues_train.json, which no DVC
stage outputs: on a folder dataset it names the files. It runs after `dvc repro` (it reads
preprocess's output), and takes about K training runs.

    mnist-audit              # 5 folds
    mnist-audit --folds 10
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pipeline import artifacts, boundary, outputs, startup
from pipeline.errors import PipelineError, shown_path

logger = logging.getLogger("tools.audit")


def audit_train(data_dir: Path, schema_path: Path, out: Path, folds: int, params_path: Path) -> int:
    """Audits the training split of `data_dir` with `folds` folds; writes the report to `out`.

    Returns:
        how many examples were flagged.

    Raises:
        PipelineError: for a missing or damaged input, an empty split, or too many folds.
    """
    from pipeline import dataset, labels, schema
    from pipeline.params import load_params
    from tools.audit import folds as kfold

    params = load_params(params_path).train
    data = schema.read_schema(schema_path)
    split = dataset.split_input(data_dir, schema.TRAIN, data)
    with dataset.reading("mnist-audit", data_dir, (schema.TRAIN,), data, report=_anomalies()):
        assigned = kfold.assign(split, folds, params.seed)
        ranked = kfold.out_of_fold(split, assigned, folds, params).rank()
        keys, _ = dataset.picked(split, ranked.indices, ranked.indices[:0])
    audit = labels.flagged(*labels.by_source(ranked, keys), data.classes)
    outputs.write_json(out, labels.LabelIssues({schema.TRAIN: audit}).to_json())
    return len(audit.flagged)


def _not_the_excluded(out: Path, params_path: Path) -> None:
    """Refuses to write over the file preprocess.exclude names: the training split this audit
    sees lacks the examples it names, so the new report would put them back in training."""
    from pipeline.params import load_params

    excluded = Path(load_params(params_path).preprocess.exclude)
    if out.resolve() == excluded.resolve():
        raise PipelineError(
            f"{shown_path(out, 40)} is the file preprocess.exclude names, and this audit does "
            "not see its examples: give --out another file"
        )


def _anomalies() -> Path:
    from pipeline import workspace

    return workspace.anomalies_report("mnist-audit")


def _folds(text: str) -> int:
    if not text.isdigit() or int(text) < 2:
        raise argparse.ArgumentTypeError(f"{text!r} is no whole number of 2 or more")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    under = artifacts.under()
    parser = argparse.ArgumentParser(prog="mnist-audit", description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=_folds, default=5, help="K, the folds (default: 5)")
    parser.add_argument("--params", default="params.yaml", help="params file (params.yaml)")
    parser.add_argument("--data", default=str(under["processed"]), help="preprocess's output")
    parser.add_argument("--schema", default=str(under["schema"]), help="the dataset's schema")
    out = under["reports"] / artifacts.LABEL_ISSUES_TRAIN_FILE
    parser.add_argument("--out", default=str(out), help=f"the report (default: {out})")
    args = parser.parse_args(argv)

    def run() -> int:
        _not_the_excluded(Path(args.out), Path(args.params))
        with startup.quiet_native_startup():
            import tensorflow  # noqa: F401  (its start-up lines held back, as the stages')
        flagged = audit_train(
            Path(args.data), Path(args.schema), Path(args.out), args.folds, Path(args.params)
        )
        print(f"{flagged} training labels flagged: {args.out}")
        return 0

    return boundary.guarded(
        run, "mnist-audit", said_by=logger, interrupted="interrupted; no report was written"
    )


def console() -> None:
    """The `mnist-audit` script: the process entry point, where process-wide settings go."""
    startup.set_tensorflow_log_level()
    boundary.console(main)


if __name__ == "__main__":
    console()
