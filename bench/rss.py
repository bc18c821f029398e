"""Runs a command and writes its peak resident memory (and exit status) to a file.

    python -m bench.rss OUT_JSON COMMAND...

Why a process between the bench and the command: Linux counts a child's peak RSS from the
moment it is forked, so a command forked from a bench that holds hundreds of MiB (images,
a Dask client) would report at least that much. Forked from this small process instead,
it reports its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def main() -> None:
    out, command = sys.argv[1], sys.argv[2:]
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    result = {"peak_rss_kib": usage.ru_maxrss, "returncode": os.waitstatus_to_exitcode(status)}
    with open(out, "w") as file:
        json.dump(result, file)
    sys.exit(0)


if __name__ == "__main__":
    main()
