"""bench.serve's judgement of its runs: each goal read from the numbers it names, and a
goal missed shown as missed."""

from __future__ import annotations

import os

from bench import serve, serve_load


def _results(batch_per_s=(70.0, 40.0), failures=(0, 0, 0, 0), rss=(100.0, 105.0)) -> dict:
    """Results as bench.serve writes them: a floor of 80 batches/s, and single-image p99s
    of 14 ms at 8 clients and 50 ms at 32 (the goal is judged at 8 only)."""
    runs = []
    for n, (users, kind) in enumerate((u, k) for u in serve.USERS for k in serve.KINDS):
        per_s = batch_per_s[serve.USERS.index(users)] if kind == "batch" else 900.0
        runs.append(
            {
                "users": users,
                "kind": kind,
                "requests": 1000,
                "failures": failures[n],
                "requests_per_s": per_s,
                "images_per_s": per_s * serve.KINDS[kind],
                "p50_ms": 5.0,
                "p99_ms": 14.0 if users == 8 else 50.0,
                "locust_cpu_s": 12.0,
                "server_cpu_s": 30.0,
                "wall_s": 60.0,
            }
        )
    floor = {"requests_per_s": 80.0, "p50_ms": 12.0, "p99_ms": 30.0}
    return {
        "model": "serving/1",
        "seconds_per_run": 60,
        "cpus": 2,
        "floor_seconds": 15,
        "floor": {"single": {**floor, "requests_per_s": 7000.0}, "batch": floor},
        "runs": runs,
        "pushes": [{"version": v, "served_after_s": 0.3, "rss_mib": 4.0} for v in (2, 3, 4)],
        "served_at_end": ["4 AVAILABLE", "3 AVAILABLE", "2 AVAILABLE", "1 AVAILABLE"],
        "rss_mib": dict(first=rss[0], last=rss[1], min=90.0, max=110.0, peak_hwm=120, samples=9),
        "seconds": 300,
    }


def test_each_goal_is_judged_on_its_own_numbers():
    judged = {name: (value, bound) for name, value, bound in serve.goals(_results())}
    assert judged["batch of 100, 8 clients: throughput / floor"] == (70 / 80, serve.BATCH_GOAL)
    assert judged["batch of 100, 32 clients: throughput / floor"] == (40 / 80, serve.BATCH_GOAL)
    assert judged["single image, 8 clients: p99 ms"] == (14.0, serve.P99_GOAL)
    assert judged["failed requests, 3 versions pushed during the runs"] == (0, serve.FAILED_GOAL)
    assert judged["server RSS: last sample / first after warm-up"] == (1.05, serve.RSS_GOAL)


def test_a_missed_goal_is_shown_missed():
    shown = serve.tables(_results(failures=(0, 1, 0, 0), rss=(100.0, 130.0)))
    rows = {line.split(" | ")[0].lstrip("| "): line for line in shown.splitlines()}
    assert rows["batch of 100, 8 clients: throughput / floor"].endswith("| yes |")
    assert rows["batch of 100, 32 clients: throughput / floor"].endswith("| NO |")
    assert rows["failed requests, 3 versions pushed during the runs"].endswith("| 1 | <= 0 | NO |")
    assert rows["server RSS: last sample / first after warm-up"].endswith("| 1.3 | <= 1.1 | NO |")


def test_the_memory_sampler_reads_a_process_rss_and_its_peak():
    rss, peak = serve_load.MemorySampler(os.getpid()).sample()
    assert 0 < rss <= peak
