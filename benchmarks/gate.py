"""The rollout gate's calls to IoT, against DescribeJob's quota (results in docs/benchmarks.md §10).

    .venv/bin/python benchmarks/gate.py [--gates 10] [--minutes 5]

Starts the emulation behind a ThreadedMotoServer (over HTTP, as the handler reaches IoT), makes
``--gates`` OTA updates of a thing group of 10 things (a simulated fleet that never moves: their
jobs stay IN_PROGRESS), and runs the handler's gate (``lifecycle.watch_rollout``, its real pace:
``GATE_POLL_SECONDS`` with its jitter) on each of them at once, in threads, with a gate that cannot
pass (every execution SUCCEEDED) and a timeout of ``--minutes``: each gate reads its job until
the timeout, then fails and cancels it. The emulation counts the calls of each operation; the
table gives them per gated OTA update and minute, against DescribeJob's default quota (10 a
second per account and Region; ListJobExecutionsForJob, 10 a second too, is never called).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "constructs"), str(ROOT / "lambda_handler")]

import lifecycle  # noqa: E402
from emulation_support import FAKE_CREDENTIALS, Aws, make_world, things  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from cdk_ota_update import api, rollout, testing  # noqa: E402

OPERATIONS = ("DescribeJob", "ListJobExecutionsForJob", "CancelJob")
# DescribeJob's, ListJobExecutionsForJob's and CancelJob's default, per account and Region: the
# "AWS IoT Throttling Limits" table (awsdocs/aws-iot-docs, developerguide/limits-iot.md, b946d0b).
QUOTA_PER_SECOND = 10
THINGS = 10


def releases(aws: Aws, count: int) -> list[str]:
    """``count`` OTA updates of a group of THINGS things, CREATE_COMPLETE, their jobs waiting."""
    world = make_world(aws)
    things(world, THINGS)
    testing.simulate_fleet()  # never advanced: every execution stays QUEUED
    ids = [f"release-{index}" for index in range(count)]
    for ota_id in ids:
        world.create(ota_id, targets=[world.group_arn])
    return ids


def gate(aws: Aws, ota_id: str, seconds: float, reasons: dict[str, str]) -> None:
    """The handler's gate on ``ota_id`` for ``seconds``: what it answered, into ``reasons``."""
    settings = api.Settings()
    budget = lifecycle.Budget.of(int((seconds + 120) * 1000), settings).gate(seconds)
    judge = rollout.Gate.of(min_succeeded_percentage=100)
    watched = lifecycle.RolloutGate(judge, int(seconds))
    try:
        lifecycle.watch_rollout(aws.client("iot"), lifecycle.Outcome(ota_id), watched, budget, None)
        reasons[ota_id] = "passed"
    except lifecycle.Failure as failure:
        reasons[ota_id] = str(failure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gates", type=int, default=10, help="gated OTA updates at once")
    parser.add_argument("--minutes", type=float, default=5, help="each gate's timeout")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    for name, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)  # moto's
    testing.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    aws = Aws(endpoint=f"http://{host}:{port}")
    try:
        ids = releases(aws, args.gates)
        before = {operation: testing.calls(operation) for operation in OPERATIONS}
        reasons: dict[str, str] = {}
        seconds = args.minutes * 60
        threads = [
            threading.Thread(target=gate, args=(aws, ota_id, seconds, reasons)) for ota_id in ids
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        calls = {
            operation: testing.calls(operation) - before[operation] for operation in OPERATIONS
        }
    finally:
        server.stop()
    report(args.gates, elapsed, calls, reasons)


def report(gates: int, elapsed: float, calls: dict[str, int], reasons: dict[str, str]) -> None:
    minutes = elapsed / 60
    per_gate = calls["DescribeJob"] / gates / minutes
    quota = QUOTA_PER_SECOND * 60
    print(
        f"{gates} gated OTA updates at once, {minutes:.2f} minutes, GATE_POLL_SECONDS="
        f"{lifecycle.GATE_POLL_SECONDS:g}\n"
    )
    print(
        "| gated OTA updates | minutes | DescribeJob | per OTA update and minute | "
        "ListJobExecutionsForJob | CancelJob | share of DescribeJob's quota |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {gates} | {minutes:.2f} | {calls['DescribeJob']} | {per_gate:.2f} | "
        f"{calls['ListJobExecutionsForJob']} | {calls['CancelJob']} | "
        f"{100 * per_gate * gates / quota:.2f}% of {quota} a minute |"
    )
    print(
        f"\nGated OTA updates within half the quota at this pace: {int(quota / 2 / per_gate)}; "
        f"within all of it: {int(quota / per_gate)}"
    )
    print(f"\nA gate's Reason: {next(iter(sorted(reasons.values())))}")


if __name__ == "__main__":
    main()
