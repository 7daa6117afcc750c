"""Benchmarks of the Custom::OtaUpdate handler (results in docs/benchmarks.md).

    .venv/bin/python benchmarks/handler.py [--runs 3] [--service-seconds 0 5 30] [--fleet 40]

1. Latency: time from a Create/Delete event to the answer at the ResponseURL (tests/harness.py,
   handler in this process) when the emulated service takes 0, 5 and 30 seconds, minus that time.
2. Polling rate: ``--fleet`` OTA updates created at once, each waited for by the handler's own
   ``lifecycle.wait`` in a thread (one per Lambda invocation): GetOTAUpdate calls per second.
3. Cold start: importing ``index`` from the Lambda asset layout in a fresh Python process whose
   path holds only the asset and boto3; asset size.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "constructs"), str(ROOT / "lambda_handler")]
# jsii (imported with cdk_ota_update) runs on the Node.js the project pins, as in the tests.
os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"

import trustme  # noqa: E402
from emulation_support import Aws, World, make_world  # noqa: E402
from handler_support import properties  # noqa: E402
from harness import (  # noqa: E402
    CloudFormation,
    InProcess,
    ResponseServer,
    StackService,
    boto3_runtime,
    runtime_env,
)
from moto.server import ThreadedMotoServer  # noqa: E402

from cdk_ota_update import api, testing  # noqa: E402

CRHELPER_POLL_SECONDS = 120  # CfnResource(polling_interval=2): rate(2 minutes)
CRHELPER_DELETE_SLEEP = 120  # CfnResource(sleep_on_delete=120)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def start_emulation() -> tuple[Aws, ResponseServer, StackService]:
    testing.install()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    aws = Aws(endpoint=f"http://{host}:{port}")
    ca = trustme.CA()
    ca_file = Path(tempfile.mkdtemp()) / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    stacks = StackService()  # CloudFormation's DescribeStackResource, for the handler
    os.environ.update(
        runtime_env(aws.endpoint or "", ca_file, AWS_ENDPOINT_URL_CLOUDFORMATION=stacks.url)
    )
    return aws, ResponseServer(ca), stacks


def latency(cloudformation: CloudFormation, world: World, service: float, runs: int) -> str:
    """One table row: median answer time minus the service's time, and polls per answer."""
    creates: list[float] = []
    deletes: list[float] = []
    polls: list[float] = []
    for run in range(runs):
        ota_id = f"bench-{int(service)}-{run}"
        testing.set_lifecycle_delay(service / 2)  # creation: two transitions
        before = testing.calls("GetOTAUpdate")
        created = cloudformation.create("Bench", properties(world, ota_id))
        polls.append(testing.calls("GetOTAUpdate") - before)
        testing.set_lifecycle_delay(service)  # deletion: one transition
        deleted = cloudformation.delete("Bench", created.physical_id, properties(world, ota_id))
        assert (created.status, deleted.status) == ("SUCCESS", "SUCCESS"), (created, deleted)
        creates.append(created.seconds - service)
        deletes.append(deleted.seconds - service)
    crhelper_create = max(
        CRHELPER_POLL_SECONDS, -(-service // CRHELPER_POLL_SECONDS) * CRHELPER_POLL_SECONDS
    )
    return (
        f"| {service:g} s | {median(creates):.2f} s (max {max(creates):.2f}) "
        f"| {median(deletes):.2f} s (max {max(deletes):.2f}) | {median(polls):g} "
        f"| ~{crhelper_create - service:.0f} s | ~{CRHELPER_DELETE_SLEEP:.0f} s |"
    )


def fleet_polling(aws: Aws, world: World, size: int, service: float) -> str:
    """GetOTAUpdate calls per second while ``size`` handlers wait for their OTA update."""
    import lifecycle

    iot = aws.client("iot")
    testing.set_lifecycle_delay(service / 2)
    ids = [f"fleet-{i}" for i in range(size)]
    for ota_id in ids:
        request = {
            k: v
            for k, v in properties(world, ota_id).items()
            if k not in ("deleteStream", "forceDeleteAWSJob")
        }
        iot.create_ota_update(**lifecycle.Request.of(request).body)
    started, before = time.time(), testing.calls("GetOTAUpdate")
    added: list[float] = []
    budget = lifecycle.Budget.of(600_000, api.Settings(handover_margin_seconds=0))

    def wait(ota_id: str) -> None:
        lifecycle.wait(
            iot,
            ota_id,
            lambda i: i is None or i["otaUpdateStatus"] not in lifecycle.CREATING,
            budget,
        )
        added.append(time.time() - started - service)

    threads = [threading.Thread(target=wait, args=(ota_id,)) for ota_id in ids]
    rates = sample_rate(threads, lambda: testing.calls("GetOTAUpdate"))
    total = testing.calls("GetOTAUpdate") - before
    return (
        f"| {size} | {service:g} s | {total} | {total / (time.time() - started):.1f} "
        f"| {max(rates)} | {median(added):.2f} s |"
    )


def sample_rate(threads: list[threading.Thread], count: Callable[[], int]) -> list[int]:
    """Run ``threads``; how much ``count()`` grew in each second until they ended."""
    for thread in threads:
        thread.start()
    rates, last = [], count()
    while any(t.is_alive() for t in threads):
        time.sleep(1)
        now = count()
        rates.append(now - last)
        last = now
    return rates


def cold_start(runs: int) -> tuple[str, str]:
    """Median import time of ``index`` from the asset layout, and the asset's size."""
    from cdk_ota_update.provider import bundle

    with tempfile.TemporaryDirectory() as folder:
        asset, runtime = Path(folder) / "asset", boto3_runtime(Path(folder) / "runtime")
        asset.mkdir()
        bundle(asset)
        files = [p for p in sorted(asset.rglob("*")) if p.is_file()]
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle_zip:
            for path in files:
                bundle_zip.write(path, path.relative_to(asset))
        size = (
            f"{len(files)} files, {sum(p.stat().st_size for p in files) / 1024:.0f} KiB, "
            f"{len(archive.getvalue()) / 1024:.0f} KiB zipped"
        )
        timings = {
            "boto3 alone": "import boto3",
            "index (handler module and crhelper's CfnResource)": "import index",
        }
        rows = []
        for label, statement in timings.items():
            seconds = [_import_seconds(asset, runtime, statement) for _ in range(runs)]
            rows.append(f"| {label} | {median(seconds) * 1000:.0f} ms |")
    return "\n".join(rows), size


def _import_seconds(asset: Path, runtime: Path, statement: str) -> float:
    code = (
        f"import sys, time; sys.path[0:0] = [{str(asset)!r}, {str(runtime)!r}]; "
        f"t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    )
    env = {**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(result.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--service-seconds", type=float, nargs="+", default=[0, 5, 30])
    parser.add_argument("--fleet", type=int, default=40)
    args = parser.parse_args()

    aws, responses, stacks = start_emulation()
    import index

    cloudformation = CloudFormation(InProcess(index.handler), responses, stack_service=stacks)
    aws.reset()
    world = make_world(aws)
    print(
        "| service takes | create: added latency (median) | delete: added latency (median) "
        "| GetOTAUpdate calls per create | crhelper defaults: create | delete |"
    )
    print("|---|---|---|---|---|---|")
    for service in args.service_seconds:
        print(latency(cloudformation, world, service, args.runs), flush=True)
    aws.reset()
    world = make_world(aws)
    print(
        "\n| OTA updates at once | service takes | GetOTAUpdate calls | mean TPS | peak TPS "
        "| added latency (median) |"
    )
    print("|---|---|---|---|---|---|")
    print(fleet_polling(aws, world, args.fleet, max(args.service_seconds)), flush=True)
    imports, size = cold_start(args.runs + 2)
    print("\n| cold start: import from the asset layout | median |\n|---|---|")
    print(imports)
    print(f"\nAsset: {size}")


if __name__ == "__main__":
    main()
