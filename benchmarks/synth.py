"""Synth cost per instance: OtaUpdate side by side with AwsCustomResource (docs/benchmarks.md).

    .venv/bin/python benchmarks/synth.py [--sizes 1 10 100 400] [--runs 3]

Each measurement runs in a fresh interpreter whose jsii runtime is warmed up first (an empty app
synthesized), then builds one stack of N instances and synthesizes it. Both sides get the same
fleet-shaped requests: a thing group per OTA update, its own ``releases/<version>/`` key in one
bucket, an AWS Signer profile per ten. The AwsCustomResource side is how such a stack is written
without this library: one ``createOTAUpdate`` call per instance, ``deleteOTAUpdate`` on delete,
``AwsCustomResourcePolicy.from_sdk_calls``. Reported per instance: wall time (construction and
synth), jsii round trips (every request the Python side sends to the jsii kernel), template bytes
and CloudFormation resources; the sides alternate so that the machine's noise hits them alike.
A third side, *floor*, is what jsii itself costs any such construct: a construct of Python, its
``CustomResource`` and one ``Lazy`` value, nothing else (no provider, no IAM, no validation).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIDES = ("OtaUpdate", "AwsCustomResource", "floor")

# Runs in the child interpreter: ``python -c CHILD <side> <n>`` prints one JSON line.
CHILD = r"""
import json, sys, tempfile, time
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3, aws_signer as signer, custom_resources as cr
from jsii._kernel.providers.process import _NodeProcess

calls = [0]
send = _NodeProcess.send
def counted(self, request, response_type):
    calls[0] += 1
    return send(self, request, response_type)
_NodeProcess.send = counted

