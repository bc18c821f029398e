"""`make bench-hostile`: peak memory of mnist-predict and ingest on the worst inputs found.

Each input runs in a process of its own (peak RSS of that process, by wait4), beside the
same command on an ordinary input, so each bound reads as a ratio:

- mnist-predict: an ordinary 28x28 digit; images that decode large from a small file (a
  PNG declaring the 50-megapixel limit in RGBA, in palette colours and in 1-bit, a 16-bit
  TIFF, a 50-megapixel JPEG); one declaring far more than the limit; the sparse-ink image
  that once crashed it. Both the whole command and the image's reading alone (without
  TensorFlow, whose import is most of the command's memory);
- ingest: the real mirror, and the mirror with its train images replaced by a gzip that
  expands to 2 GiB behind a valid header.

    python -m bench.hostile
"""

from __future__ import annotations

import gzip
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import components
from bench import report
from bench.measure import ROOT, bench_env, measure
from bench.results import unscratched
from components.evaluate import serving
from components.ingest import mirror
from components.ingest.stage import Paths as IngestPaths
from pipeline import artifacts
from tools.table import markdown

_SIDE = 7071  # 7071 x 7071 is just under the 50-megapixel limit
# What mnist-predict does to a file before TensorFlow loads, alone in a process.
_DECODE = (
    "import sys\nfrom pathlib import Path\nfrom tools.predict import images\n"
    "try:\n    images.to_mnist(images.load_image(Path(sys.argv[1])))\n"
    "except Exception as error:\n    print(error)\n"
)


def _images(folder: Path) -> dict[str, Path]:
    made = {}

    def save(name: str, image: Image.Image, **options: object) -> None:
        made[name] = folder / name
        image.save(made[name], **options)

    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255
    save("digit.png", Image.fromarray(digit))
    big = Image.new("L", (_SIDE, _SIDE), 255)
    big.paste(0, (3000, 3000, 4000, 4500))  # a dark stroke on white paper
    save("rgba-50mp.png", big.convert("RGBA"))
    save("palette-50mp.png", big.convert("P"))
    save("1bit-50mp.png", big.convert("1"))
    save("16bit-50mp.tif", big.convert("I;16"), compression="tiff_deflate")
    save("50mp.jpg", big.convert("RGB"), quality=90)
    save("declares-400mp.png", Image.new("1", (20_000, 20_000)))
    sparse = np.zeros((2000, 2000), np.uint8)
    sparse[0, 0] = sparse[-1, -1] = 255
    save("sparse-ink.png", Image.fromarray(sparse))
    return made


def _bomb_mirror(real: Path, folder: Path) -> Path:
    bomb = folder / "bomb-mirror"
    shutil.copytree(real, bomb)
    path = bomb / mirror.FILES["train_images"]
    path.chmod(0o644)
    with gzip.open(path, "wb", compresslevel=1) as file:
        file.write(struct.pack(">IIII", 2051, 60_000, 28, 28))
        for _ in range(2048):
            file.write(bytes(2**20))
    return bomb


def main() -> None:
    env = bench_env()
    started = time.perf_counter()
    results: dict = {"predict": {}, "ingest": {}}
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as scratch:
        work = Path(scratch)
        model = artifacts.under(ROOT)["serving"]  # after `make repro`
        if serving.serving_version(model) is None:  # or every row would read the refusal
            sys.exit(f"bench: no model is served from {model}: run `make repro` first")
        for name, path in _images(work).items():
            command = [sys.executable, "-m", "tools.predict.cli", str(path), "--model", str(model)]
            run = measure(command, work, env, check=False)
            decode = measure([sys.executable, "-c", _DECODE, str(path)], work, env, check=False)
            results["predict"][name] = {
                "file_bytes": path.stat().st_size,
                "peak_rss_mib": run["peak_rss_mib"],
                "decode_peak_rss_mib": decode["peak_rss_mib"],
                "said": unscratched(run["output"].strip().splitlines()[0], work),
            }
        real = Path(env["DATA_MIRROR"])
        for name, folder in (("mirror", real), ("gzip bomb", _bomb_mirror(real, work))):
            ingest = components.arguments(
                "ingest", IngestPaths(out="raw", schema="schema.json"), str(ROOT / "params.yaml")
            )
            command = [sys.executable, *ingest]
            run = measure(command, work, {**env, "DATA_MIRROR": str(folder)}, check=False)
            last = run["output"].strip().splitlines()[-1]
            results["ingest"][name] = {
                "peak_rss_mib": run["peak_rss_mib"],
                "wall_s": run["wall_s"],
                "said": unscratched(last.split(" pipeline: ", 1)[-1], work),
            }
    results["seconds"] = time.perf_counter() - started
    print(report.publish("hostile", results))


def tables(results: dict) -> str:
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
            run["said"].split(": ", 1)[-1],  # after the file's name
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
            run["said"],
        ]
        for name, run in ingest.items()
    ]
    ingest_header = ["ingest's mirror", "peak RSS MiB", "/ real mirror", "wall s", "last line"]
    return f"{markdown(header, rows)}\n\n{markdown(ingest_header, ingest_rows)}\n"


SECTIONS = {"hostile": tables}


if __name__ == "__main__":
    main()
