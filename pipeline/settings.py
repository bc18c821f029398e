"""Settings files (params.yaml, tune.yaml) read as the hostile input they can be.

Before a value is built the file must be a regular file of at most MAX_BYTES, UTF-8, one
YAML document whose aliases expand to at most MAX_VALUES values, nested at most MAX_DEPTH
deep, with no key set twice in a mapping (DVC refuses such a params.yaml too, while
PyYAML would keep the last). Each problem is one line naming the file and the fix.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import PipelineError, shown

MAX_BYTES = 1 << 20  # params.yaml is about 2 KB: a file 500 times that is not settings
MAX_VALUES = 10_000  # scalars, lists and mappings, with every alias expanded
MAX_DEPTH = 32
_MERGE = "tag:yaml.org,2002:merge"  # `<<: *defaults`, which YAML 1.1 and DVC read


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
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # its reader refuses characters YAML does not take
        node = loader.get_single_node()
        if node is None:
            return None
        _check(node, prefix, path, loader)
        return loader.construct_document(node)
    except (ValueError, OverflowError) as error:  # `2001-13-45`, `!!float abc`, 5,000 digits
        raise PipelineError(
            f"{prefix}{path} holds a value YAML cannot build ({shown(str(error))}); fix or quote it"
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise PipelineError(f"{prefix}{path} is not valid YAML{where}; fix the syntax") from None
    except RecursionError:
        raise _too_deep(prefix, path) from None
    finally:
        if loader is not None:
            loader.dispose()


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


def _check(root: yaml.Node, prefix: str, path: Path, loader: yaml.SafeLoader) -> None:
    """Counts the values `root` expands to and checks every mapping's keys, each node once."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise _too_deep(prefix, path)
        if id(node) in sizes:
            if sizes[id(node)] < 0:
                raise PipelineError(f"{prefix}{path} holds an alias to itself; write it out")
            return sizes[id(node)]
        sizes[id(node)] = -1  # under way: meeting it again is a cycle
        total = 1
        if isinstance(node, yaml.MappingNode):
            _unique_keys(node, prefix, path, loader)
            children = [child for pair in node.value for child in pair]
        else:
            children = node.value if isinstance(node, yaml.SequenceNode) else []
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_VALUES:
                raise PipelineError(
                    f"{prefix}{path} expands to more than {MAX_VALUES} values (YAML aliases?); "
                    "write the values out"
                )
        sizes[id(node)] = total
        return total

    size(root, 0)


def _unique_keys(node: yaml.MappingNode, prefix: str, path: Path, loader: yaml.SafeLoader) -> None:
    """Refuses a key set twice, as the same text or as the same value (`1` and `0x1`)."""
    seen: dict[Any, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE:
            continue  # not a valid key (the constructor says so), or `<<`, which merges
        line = key.start_mark.line + 1
        value = loader.construct_object(key)  # a scalar: bounded by the file's size
        if value in seen:
            raise PipelineError(
                f"{prefix}{path} sets {shown(key.value)} twice (lines {seen[value]} and "
                f"{line}); keep one"
            )
        seen[value] = line


def _too_deep(prefix: str, path: Path) -> PipelineError:
    return PipelineError(f"{prefix}{path} nests deeper than {MAX_DEPTH} levels; flatten it")
