"""The handler's time budget in its worst case, against the function's timeout (docs/benchmarks.md).

    .venv/bin/python benchmarks/budget.py [--remaining 70]     # ~6 min

An invocation stops waiting ``api.HANDOVER_MARGIN_SECONDS`` (57 s) before the function's timeout:
room for the IoT call that may have just started (5 s connect + 20 s read), the hand-over (two
Invoke attempts of 3 + 5 s, and a backoff) and the answer (PUTs of 5 s). Here everything that can be
slow is made as slow as those bounds allow, at the worst moment: a tarpit in front of the emulated
IoT holds every call that arrives from 2.5 s before the invocation's ``stop_at`` on for longer than
the read timeout (so the last poll begins just before ``stop_at`` and lasts its whole read timeout),
and, per scenario, holds the hand-over's Invoke as long and refuses the answer's PUTs with 503. Each
scenario is one invocation (the handler of ``lambda_handler/index.py`` in this process, as a warm
Lambda runs it) that has ``--remaining`` seconds left when the event arrives; reported: when it
returned, how long before the function's timeout that was, and what it left (an answer, a hand-over,
or nothing). A connect that hangs cannot be made on loopback: each held call costs its read timeout
only, 5 s less than the margin allows for."""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "constructs"), str(ROOT / "lambda_handler")]
os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"

from emulation_support import World, make_world  # noqa: E402
from handler import start_emulation  # noqa: E402
from handler_support import properties  # noqa: E402
from harness import (  # noqa: E402
    CloudFormation,
    Event,
    InProcess,
    LambdaService,
    ResponseServer,
    StackService,
)

from cdk_ota_update import api, testing  # noqa: E402

HOLD_SECONDS = 40.0  # longer than any read timeout of the handler
EARLY_SECONDS = 2.5  # calls are held from this long before stop_at (polls come every <= 2.4 s)
LOGICAL_ID = "FirmwareOta"


class Tarpit:
    """An HTTP front of the emulated IoT and of Lambda's Invoke: forwards requests, or holds
    those that arrive after ``hold_from`` (monotonic clock) without an answer."""

    def __init__(self, iot: str, lambda_: str) -> None:
        self.hold_from = float("inf")
        self.hold_invoke = False
        self.held: list[tuple[float, str]] = []
        tarpit = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                invoke = self.path.startswith(LambdaService.PATH)
                now = time.monotonic()
                if now >= tarpit.hold_from and (tarpit.hold_invoke or not invoke):
                    tarpit.held.append((now, f"{self.command} {self.path.split('?')[0]}"))
                    time.sleep(HOLD_SECONDS)  # the client has given up long before
                    return
                status, headers, payload = _forward(lambda_ if invoke else iot, self, body)
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

            def log_message(self, *_args: Any) -> None:
                pass

            def handle(self) -> None:
                with suppress(BrokenPipeError, ConnectionResetError):
                    super().handle()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()


def _forward(
    url: str, request: BaseHTTPRequestHandler, body: bytes
) -> tuple[int, list[tuple[str, str]], bytes]:
    target = urlsplit(url)
    connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=30)
    headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
    connection.request(request.command, request.path, body, headers)
    response = connection.getresponse()
    return response.status, response.getheaders(), response.read()


@dataclass(frozen=True)
class Scenario:
    name: str
    request: str  # Create or Delete
    hold_invoke: bool
    refuse_answers: bool


SCENARIOS = (
    Scenario("Create: the last poll held", "Create", hold_invoke=False, refuse_answers=False),
    Scenario("Create: + the hand-over held", "Create", hold_invoke=True, refuse_answers=False),
    Scenario("Create: + every answer refused", "Create", hold_invoke=True, refuse_answers=True),
    Scenario("Delete: + the hand-over held", "Delete", hold_invoke=True, refuse_answers=False),
    Scenario("Delete: + every answer refused", "Delete", hold_invoke=True, refuse_answers=True),
)


