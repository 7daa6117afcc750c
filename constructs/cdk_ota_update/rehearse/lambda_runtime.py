"""A Lambda runtime: ``python -I -S lambda_runtime.py ASSET_DIR BOTO3_DIR``.

``sys.path`` holds only the Lambda asset folder, a folder with boto3 and its dependencies, and the
standard library, as in AWS Lambda's Python runtime. Each line on stdin is one invocation,
``{"event": ..., "timeout": seconds}`` (with a fleet's clock also ``"clock"``, see below);
``index.handler`` runs it and a line on stdout says it returned. The handler's log goes to stderr,
as to CloudWatch; each message logged is also relayed on stdout (``LOGGED`` and the message as JSON,
a line each), so that the host knows what each invocation logged. The function's name, Region and
account come from the environment Lambda sets (``AWS_LAMBDA_FUNCTION_NAME``, ``AWS_REGION``,
``CDK_OTA_UPDATE_ACCOUNT``). Also the home of :class:`LambdaContext`, which an in-process harness
uses too.

With ``CDK_OTA_UPDATE_FLEET_CLOCK`` set (``rehearse --fleet``), the process runs on the simulated
fleet's clock (:class:`SimulatedTime`; why: ``cdk_ota_update.rehearse.fleet``): ``time.sleep`` is a
line on stdout (``SLEEP``, then the clock's time the sleeper last saw and the seconds, as JSON),
answered on stdin by the clock's time when it wakes; ``time.time`` and ``time.monotonic`` run ahead
of the wall clock and the monotonic clock by the simulated seconds passed. So the invocation's time
runs out in simulated time, as in Lambda: :class:`LambdaContext`'s deadline is read on the patched
monotonic clock (made once the invocation starts), so its remaining time and the handler's own
monotonic deadlines shrink by the seconds slept, and a wait longer than the invocation is handed
over. Each invocation starts at the clock's time (``"clock"``, the simulated seconds passed when it
is sent): a process idle meanwhile, or new, does not live in the past.

This file runs outside the package (standard library only): it imports nothing from it.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import threading
import time
import uuid
from typing import SupportsIndex

FUNCTION_NAME = "OtaUpdateProvider"
ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
ACCOUNT_VARIABLE = "CDK_OTA_UPDATE_ACCOUNT"
RETURNED = "returned"  # the line on stdout once an invocation returned
LOGGED = "logged "  # the start of a line on stdout relaying a message the handler logged
SLEEP = "sleep "  # the start of a line on stdout asking the fleet's clock to move on
FLEET_CLOCK_VARIABLE = "CDK_OTA_UPDATE_FLEET_CLOCK"


class LambdaContext:
    """The parts of the Lambda context object handlers read."""

    def __init__(
        self,
        timeout: float,
        function_name: str = FUNCTION_NAME,
        region: str = REGION,
        account: str = ACCOUNT,
    ) -> None:
        self._deadline = time.monotonic() + timeout
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "harness"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Relay(logging.Handler):
    """Each message logged, on stdout for the host (see the module)."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stdout.write(LOGGED + json.dumps(record.getMessage()) + "\n")
        sys.stdout.flush()


class SimulatedTime:
    """``time.sleep``, ``time.time`` and ``time.monotonic`` on the fleet's simulated clock (see
    the module)."""

    def __init__(self) -> None:
        self.seen = 0.0  # the simulated seconds passed, when this process last woke
        self._wall = time.time
        self._monotonic = time.monotonic
        self._lock = threading.Lock()  # one question on stdout, one answer on stdin, at a time

    def install(self) -> None:
        time.sleep, time.time, time.monotonic = self.sleep, self.time, self.monotonic

    def time(self) -> float:
        return self._wall() + self.seen

    def monotonic(self) -> float:
        return self._monotonic() + self.seen

    def catch_up(self, clock: float) -> None:
        """An invocation starts with the clock at ``clock``: its time, unless already past it."""
        with self._lock:
            self.seen = max(self.seen, clock)

    def sleep(self, seconds: float | SupportsIndex) -> None:
        with self._lock:
            sys.stdout.write(SLEEP + json.dumps([self.seen, float(seconds)]) + "\n")
            sys.stdout.flush()
            self.seen = float(sys.stdin.readline())


def main() -> None:
    asset, runtime = sys.argv[1:3]
    sys.path[0:1] = [asset, runtime]  # instead of this script's folder
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger().addHandler(Relay())
    simulated = SimulatedTime() if os.environ.get(FLEET_CLOCK_VARIABLE) else None
    if simulated is not None:
        simulated.install()
    index = importlib.import_module("index")  # the asset's handler

    names = (
        os.environ.get("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME),
        os.environ.get("AWS_REGION", REGION),
        os.environ.get(ACCOUNT_VARIABLE, ACCOUNT),
    )
    for line in sys.stdin:
        invocation = json.loads(line)
        if simulated is not None and "clock" in invocation:
            simulated.catch_up(float(invocation["clock"]))
        # The context's deadline on this process's (perhaps simulated) monotonic clock.
        index.handler(invocation["event"], LambdaContext(invocation["timeout"], *names))
        print(RETURNED, flush=True)


if __name__ == "__main__":
    main()
