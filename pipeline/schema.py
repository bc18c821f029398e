"""The record schema: the features every record holds, and the `Schema` of a dataset.

Every stage reads and writes `tf.train.Example` records (pipeline.codec encodes and
decodes them) with three features:

- `key`: bytes, a stable example id such as b"train-00042" (its split and position in the
  dataset's canonical order) or b"train/cat/0001.png" (its file in a folder dataset), used
  for the deterministic validation split; an augmented copy's key is its original's with a
  suffix, b"train-00042-aug3";
- `image`: bytes, the image's pixels row-major, channels last; uint8 after ingest,
  little-endian float32 in [0, 1] after preprocess (raw bytes parse much faster than a
  float_list);
- `label`: int64, the class id in [0, the number of classes).

What the images are (height, width, channels) and what the classes are called is the
dataset's, not the code's: ingest infers a `Schema` from the data and writes it beside it
(`data/schema.json`, tracked by DVC), and every later stage, the served model and
mnist-predict read it from there, as TFX's components read SchemaGen's artifact.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

from pipeline import outputs
from pipeline.errors import PipelineError, shown
from pipeline.record import Record

KEY = "key"
IMAGE = "image"
LABEL = "label"

RAW_DTYPE = np.uint8  # pixels as ingest writes them, and as every schema declares them
PROCESSED_DTYPE = np.float32
DIGIT, RESIZE = "digit", "resize"  # how mnist-predict frames an image (Schema.framing)
DIGIT_SHAPE = (28, 28, 1)  # what DIGIT framing makes: a digit centred as MNIST's were
MAX_SIDE = 1024  # pixels a side of an image the stages train on
MAX_CLASSES = 1000
MAX_CLASS_NAME = 64  # characters
_SHOWN_NAME = 10  # characters of a class name `Schema.described` shows: two datasets fit a line


def shape_text(shape: tuple[int, ...]) -> str:
    """A shape as messages write it: `28x28x1`."""
    return "x".join(map(str, shape))


def label_problem(name: str) -> str | None:
    """Why `name` cannot name a class in the reports, or None. A class's name is a value in
    reports/*.csv, a label in plots and mnist-predict's answer: one short line that needs
    no quoting (tfds's names pass: Fashion-MNIST's "T-shirt/top")."""
    if not name:
        return "empty"
    if len(name) > MAX_CLASS_NAME:
        return f"over {MAX_CLASS_NAME} characters"
    if name != name.strip():
        return "white space at an end"
    bad = next((char for char in name if not char.isprintable() or char in ",\"'"), None)
    return f"{shown(bad)} is not allowed" if bad is not None else None


def class_name_problem(name: str) -> str | None:
    """Why a folder dataset's class folder `name` cannot name a class, or None: stricter
    than `label_problem`, letters and digits of any script with `_`, `-`, `+` and inner
    spaces, so the name is also a file name everywhere and a DVC param key (no `.`, `/`,
    `$`, `{}`, `:`...)."""
    if problem := label_problem(name):
        return problem
    bad = next((char for char in name if not (char.isalnum() or char in "_-+ ")), None)
    return f"{shown(bad)} is not allowed" if bad is not None else None


@dataclasses.dataclass(frozen=True)
class Schema(Record):
    """A dataset's images and classes, as ingest inferred them from the data."""

    height: int
    width: int
    channels: int  # 1 (grey) or 3 (RGB)
    dtype: str  # the raw pixels': "uint8"
    classes: tuple[str, ...]  # the class names, by id
    framing: str  # DIGIT: an image is framed as MNIST's digits were; RESIZE: resized only

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.height, self.width, self.channels

    @property
    def values(self) -> int:
        """Pixel values per image: height x width x channels."""
        return self.height * self.width * self.channels

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def described(self) -> str:
        """Its classes and image shape in a few words, for a line that names two datasets:
        `circle, square (32x32x3)`, `0..9 (28x28x1)`: two names, or the first and last."""
        names = [
            name if len(name) <= _SHOWN_NAME else f"{name[: _SHOWN_NAME - 3]}..."
            for name in self.classes
        ]
        shown = ", ".join(names) if len(names) <= 2 else f"{names[0]}..{names[-1]}"
        return f"{shown} ({shape_text(self.image_shape)})"

    def check(self) -> Schema:
        """Itself, once its values make a schema the stages can follow.

        Raises:
            ValueError: saying which value does not.
        """
        if not all(0 < side <= MAX_SIDE for side in (self.height, self.width)):
            raise ValueError(
                f"images of {self.height}x{self.width}: sides of 1 to {MAX_SIDE} pixels train"
            )
        if self.channels not in (1, 3):
            raise ValueError(f"{self.channels} channels: images are grey (1) or RGB (3)")
        if self.dtype != "uint8":
            raise ValueError(f"pixels of {self.dtype}: ingest writes uint8")
        if not 2 <= len(self.classes) <= MAX_CLASSES or len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes must be 2 to {MAX_CLASSES} distinct names")
        for name in self.classes:
            problem = label_problem(name) if isinstance(name, str) else "not a string"
            if problem:
                raise ValueError(f"class name {shown(name)}: {problem}")
        if self.framing not in (DIGIT, RESIZE):
            raise ValueError(f"framing {shown(self.framing)} is neither {DIGIT} nor {RESIZE}")
        if self.framing == DIGIT and self.image_shape != DIGIT_SHAPE:
            raise ValueError(f"{DIGIT} framing makes {DIGIT_SHAPE} images, not {self.image_shape}")
        return self


def write_schema(path: str | Path, schema: Schema) -> None:
    outputs.write_json(path, schema.to_json())


def read_schema(path: str | Path) -> Schema:
    """The schema ingest wrote.

    Raises:
        PipelineError: if it is missing or is not a schema, naming the fix.
    """
    fix = "re-run ingest (dvc repro --force -s ingest)"
    try:
        return Schema.from_json(outputs.read_report(path)).check()
    except FileNotFoundError:
        raise PipelineError(f"{path} not found; {fix}") from None
    except ValueError as error:
        raise PipelineError(f"{path} is not a dataset's schema ({error}); {fix}") from None


TRAIN = "train"
VALIDATION = "validation"
TEST = "test"
RAW_SPLITS = (TRAIN, TEST)
PROCESSED_SPLITS = (TRAIN, VALIDATION, TEST)


def example_key(split: str, index: int) -> bytes:
    """The stable key of the `index`-th example of a source split, as ingest writes it."""
    return f"{split}-{index:05d}".encode()


def file_key(path: bytes) -> bytes:
    """The record key of a folder dataset's image file at `path` below the folder: a hash of
    the path, then the path (b"5d41402a:train/cat/0001.png").

    Preprocess orders each shard by key; by path, the examples would come out class by
    class, and a shuffle buffer smaller than the split (train.buffer_size) could not mix
    them (MNIST as a folder of PNG files trained to 0.954 against 0.976). By the hash they
    come out mixed, in an order that depends on the paths alone, as tfds writes a
    dataset's examples in an order by hash of their keys."""
    return hashlib.blake2b(path, digest_size=4).hexdigest().encode() + b":" + path


def copy_key(key: bytes, copy: int) -> bytes:
    """The key of augmented copy number `copy` (from 1) of the example with `key`."""
    return b"%s-aug%d" % (key, copy)


def split_file(split: str, shard: int = 0, num_shards: int = 1) -> str:
    """The TFRecord file name of one shard of a split, as every stage names it."""
    return f"{split}-{shard:05d}-of-{num_shards:05d}.tfrecord"


def split_pattern(split: str) -> str:
    """A glob matching every shard file of a split."""
    return f"{split}-*-of-*.tfrecord"
