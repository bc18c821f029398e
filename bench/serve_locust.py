"""The Locust clients of `make bench-serve` (bench.serve runs `locust -f` on this file).

Each simulated client posts the same predict request again as soon as its last one is
answered (a closed loop: no wait between), over a kept-alive connection. The request's
body and path come from the environment the bench sets: SERVE_BENCH_BODY (a file holding
the JSON body) and SERVE_BENCH_PATH. An answer other than 200 with as many predictions
as images sent is a failure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from locust import FastHttpUser, constant, task

BODY = Path(os.environ["SERVE_BENCH_BODY"]).read_bytes()
PATH = os.environ["SERVE_BENCH_PATH"]
IMAGES = len(json.loads(BODY)["instances"])
HEADERS = {"Content-Type": "application/json"}


class PredictClient(FastHttpUser):
    wait_time = constant(0)

    @task
    def predict(self) -> None:
        with self.client.post(PATH, data=BODY, headers=HEADERS, catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"HTTP {answer.status_code}: {answer.text[:200]}")
            elif len(answer.json()["predictions"]) != IMAGES:
                answer.failure("not one prediction per image")
