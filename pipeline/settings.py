"""Settings files (params.yaml, tune.yaml) read as DVC reads them, and as the hostile input
they can be.

DVC reads params.yaml with ruamel.yaml's safe loader under YAML 1.2 (`dvc.utils.serialize`
`parse_yaml`); so does this reader, so that a value `dvc exp run -S` writes (`5e-05`, a
number under 1.2 and a string under 1.1) is the value every stage reads. Before a value is
built the file must be a regular file of at most MAX_BYTES, UTF-8, one YAML document whose
aliases expand to at most MAX_VALUES values, nested at most MAX_DEPTH deep, with no key set
twice in a mapping (DVC refuses such a params.yaml too). Each problem is one line naming the
file and the fix.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML, YAMLError
from ruamel.yaml.composer import Composer, MaxDepthExceededError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pipeline.errors import PipelineError, shown

MAX_BYTES = 1 << 20  # params.yaml is about 2 KB: a file 500 times that is not settings
MAX_VALUES = 10_000  # scalars, lists and mappings, with every alias expanded
MAX_DEPTH = 32
_MERGE = "tag:yaml.org,2002:merge"  # `<<: *defaults`, which ruamel.yaml and so DVC read


def read_settings(path: str | Path, *, prefix: str, missing: str) -> Any:
    """A settings file's contents, as plain dicts, lists and scalars.

    Args:
        prefix: what each message starts with ("params: ", say).
        missing: what to do when the file is not there.

    Raises:
        PipelineError: `prefix`, the file, and what is wrong with it.
    """
    path = Path(path)
    text = _text(path, prefix, missing)
    # DVC's own YAML(typ="safe"), whose parser is this pure-Python one while ruamel.yaml.clib
    # is not installed (uv.lock holds none): pure, it bounds its composer's depth.
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _CountingComposer
    yaml.max_depth = MAX_DEPTH + 1  # the root counts as 1: no recursion past the bound
    parser = None
    try:
        constructor, parser = yaml.get_constructor_parser(text)  # its reader checks characters
        yaml.composer.warn_double_anchors = False  # a warning of many lines; the last one wins
        node = yaml.composer.get_single_node()
        if node is None:
            return None
        _check(node, prefix, path, constructor)
        return constructor.construct_document(node)
    except (ValueError, OverflowError) as error:  # `2001-13-45`, `!!float abc`, 5,000 digits
        raise PipelineError(
            f"{prefix}{path} holds a value YAML cannot build ({shown(str(error))}); fix or quote it"
        ) from None
    except (MaxDepthExceededError, RecursionError):
        raise _too_deep(prefix, path) from None
    except _TooManyValues:
        raise _too_many(prefix, path) from None
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise PipelineError(f"{prefix}{path} is not valid YAML{where}; fix the syntax") from None
    finally:
        if parser is not None:
            parser.dispose()


class _TooManyValues(Exception):
    """More nodes composed than MAX_VALUES: the file expands to more values still."""


class _CountingComposer(Composer):
    """ruamel.yaml's composer, stopped once it has composed MAX_VALUES nodes: a long list
    costs no more to refuse than an alias bomb, and is refused before its values are built."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.composed = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.composed += 1  # an alias too: each is at least one value when expanded
        if self.composed > MAX_VALUES:
            raise _TooManyValues
        return super().compose_node(parent, index)


def _text(path: Path, prefix: str, missing: str) -> str:
    """The file's text, once it is known to be a regular, small, UTF-8 file."""
    try:
        mode = os.stat(path).st_mode  # through links: what a read would open
        if stat.S_ISDIR(mode):
            raise PipelineError(f"{prefix}{path} is a folder, not a settings file; {missing}")
        if not stat.S_ISREG(mode):
            raise PipelineError(f"{prefix}{path} is not a regular file; point it at a YAML file")
        with open(path, "rb") as file:
            data = file.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise PipelineError(f"{prefix}{path} not found; {missing}") from None
    except PermissionError:
        raise PipelineError(f"{prefix}{path} cannot be read (permission denied)") from None
    if len(data) > MAX_BYTES:
        raise PipelineError(
            f"{prefix}{path} is larger than {MAX_BYTES // 2**20} MiB: not a settings file; "
            "restore it from git"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PipelineError(
            f"{prefix}{path} is not UTF-8 text (byte {error.start}); save it as UTF-8"
        ) from None


def _check(root: Node, prefix: str, path: Path, constructor: Any) -> None:
    """Counts the values `root` expands to and checks every mapping's keys, each node once."""
    sizes: dict[int, int] = {}

    def size(node: Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise _too_deep(prefix, path)
        if id(node) in sizes:
            if sizes[id(node)] < 0:
                raise PipelineError(f"{prefix}{path} holds an alias to itself; write it out")
            return sizes[id(node)]
        sizes[id(node)] = -1  # under way: meeting it again is a cycle
        total = 1
        if isinstance(node, MappingNode):
            _unique_keys(node, prefix, path, constructor)
            children = [child for pair in node.value for child in pair]
        else:
            children = node.value if isinstance(node, SequenceNode) else []
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_VALUES:
                raise _too_many(prefix, path)
        sizes[id(node)] = total
        return total

    size(root, 0)


def _unique_keys(node: MappingNode, prefix: str, path: Path, constructor: Any) -> None:
    """Refuses a key set twice, as the same text or as the same value (`1` and `0x1`)."""
    seen: dict[Any, int] = {}
    for key, _ in node.value:
        if not isinstance(key, ScalarNode) or key.tag == _MERGE:
            continue  # not a valid key (the constructor says so), or `<<`, which merges
        line = key.start_mark.line + 1
        value = constructor.construct_object(key)  # a scalar: bounded by the file's size
        if value in seen:
            raise PipelineError(
                f"{prefix}{path} sets {shown(key.value)} twice (lines {seen[value]} and "
                f"{line}); keep one"
            )
        seen[value] = line


def _too_many(prefix: str, path: Path) -> PipelineError:
    return PipelineError(
        f"{prefix}{path} expands to more than {MAX_VALUES} values (YAML aliases?); "
        "write the values out"
    )


def _too_deep(prefix: str, path: Path) -> PipelineError:
    return PipelineError(f"{prefix}{path} nests deeper than {MAX_DEPTH} levels; flatten it")
