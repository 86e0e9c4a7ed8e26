"""One of several processes listing channels with the same token, as Airflow workers sharing a connection.

Run by the ``shared`` section as ``python -m benchmarks.shared_worker``. It reads its job as one JSON line on
stdin (the fake's URL, the tokens, its users), imports the hook and pays the one-off costs with a short
warm-up listing on a token of its own, prints ``ready``, and waits for ``go`` on stdin: the section starts
every worker's clock at the same moment, after all imports. Then it lists its users with the bulk call on
the shared token and prints one JSON line: what it listed, its clock readings (``time.monotonic``, shared
by every process on Linux), its CPU time and its governor's view. Whatever the hook logs goes to stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time


def _connection(base_url: str, token: str) -> str:
    return json.dumps({"conn_type": "canvas", "host": base_url, "password": token})


def main() -> int:
    report = sys.stdout
    job = json.loads(sys.stdin.readline())
    with contextlib.redirect_stdout(sys.stderr):  # Airflow's logging writes to stdout
        os.environ["AIRFLOW_CONN_CANVAS_WARM_UP"] = _connection(job["base_url"], job["warm_up_token"])
        os.environ["AIRFLOW_CONN_CANVAS_SHARED"] = _connection(job["base_url"], job["token"])
        from airflow_provider_canvas.hooks.canvas import CanvasHook

        # On a token of its own, as the reference client warms up: the imports and the connection lookup
        # are paid, and the shared token's governor starts fresh, as in a task process that just started.
        warm_up = CanvasHook(canvas_conn_id="canvas_warm_up")
        for _ in warm_up.iter_communication_channels_for_users(job["warm_up"]):
            pass
        warm_up.close()
        hook = CanvasHook(canvas_conn_id="canvas_shared")
        # The connection lookup, paid here: it is one-off, and Airflow 3.0 logs it to stdout, which is the
        # report's channel outside this block.
        governor = hook.governor
    report.write("ready\n")
    report.flush()
    if sys.stdin.readline().strip() != "go":
        return 1
    before = (governor.requests, governor.throttled)
    ok = failures = 0
    cpu, started = time.process_time(), time.monotonic()
    with contextlib.redirect_stdout(sys.stderr):
        for _, result in hook.iter_communication_channels_for_users(job["users"]):
            if isinstance(result, list):
                ok += 1
            else:
                failures += 1
    ended, cpu = time.monotonic(), time.process_time() - cpu
    report.write(
        json.dumps(
            {
                "ok": ok,
                "failures": failures,
                "started": started,
                "ended": ended,
                "cpu": cpu,
                "requests": governor.requests - before[0],
                "throttled": governor.throttled - before[1],
                "peak_in_flight": governor.peak_in_flight,
                "limit": governor.limit,
            }
        )
        + "\n"
    )
    hook.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
