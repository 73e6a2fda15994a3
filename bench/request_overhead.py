"""What the operations hooks add to every request: request id, metrics, the JSON log line.

    .venv/bin/python -m bench.request_overhead [--calls N] [--rounds R]

Runs the two hooks (first before_request, last after_request) N times in a request context
of a real route, R rounds, with prometheus-client in-process and in multiprocess mode (the
one gunicorn runs), the log line written to /dev/null; then the metrics and the log line
alone. Prints microseconds of CPU time per request (this thread's, so other work on a busy
machine counts less): the best round and the median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def _child(calls: int, rounds: int) -> dict[str, list[float]]:
    from flask import Response

    from fieldapi import create_app
    from fieldapi.config import Settings
    from fieldapi.ops import logs, metrics, telemetry

    app = create_app(Settings.from_env({"FIELDAPI_DATA_DIR": tempfile.mkdtemp()}))
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (the log lines go nowhere, but are written)
    path = "/api/v1/buildings/6f1c1f8e-3a55-4a43-9d3a-4d6b8f3c2a10"
    route = "/api/v1/buildings/<uuid:building_id>"
    cases = {
        "hooks": lambda response: (telemetry._begin(), telemetry._finish(response)),
        "metrics": lambda _r: metrics.observe_request(route, "GET", 200, 0.0012),
        "log line": lambda _r: logs.request_line(
            request_id="0" * 32, method="GET", route=route, status=200, duration_ms=1.2
        ),
    }
    found: dict[str, list[float]] = {name: [] for name in cases}
    with app.test_request_context(path, headers={"X-Request-ID": "bench-1"}):
        response = Response(b"{}", mimetype="application/json")
        for _ in range(rounds):
            for name, case in cases.items():
                started = time.thread_time()
                for _ in range(calls):
                    case(response)
                found[name].append((time.thread_time() - started) / calls * 1e6)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.calls, args.rounds)))
        return
    for mode in ("in-process", "multiprocess"):
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        with tempfile.TemporaryDirectory() as metrics_dir:
            if mode == "multiprocess":
                env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
            command = [sys.executable, "-m", "bench.request_overhead", "--child"]
            command += ["--calls", str(args.calls), "--rounds", str(args.rounds)]
            out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
        for name, timings in json.loads(out.stdout).items():
            print(
                f"{mode:>12}  {name:<9} best {min(timings):6.1f} µs"
                f"  median {statistics.median(timings):6.1f} µs per request"
            )


if __name__ == "__main__":
    main()
