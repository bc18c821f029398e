"""`mnist-push`: serve the model this workspace holds and its pipeline blessed, as evaluate
would have pushed it, without running anything.

The serving folder is a deployment folder outside DVC (docs/serving.md): a teammate's clone
gets the trained model and the committed blessing with `dvc pull`, and an empty serving
folder. This pushes that model as the next version, once it is known to be the very model
`reports/blessing.json` blessed. git stays clean: the serving folder is git-ignored. The
version passes InfraValidator before it is pushed, as evaluate's do (export.push), with
seeded images the model answers here: no test split is at hand.

    mnist-push            # after `dvc pull` (or `dvc checkout`), before `mnist-predict`
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from components.evaluate import schemas, serving
from pipeline import artifacts, boundary, outputs, schema, startup
from pipeline.errors import PipelineError
from pipeline.reports import Blessing

logger = logging.getLogger(__package__)


def blessed_model(root: Path) -> tuple[Path, Blessing]:
    """The workspace's model and its blessing, once the one is the other's candidate.

    Raises:
        PipelineError: naming what is missing or does not match, and the command to run.
    """
    paths = artifacts.under(root)
    model, blessing_file = paths["model"], paths["reports"] / artifacts.BLESSING_FILE
    if not model.is_file():
        raise PipelineError(
            f"{model} not found; run `dvc pull` (a shared project's results) or `dvc repro`"
        )
    try:
        blessing = Blessing.from_json(outputs.read_report(blessing_file))
    except FileNotFoundError:
        raise PipelineError(f"{blessing_file} not found; run `dvc repro`") from None
    except ValueError as error:
        raise PipelineError(f"{blessing_file} is not evaluate's blessing ({error})") from None
    if not blessing.blessed:
        raise PipelineError(f"the model was not blessed ({blessing.reason}); nothing to serve")
    if serving.file_sha256(model) != blessing.candidate.model_sha256:
        raise PipelineError(
            f"{model} is not the model {blessing_file} blessed; `dvc checkout` restores the "
            "one that goes with it"
        )
    return model, blessing


def push(root: Path) -> tuple[int, bool]:
    """Pushes the workspace's blessed model to its serving folder, unless it serves already.
    A serving folder that serves another model of this data is left to evaluate: the
    blessing was not decided against that one. Over a model of another dataset, the
    blessing's value check is all evaluate would ask (components.evaluate.blessing): that
    one is replaced, and a line says so.

    Returns:
        (the version that serves it, whether this call pushed it).

    Raises:
        PipelineError: if the model is not the blessed one, or another model serves.
    """
    model_path, blessing = blessed_model(root)
    paths = artifacts.under(root)
    base, data = paths["serving"], schema.read_schema(paths["schema"])
    with serving.push_lock(base):
        serving.remove_unfinished_pushes(base)
        latest = serving.serving_version(base)
        record = latest and serving.read_push_record(latest)
        if record and record.model_sha256 == blessing.candidate.model_sha256:
            return serving.number(latest), False
        replaced = latest and schemas.other_data(
            f"version {serving.number(latest)}", serving.read_version_schema(latest), data
        )
        if latest is not None and not replaced:
            raise PipelineError(
                f"{latest} serves another model, which the blessing was not decided against; "
                "`dvc repro --force -s evaluate` blesses this one against it (and pushes it)"
            )
        with startup.quiet_native_startup():
            import keras

            from components.evaluate import export
        model = keras.models.load_model(model_path, safe_mode=True)
        _check_schema(model, data, paths["schema"])
        pushed = serving.PushRecord(blessing.candidate.model_sha256, blessing.candidate.test)
        version = serving.number(export.push(model, base, pushed, data))
    if replaced:
        logger.warning("%s: version %d replaces it", replaced, version)
    return version, True


def _check_schema(model: Any, data: schema.Schema, path: Path) -> None:
    """Checks that the workspace's schema, read from `path`, is the one `model` was trained on.

    Raises:
        PipelineError: naming what the model takes and gives, and the fix.
    """
    if (
        tuple(model.input_shape[1:]) != data.image_shape
        or model.output_shape[-1] != data.num_classes
    ):
        raise PipelineError(
            f"{path} is not the schema the model was trained on (the model takes "
            f"{model.input_shape[1:]} and gives {model.output_shape[-1]} classes); "
            "`dvc checkout` restores the one that goes with it"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mnist-push", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    return boundary.guarded(
        lambda: _push_here(Path.cwd()),
        "mnist-push",
        said_by=logger,
        interrupted="interrupted; the serving folder is as it was",
    )


def _push_here(root: Path) -> int:
    version, pushed = push(root)
    serving_dir = artifacts.paths["serving"]
    said = "pushed as version" if pushed else "serves already as version"
    print(f"{artifacts.paths['model']}: {said} {version} in {serving_dir}")
    return 0


def console() -> None:
    """The `mnist-push` script: the process entry point, where process-wide settings go."""
    startup.set_tensorflow_log_level()
    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    boundary.console(main)


if __name__ == "__main__":
    console()
