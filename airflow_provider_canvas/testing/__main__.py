"""Run the fake Canvas by hand: ``python -m airflow_provider_canvas.testing [options]``.

The first line on stdout is one JSON object (``base_url``, ``admin_token``, ``user_token``,
``connection_json``, user ids) so a script can start the server as a subprocess and read its address; hints
for humans go to stderr. Runs until Ctrl-C or SIGTERM, then stops cleanly.

``--seed-users N --seed-channels K`` gives each seeded user K active e-mail channels, ``<sis id>@example.edu``
then ``<sis id>.2@example.edu`` .. ``<sis id>.K@example.edu`` (seeded directly, so past Canvas's 100-per-user
cap); the JSON line's ``seeded_users`` says which ids they got (``first_id`` .. ``last_id``, consecutive).
``--seed-file FILE`` (CSV or JSON, repeatable) adds your own users and channels
(:mod:`airflow_provider_canvas.testing.seed` describes the format); ``--fault SPEC`` (repeatable) arms
failures, a latency or a stricter throttle (:mod:`airflow_provider_canvas.testing.fault_options`).
A script in another process reads counters and state through the ``/__fake__/`` control routes
(:mod:`airflow_provider_canvas.testing.control`); ``--no-control`` turns them off.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
from types import FrameType

from .fault_options import FaultOption, FaultSpecError, parse_fault
from .seed import SeedFileError, apply_seed, load_seed_file
from .server import FakeCanvas
from .throttle import ThrottleSettings


def _fault(text: str) -> FaultOption:
    try:
        return parse_fault(text)
    except FaultSpecError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None


def _parser() -> argparse.ArgumentParser:
    defaults = ThrottleSettings()
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_canvas.testing", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds each request spends in flight")
    parser.add_argument(
        "--seed-users", type=int, default=0, metavar="N", help="add N users (SIS ids student000001..)"
    )
    parser.add_argument(
        "--seed-channels",
        type=int,
        default=0,
        metavar="K",
        help="give each seeded user K active e-mail channels (<sis id>@example.edu, <sis id>.2@...)",
    )
    parser.add_argument(
        "--seed-file",
        action="append",
        default=[],
        metavar="FILE",
        help="add the users and channels of a .csv or .json seed file (repeatable; see docs/testing.md)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        type=_fault,
        metavar="SPEC",
        help="arm a fault, e.g. status=503,times=2,method=POST; throttle,times=3; latency=1.5,times=always; "
        "throttle-harder=4; random=0.05 (repeatable, applied in order; see docs/testing.md)",
    )
    parser.add_argument("--no-demo", action="store_true", help="skip the demo channels and students")
    parser.add_argument("--throttle-status", type=int, choices=(403, 429), default=defaults.throttle_status)
    parser.add_argument("--no-throttle", action="store_true", help="never refuse (headers are still sent)")
    parser.add_argument("--cost", type=float, default=defaults.cost, help="cost charged per request")
    parser.add_argument("--hwm", type=float, default=defaults.hwm)
    parser.add_argument("--maximum", type=float, default=defaults.maximum)
    parser.add_argument("--outflow", type=float, default=defaults.outflow)
    parser.add_argument("--up-front-cost", type=float, default=defaults.up_front_cost)
    parser.add_argument("--per-page-max", type=int, default=100)
    parser.add_argument("--auth-error-updates", action="store_true", help="403 instead of 401 when forbidden")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    parser.add_argument(
        "--no-control", action="store_true", help="do not serve the /__fake__/ control routes"
    )
    return parser


def seed_channels(canvas: FakeCanvas, user_ids: list[int], per_user: int, *, prefix: str = "student") -> None:
    """``per_user`` e-mail channels for each user of one ``add_users(prefix=prefix)`` call, named after
    its SIS ids (numbered from 1 in that call), so a script in another process can predict them."""
    for number, user_id in enumerate(user_ids, start=1):
        sis = f"{prefix}{number:06d}"
        for k in range(1, per_user + 1):
            canvas.add_channel(user_id, "email", f"{sis}@example.edu" if k == 1 else f"{sis}.{k}@example.edu")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.seed_users < 0 or args.seed_channels < 0:
        parser.error("--seed-users and --seed-channels must not be negative")
    if args.seed_channels and not args.seed_users:
        parser.error("--seed-channels needs --seed-users")
    throttle = ThrottleSettings(
        enabled=not args.no_throttle,
        hwm=args.hwm,
        maximum=args.maximum,
        outflow=args.outflow,
        up_front_cost=args.up_front_cost,
        cost=args.cost,
        throttle_status=args.throttle_status,
    )
    canvas = FakeCanvas(
        host=args.host,
        port=args.port,
        latency=args.latency,
        throttle=throttle,
        per_page_max=args.per_page_max,
        auth_error_updates=args.auth_error_updates,
        seed_demo=not args.no_demo,
        verbose=args.verbose,
        control_routes=not args.no_control,
    )
    seed_files = []
    for path in args.seed_file:
        try:
            summary = apply_seed(canvas, path, load_seed_file(path))
        except SeedFileError as error:
            parser.exit(2, f"{parser.prog}: error: {error}\n")
        seed_files.append({"path": path, **dataclasses.asdict(summary)})
    for fault in args.fault:
        fault.apply(canvas)
    seeded = canvas.add_users(args.seed_users) if args.seed_users else []
    seed_channels(canvas, seeded, args.seed_channels)
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with canvas:
        info = {
            "base_url": canvas.base_url,
            "admin_token": canvas.admin_token,
            "user_token": canvas.user_token,
            "admin_user_id": canvas.admin_user_id,
            "user_user_id": canvas.user_user_id,
            "connection_json": canvas.connection_json(),
            "seeded_users": {
                "count": len(seeded),
                "first_id": seeded[0] if seeded else None,
                "last_id": seeded[-1] if seeded else None,
            },
            "seed_files": seed_files,
            "faults": [fault.text for fault in args.fault],
        }
        print(json.dumps(info), flush=True)
        sys.stderr.write(
            f"Fake Canvas listening on {canvas.base_url}\n"
            f"  try: curl -H 'Authorization: Bearer {canvas.user_token}' "
            f"{canvas.base_url}/api/v1/users/self/communication_channels\n"
            f"  Airflow: export AIRFLOW_CONN_CANVAS_DEFAULT='{canvas.connection_json()}'\n"
            + (f"  state: curl {canvas.base_url}/__fake__/users\n" if not args.no_control else "")
            + "  Ctrl-C or SIGTERM stops it.\n"
        )
        sys.stderr.flush()
        while not done.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
