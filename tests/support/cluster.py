"""The local cluster stand-ins, which live with the bench (bench.cluster) so that the bench
imports nothing from the tests; re-exported for the tests that start one."""

from bench.cluster import (
    HOST,
    beam_portable,
    dask,
    dask_tasks_run,
    dask_worker_peak_rss_mib,
    free_port,
)

__all__ = [
    "HOST",
    "beam_portable",
    "dask",
    "dask_tasks_run",
    "dask_worker_peak_rss_mib",
    "free_port",
]
