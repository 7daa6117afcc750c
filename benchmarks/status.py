"""``cdk-ota-update status`` on a job of 1,000 executions (results in docs/benchmarks.md §9).

    .venv/bin/python benchmarks/status.py [--things 1000] [--runs 15]

Starts the emulation behind a ThreadedMotoServer (over HTTP, as ``--endpoint-url`` reaches it),
makes ``--things`` things in a thing group and an OTA update of the group, and lets a simulated
fleet (a rollout of 250 things a minute, devices taking 1 to 3 minutes) work 3 simulated minutes
into it, so that the job has executions in every state. Then times, alternately, ``--runs`` times:

- a whole ``cdk-ota-update status --ota-update-id ... --json`` (clients, GetOTAUpdate, DescribeJob);
- one ``--watch`` poll after the first (DescribeJob alone), unpaced;
- the alternative: counting the executions by listing them (ListJobExecutionsForJob, 250 a page),

each with the IoT calls it made (the emulation's counts), and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import io
import logging
import math
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "constructs")]

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from cdk_ota_update import testing  # noqa: E402
from cdk_ota_update.status import Environment, main  # noqa: E402
from cdk_ota_update.status.aws import Aws, Pacer, Target  # noqa: E402

OTA_UPDATE_ID = "release-1000"
OPERATIONS = ("GetOTAUpdate", "DescribeJob", "ListJobExecutionsForJob")


def client(endpoint: str, service: str) -> Any:
    return boto3.Session().client(
        service,
        region_name="us-east-1",
        endpoint_url=endpoint,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def rollout(endpoint: str, things: int) -> None:
    """``things`` things in a group, an OTA update of it, 3 simulated minutes of its fleet."""
    iam, s3, iot = (client(endpoint, service) for service in ("iam", "s3", "iot"))
    role = iam.create_role(RoleName="ota-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    s3.create_bucket(Bucket="firmware")
    s3.put_object(Bucket="firmware", Key="fw.bin", Body=b"\x7fELF")
    group = iot.create_thing_group(thingGroupName="fleet")["thingGroupArn"]
    for index in range(things):
        iot.create_thing(thingName=f"thing-{index:04}")
        iot.add_thing_to_thing_group(thingGroupName="fleet", thingName=f"thing-{index:04}")
    testing.simulate_fleet(
        outcomes={"SUCCEEDED": 0.95, "FAILED": 0.03, "REJECTED": 0.02},
        pace=testing.Pace(start_after=60, finish_after=120, jitter=0.5),
    )
    iot.create_ota_update(
        otaUpdateId=OTA_UPDATE_ID,
        targets=[group],
        roleArn=role,
        files=[
            {
                "fileName": "fw.bin",
                "fileLocation": {"s3Location": {"bucket": "firmware", "key": "fw.bin"}},
            }
        ],
        awsJobExecutionsRolloutConfig={"maximumPerMinute": 250},
    )
    testing.advance_fleet(180)


def counted(action: Callable[[], object]) -> tuple[float, dict[str, int]]:
    """Seconds ``action`` took, and the IoT calls it made (by operation)."""
    before = {operation: testing.calls(operation) for operation in OPERATIONS}
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    calls = {op: testing.calls(op) - before[op] for op in OPERATIONS}
    return seconds, {op: n for op, n in calls.items() if n}


def whole_run(endpoint: str) -> Callable[[], object]:
    def run() -> None:
        out = io.StringIO()
        argv = ["--ota-update-id", OTA_UPDATE_ID, "--json", "--region", "us-east-1"]
        argv += ["--endpoint-url", endpoint]
        assert main(argv, Environment(out=out, err=sys.stderr)) == 0, out.getvalue()

    return run


def watch_poll(endpoint: str) -> Callable[[], object]:
    """One poll of ``--watch`` after the first: DescribeJob alone (unpaced, to time the call)."""
    pace = Pacer(time.monotonic, time.sleep, per_second=math.inf)
    aws = Aws.connect(region="us-east-1", profile=None, endpoint_url=endpoint, pace=pace)
    target = Target(OTA_UPDATE_ID)
    first = aws.read(target)
    assert first.executions.total and not first.ended, first
    return lambda: aws.read(target, first)


def listing(endpoint: str) -> Callable[[], object]:
    """The alternative: every execution listed, counted by status."""
    iot = client(endpoint, "iot")

    def count() -> Counter[str]:
        counts: Counter[str] = Counter()
        pages = iot.get_paginator("list_job_executions_for_job").paginate(
            jobId=f"AFR_OTA-{OTA_UPDATE_ID}", PaginationConfig={"PageSize": 250}
        )
        for page in pages:
            counts.update(s["jobExecutionSummary"]["status"] for s in page["executionSummaries"])
        return counts

    return count


def main_benchmark() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--things", type=int, default=1000)
    options.add_argument("--runs", type=int, default=15)
    arguments = options.parse_args()
    for name, value in {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}.items():
        os.environ.setdefault(name, value)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    testing.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        rollout(endpoint, arguments.things)
        job = client(endpoint, "iot").describe_job(jobId=f"AFR_OTA-{OTA_UPDATE_ID}")["job"]
        candidates = {
            "`cdk-ota-update status --json` (a whole run: first poll)": whole_run(endpoint),
            "a `--watch` poll after the first": watch_poll(endpoint),
            "alternative: ListJobExecutionsForJob, 250 a page, counted": listing(endpoint),
        }
        times: dict[str, list[float]] = {name: [] for name in candidates}
        calls: dict[str, dict[str, int]] = {}
        for _ in range(arguments.runs):  # alternating, so that the machine's noise hits all alike
            for name, action in candidates.items():
                seconds, calls[name] = counted(action)
                times[name].append(seconds)
    finally:
        server.stop()
    heading = f"{arguments.things} executions ({arguments.runs} runs)"
    print(f"| {heading} | IoT calls | median | min | max |")
    print("|---|---|---|---|---|")
    for name, values in times.items():
        made = ", ".join(f"{n} {op}" for op, n in calls[name].items())
        print(
            f"| {name} | {made} | {statistics.median(values) * 1000:.0f} ms | "
            f"{min(values) * 1000:.0f} ms | {max(values) * 1000:.0f} ms |"
        )
    counts = {k: v for k, v in job["jobProcessDetails"].items() if k.startswith("numberOf") and v}
    print(f"\nThe job: {job['status']}, {counts}")


if __name__ == "__main__":
    main_benchmark()