def fleet(stack, n):
    bucket = s3.Bucket.from_bucket_name(stack, "Firmware", "firmware-releases")
    signed = s3.Bucket.from_bucket_name(stack, "Signed", "signed-firmware")
    profiles = [signer.SigningProfile.from_signing_profile_attributes(
        stack, f"Profile{p}", signing_profile_name=f"signer{p}", signing_profile_version="v1")
        for p in range((n + 9) // 10)]
    return bucket, signed, profiles

def ota_updates(stack, n):
    from cdk_ota_update import CodeSigning, FileLocation, OtaTarget, OtaUpdate, OtaUpdateFile
    bucket, signed, profiles = fleet(stack, n)
    for i in range(n):
        location = FileLocation.from_bucket(bucket, f"releases/1.{i}.0/fw.bin")
        signing = CodeSigning.from_signing_profile(
            profiles[i // 10], destination=signed, prefix=f"signed/1.{i}.0/")
        OtaUpdate(stack, f"Ota{i}", targets=[OtaTarget.thing_group(f"fleet-{i}")],
                  files=[OtaUpdateFile(file_location=location, code_signing=signing)])

def aws_custom_resources(stack, n):
    bucket, signed, profiles = fleet(stack, n)
    role_arn = f"arn:{cdk.Aws.PARTITION}:iam::{cdk.Aws.ACCOUNT_ID}:role/ota-service"
    for i in range(n):
        ota_id = f"ota-{i}"
        create = cr.AwsSdkCall(
            service="Iot", action="createOTAUpdate",
            parameters={
                "otaUpdateId": ota_id,
                "targets": [f"arn:{cdk.Aws.PARTITION}:iot:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:"
                            f"thinggroup/fleet-{i}"],
                "files": [{"fileLocation": {"s3Location": {
                    "bucket": bucket.bucket_name, "key": f"releases/1.{i}.0/fw.bin"}},
                    "codeSigning": {"startSigningJobParameter": {
                        "signingProfileName": profiles[i // 10].signing_profile_name,
                        "destination": {"s3Destination": {
                            "bucket": signed.bucket_name, "prefix": f"signed/1.{i}.0/"}}}}}],
                "roleArn": role_arn,
            },
            physical_resource_id=cr.PhysicalResourceId.of(ota_id))
        delete = cr.AwsSdkCall(service="Iot", action="deleteOTAUpdate",
                               parameters={"otaUpdateId": ota_id, "forceDeleteAWSJob": True})
        cr.AwsCustomResource(stack, f"Ota{i}", on_create=create, on_delete=delete,
                             policy=cr.AwsCustomResourcePolicy.from_sdk_calls(
                                 resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE),
                             install_latest_aws_sdk=False)

def floor(stack, n):
    # What no construct backed by a custom resource goes below through jsii: a construct of
    # Python, its CustomResource, one Lazy value (a producer called back at synth).
    import jsii
    from constructs import Construct

    @jsii.implements(cdk.IStableStringProducer)
    class Producer:
        def __init__(self, value):
            self._value = value

        def produce(self):
            return self._value

    fleet(stack, n)
    token = f"arn:{cdk.Aws.PARTITION}:lambda:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:function:ota"
    for i in range(n):
        scope = Construct(stack, f"Ota{i}")
        cdk.CustomResource(scope, "Resource", service_token=token,
                           resource_type="Custom::OtaUpdate",
                           properties={"otaUpdateId": cdk.Lazy.string(Producer(f"ota-{i}"))})

side, n = sys.argv[1], int(sys.argv[2])
with tempfile.TemporaryDirectory() as out:
    cdk.App(outdir=out + "/warm").synth()  # jsii and aws-cdk-lib loaded, not measured
    if side == "OtaUpdate":
        # The construct's modules imported before the clock starts, like aws_cdk's (the package
        # imports them on first use, PEP 562, so a bare ``import cdk_ota_update`` would not).
        from cdk_ota_update import OtaUpdate  # noqa: F401
    build = {"OtaUpdate": ota_updates, "AwsCustomResource": aws_custom_resources,
             "floor": floor}[side]
    calls[0] = 0
    started = time.perf_counter()
    app = cdk.App(outdir=out + "/app")
    stack = cdk.Stack(app, "Fleet")
    build(stack, n)
    assembly = app.synth()
    seconds = time.perf_counter() - started
    template = json.dumps(assembly.get_stack_by_name("Fleet").template, separators=(",", ":"))
    resources = len(assembly.get_stack_by_name("Fleet").template["Resources"])
print(json.dumps({"seconds": seconds, "calls": calls[0], "bytes": len(template),
                  "resources": resources}))
"""


def measure(side: str, n: int) -> dict[str, float] | str:
    """The side's numbers for ``n`` instances, or why its synth failed."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "constructs"),
        "CDK_VALIDATION": "false",
        "PATH": f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}",
    }
    run = subprocess.run(
        [sys.executable, "-c", CHILD, side, str(n)], env=env, capture_output=True, text=True
    )
    if run.returncode != 0:
        errors = [line for line in run.stderr.splitlines() if line.startswith("RuntimeError: ")]
        return errors[-1].removeprefix("RuntimeError: ") if errors else run.stderr[-300:]
    result: dict[str, float] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100, 400])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(
        "| N | side | ms per instance | jsii calls per instance | template bytes per instance "
        "| resources per instance | time ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in args.sizes:
        runs: dict[str, list[dict[str, float] | str]] = {side: [] for side in SIDES}
        for _ in range(args.runs):
            for side in SIDES:
                runs[side].append(measure(side, n))
        medians: dict[str, dict[str, float] | str] = {}
        for side, results in runs.items():
            good = [r for r in results if isinstance(r, dict)]
            medians[side] = (
                {k: statistics.median(r[k] for r in good) for k in good[0]}
                if good
                else str(results[0])
            )
        baseline = medians["AwsCustomResource"]
        for side in SIDES:
            m = medians[side]
            if isinstance(m, str):
                print(f"| {n} | {side} | synth fails: {m[:160]} | | | | |")
                continue
            ratio = (
                f"{m['seconds'] / baseline['seconds']:.2f}" if isinstance(baseline, dict) else "-"
            )
            print(
                f"| {n} | {side} | {m['seconds'] * 1000 / n:.1f} | {m['calls'] / n:.1f} "
                f"| {m['bytes'] / n:.0f} | {m['resources'] / n:.2f} | {ratio} |"
            )


if __name__ == "__main__":
    main()
