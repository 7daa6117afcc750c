"""The rehearsal's wall time for a stack of many OTA updates (results in docs/benchmarks.md).

    .venv/bin/python benchmarks/rehearse.py [--ota-updates 50] [--runs 3] [--concurrency 4]

Synthesizes (in this process, once) a stack of N OtaUpdates of one firmware asset (a version
each) to a thing group each, declared in the stack, with one service role the stack declares
(its policy grouped by hand: the library's own grouping of the shared role is another issue's
work); then times ``rehearse`` of it
(moto start, bring-up, N Creates by the bundled handler in Lambda-like processes, then N Deletes
with ``teardown``), ``--runs`` times, and prints the times as a Markdown row.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "constructs"))

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_iam as iam  # noqa: E402
from aws_cdk import aws_iot as iot  # noqa: E402

from cdk_ota_update import FileLocation, OtaTarget, OtaUpdate, OtaUpdateFile  # noqa: E402
from cdk_ota_update.rehearse import rehearse  # noqa: E402


def synth(outdir: Path, count: int) -> None:
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Fleet")
    role = iam.Role(stack, "OtaRole", assumed_by=iam.ServicePrincipal("iot.amazonaws.com"))
    role.add_to_policy(
        iam.PolicyStatement(actions=["iam:GetRole", "iam:PassRole"], resources=[role.role_arn])
    )
    role.add_to_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::cdk-*-assets-*/*"])
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["iot:CreateJob", "iot:CreateStream"],
            resources=[
                stack.format_arn(service="iot", resource=kind, resource_name="*")
                for kind in ("job", "thinggroup", "stream")
            ],
        )
    )
    given = iam.Role.from_role_arn(stack, "Given", role.role_arn, mutable=False)
    firmware = outdir.parent / "fw.bin"
    firmware.write_bytes(b"\x7fELF" * 256)
    for index in range(count):
        group = f"fleet-{index}"
        iot.CfnThingGroup(stack, f"Group{index}", thing_group_name=group)
        OtaUpdate(
            stack,
            f"Release{index}",
            targets=[OtaTarget.thing_group(group)],
            role=given,
            files=[
                OtaUpdateFile(
                    file_name="fw.bin",
                    file_version=f"1.0.{index}",
                    file_location=FileLocation.from_asset(str(firmware)),
                )
            ],
        )
    app.synth()


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--ota-updates", type=int, default=50)
    options.add_argument("--runs", type=int, default=3)
    options.add_argument("--concurrency", type=int, default=4)
    arguments = options.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        outdir = Path(temporary) / "cdk.out"
        synth(outdir, arguments.ota_updates)
        times = []
        for _ in range(arguments.runs):
            started = time.perf_counter()
            report = rehearse(outdir, teardown=True, concurrency=arguments.concurrency)
            times.append(time.perf_counter() - started)
            if report.exit_status != 0:
                sys.exit(report.table())
    print("| OTA updates | concurrency | create + teardown: median | min | max |")
    print("|---|---|---|---|---|")
    print(
        f"| {arguments.ota_updates} | {arguments.concurrency} | "
        f"{statistics.median(times):.1f} s | {min(times):.1f} s | {max(times):.1f} s |"
    )


if __name__ == "__main__":
    main()