@contextmanager
def quiet() -> Iterator[None]:
    """The handler's INFO lines off while a scenario runs (its errors stay)."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


@dataclass(frozen=True)
class Bench:
    """What the scenarios run against."""

    tarpit: Tarpit
    lambda_service: LambdaService
    responses: ResponseServer
    stacks: StackService
    world: World
    invoke: InProcess  # the handler, imported once the environment points at the tarpit
    margin: float


def run(scenario: Scenario, number: int, remaining: float, bench: Bench) -> str:
    tarpit, lambda_service, responses = bench.tarpit, bench.lambda_service, bench.responses
    cloudformation = CloudFormation(
        bench.invoke,
        responses,
        timeout=remaining,
        lambda_service=lambda_service,
        stack_service=bench.stacks,
    )
    ota_id = f"fw-{number}"
    props = properties(bench.world, ota_id)
    if scenario.request == "Create":
        testing.set_lifecycle_delay(3600)  # it stays CREATE_IN_PROGRESS
        event = cloudformation.event("Create", LOGICAL_ID, props)
    else:
        testing.set_lifecycle_delay(0)
        created = cloudformation.create(LOGICAL_ID, props)
        assert created.status == "SUCCESS", created
        testing.set_lifecycle_delay(3600)  # it stays DELETE_IN_PROGRESS
        event = cloudformation.event("Delete", LOGICAL_ID, props, physical_id=ota_id)
    if scenario.refuse_answers:
        responses.refuse(event["ResponseURL"], *[503] * 1000)
    lambda_service.reset()
    tarpit.held.clear()
    tarpit.hold_invoke = scenario.hold_invoke
    cloudformation.queue(event)  # CloudFormation shows the resource in progress
    started = time.monotonic()
    tarpit.hold_from = started + remaining - bench.margin - EARLY_SECONDS
    with quiet():
        cloudformation.invoke(event, remaining)
    returned = time.monotonic() - started
    tarpit.hold_from = float("inf")
    left = _left(lambda_service, responses, event)
    held = ", ".join(f"{what} at {at - started:.1f} s" for at, what in tarpit.held)
    return (
        f"| {scenario.name} | {returned:.1f} s | {remaining - returned:.1f} s | {left} | "
        f"{held or 'none'} |"
    )


def _left(lambda_service: LambdaService, responses: ResponseServer, event: Event) -> str:
    handed = lambda_service.take()
    answers = responses.answers(event["ResponseURL"])
    if answers:
        body = answers[0][1]
        return f"answer {body['Status']} ({body.get('Reason', '')[:60]}...)"
    if handed:
        return "handed over to the next invocation"
    return "no answer (every PUT refused; logged)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--remaining", type=float, default=70.0)
    args = parser.parse_args()
    aws, responses, stacks = start_emulation()
    lambda_service = LambdaService()
    tarpit = Tarpit(aws.endpoint or "", lambda_service.url)
    os.environ["AWS_ENDPOINT_URL_IOT"] = tarpit.url
    os.environ["AWS_ENDPOINT_URL_LAMBDA"] = tarpit.url
    import index

    margin = api.HANDOVER_MARGIN_SECONDS
    bench = Bench(
        tarpit,
        lambda_service,
        responses,
        stacks,
        make_world(aws),
        InProcess(index.handler),
        margin,
    )
    print(
        f"Each invocation has {args.remaining:.0f} s left when its event arrives; it stops "
        f"waiting {margin:.0f} s before the function's timeout (api.HANDOVER_MARGIN_SECONDS); "
        f"calls are held from {margin + EARLY_SECONDS:.1f} s before it.\n"
    )
    print("| scenario | returned after | before the timeout | left | held calls |")
    print("|---|---|---|---|---|")
    for number, scenario in enumerate(SCENARIOS, 1):
        print(run(scenario, number, args.remaining, bench), flush=True)


if __name__ == "__main__":
    main()
