"""Failures and interrupts through DVC's own commands: every stage's previous outputs stay.

DVC would delete a stage's outputs before running it; dvc.yaml marks them `persist`, so
they stay in place until the stage's own atomic replace. Each test fails or interrupts a
stage as users meet it (`dvc repro`, `dvc exp run` in the workspace, `--temp`, queued;
a bad param, a damaged mirror, a full disk, Ctrl-C, SIGTERM to DVC or to the stage) and
checks every output of every stage, byte for byte, and that the next run completes.

Each test works in a copy of a baseline (tests/e2e/conftest.py): the small folder of digits,
but for the mirror's damage and the full disk, which need MNIST's mirror and its size.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from components.ingest import mirror
from tests.support.project import PATHS, Project, recipe, session_ends
from tests.support.stages import temps_left

pytestmark = pytest.mark.e2e

OUTPUTS = ("raw", "processed", "model", "live", "reports")


@pytest.fixture
def project(digits_project: Project) -> Project:
    """The small folder of digits, run and committed: a copy of its own for each test."""
    return digits_project


def _outputs(project: Project) -> dict[str, str]:
    """The SHA-256 of every file of every stage's outputs, by path: a failure shows which
    files changed (a diff of the bytes themselves would take pytest longer than the test)."""
    found = {}
    for name in OUTPUTS:
        path = project.path / PATHS[name]
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        found |= {str(p.relative_to(project.path)): _digest(p) for p in files}
    return found


def _digest(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _left_clean(project: Project) -> None:
    """No temp output left, and DVC sees the outputs it recorded."""
    assert temps_left(project.path) == [], "a temp output was left"
    assert "changed outs" not in project.run("dvc", "status")


def _one_error_line(output: str) -> str:
    errors = [line for line in output.splitlines() if " ERROR pipeline: " in line]
    assert len(errors) == 1 and "Traceback" not in output, output[-3000:]
    return errors[0]


def test_a_bad_param_in_a_workspace_experiment_keeps_every_output(project: Project):
    before = _outputs(project)
    failed = project.call("dvc", "exp", "run", "-S", "train.batch_size=0")
    assert failed.returncode != 0
    assert "'train.batch_size' is 0" in _one_error_line(failed.stdout + failed.stderr)
    assert _outputs(project) == before
    _left_clean(project)


def test_a_damaged_mirror_under_repro_keeps_the_ingested_data(
    mnist_project: Project, tmp_path: Path
):
    project = mnist_project
    shutil.copytree(project.env["DATA_MIRROR"], tmp_path / "mirror")
    (tmp_path / "mirror" / mirror.FILES["test_labels"]).unlink()
    before = _outputs(project)
    env = {**project.env, "DATA_MIRROR": str(tmp_path / "mirror")}
    failed = subprocess.run(
        ["dvc", "repro", "--force", "-s", "ingest"],
        cwd=project.path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert failed.returncode != 0
    assert "t10k-labels-idx1-ubyte.gz is missing" in _one_error_line(failed.stderr)
    assert _outputs(project) == before
    _left_clean(project)


def _limited_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (2_000_000, 2_000_000))


def test_a_full_disk_under_repro_keeps_the_previous_output_as_the_message_says(
    mnist_project: Project,
):
    project = mnist_project  # preprocess writes past the 2 MB limit on MNIST
    before = _outputs(project)
    failed = subprocess.run(
        ["dvc", "repro", "--force", "-s", "preprocess"], cwd=project.path, env=project.env,
        capture_output=True, text=True, timeout=600, preexec_fn=_limited_file_size,
    )  # fmt: skip
    assert failed.returncode != 0
    assert "its previous output is untouched" in _one_error_line(failed.stderr)
    assert _outputs(project) == before
    _left_clean(project)


def _interrupt_training(project: Project, send) -> int:
    """Runs `dvc repro` of train; once its first epoch is logged, `send(dvc's process)`.

    Returns:
        DVC's exit status.
    """
    project.set_param("train.epochs", 20)  # the signal comes with 19 to go
    log = project.path.with_name(f"{project.path.name}-interrupted.log")  # for a failure's story
    with log.open("w") as out:  # under /bin/sh, the shell that stays in between (Project)
        repro = subprocess.Popen(
            ["dvc", "repro", "-s", "train"], cwd=project.path, env=project.env,
            start_new_session=True, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 600
        while not list(project.path.glob(".dvclive.tmp-*/plots/metrics/train/loss.tsv")):
            assert repro.poll() is None and time.monotonic() < deadline, "train ended first"
            time.sleep(0.01)
        send(repro)
        status = repro.wait(timeout=120)
    session_ends(repro.pid)  # a stage whose DVC was killed stops too
    return status


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda dvc: os.killpg(dvc.pid, signal.SIGINT), id="ctrl_c"),
        pytest.param(lambda dvc: dvc.terminate(), id="sigterm_to_dvc"),  # as `timeout` does
        pytest.param(
            lambda dvc: os.kill(_stage_pid(dvc), signal.SIGTERM), id="sigterm_to_the_stage"
        ),
    ],
)
def test_an_interrupted_stage_keeps_every_output_and_the_next_run_completes(project: Project, send):
    before = _outputs(project)
    assert _interrupt_training(project, send) != 0
    assert _outputs(project) == before
    story = project.path.with_name(f"{project.path.name}-interrupted.log").read_text()
    assert "outputs were left as they were before this run" in story, story[-3000:]
    _left_clean(project)
    assert project.stages_run("dvc", "repro") == ["train", "evaluate"]


def _stage_pid(dvc: subprocess.Popen) -> int:
    found = subprocess.run(
        ["pgrep", "-s", str(dvc.pid), "-f", "components train"], capture_output=True, text=True
    )
    return int(found.stdout.split()[0])


def test_failed_temp_and_queued_experiments_leave_the_workspace(project: Project):
    before = _outputs(project)
    temp = project.call("dvc", "exp", "run", "--temp", "-S", "train.epochs=0")
    assert temp.returncode != 0 and "'train.epochs' is 0" in temp.stdout + temp.stderr
    project.run("dvc", "exp", "run", "--queue", "-S", "train.learning_rate=.inf")
    assert list(project.run_queue(jobs=1).values()) == ["failed"]
    assert _outputs(project) == before
    assert project.run("git", "status", "--porcelain") == ""


def test_a_model_damaged_in_dvcs_cache_is_one_line_and_the_documented_recipe_restores_it(
    project: Project,
):
    before = _outputs(project)
    cached = project.cached(project.lock_hashes()[PATHS["model"]])
    kept = cached.stat()
    damaged = bytearray(cached.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # one flipped byte, its time kept: DVC does not notice
    cached.chmod(0o644)  # DVC keeps its cache read-only
    cached.write_bytes(bytes(damaged))
    os.utime(cached, ns=(kept.st_atime_ns, kept.st_mtime_ns))
    (project.path / PATHS["model"]).unlink()
    project.run("dvc", "checkout", "--force")
    assert (project.path / PATHS["model"]).read_bytes() == damaged  # DVC restored the damage
    failed = project.call("dvc", "repro", "--force", "-s", "evaluate")
    line = _one_error_line(failed.stderr)
    assert "is not a loadable Keras model" in line and "'A damaged cache'" in line
    project.run("bash", "-e", "-c", recipe("docs/troubleshooting.md", "damaged-cache"))
    assert _outputs(project) == before
    _left_clean(project)
