"""Synth cost per instance: OtaUpdate side by side with AwsCustomResource (docs/benchmarks.md).

    .venv/bin/python benchmarks/synth.py [--sizes 1 10 50 100 400] [--runs 3]
    .venv/bin/python benchmarks/synth.py --whole-process [--runs 7]
    .venv/bin/python benchmarks/synth.py --memos [--sizes 1 100]

Each measurement runs in a fresh interpreter that first imports the same modules for every side
(aws_cdk, its custom_resources, this library; importing the library asks jsii for nothing outside
aws-cdk-lib's core, tests/project/test_imports.py) and warms the jsii runtime up (an empty app
synthesized). It then builds one stack of N instances and synthesizes it twice over, each time in
a new app: *cold* is the first (a ``cdk synth``: the Node.js side loads the modules the stack
uses, each jsii method is type-checked for the first time), *warm* the second (a test suite, which
synthesizes many apps in one process). The sides alternate, so that the machine's noise hits them
alike. Reported per instance: wall time (construction and synth), jsii round trips (every request
the Python side sends to the jsii kernel), template bytes and CloudFormation resources (of the warm
synth; the cold one's are the same).

The sides that deploy OTA updates get the same fleet-shaped requests: a thing group per OTA
update, its own ``releases/<version>/`` key in one bucket, an AWS Signer profile per ten.

- *OtaUpdate*: this library.
- *AwsCustomResource*: the stack written without it, one ``createOTAUpdate`` call per instance,
  ``deleteOTAUpdate`` on delete, and a policy with which those calls work, made with each call as
  AWS's examples do.
- *AwsCustomResource, shared policy*: the same, written the cheapest way (one policy object for
  all calls, every value read once).
- *floor*: what jsii itself costs any such construct: a construct of Python, its
  ``CustomResource`` and one ``Lazy`` value, nothing else (no provider, no IAM, no validation).
- *floor + provider*: the floor and the provider function a stack needs, made the plainest way
  from Python (a role, a log group, the function with this library's asset, one policy).
- *same resources*: this library's template (the same resources, statements and dependencies)
  made the plainest way from Python, with none of the library's logic: what jsii alone costs for
  it.

``--whole-process`` measures instead what a user's ``cdk synth`` pays, as a whole process: a fresh
``python`` that imports what an ``app.py`` imports, builds one stack with one instance,
synthesizes it and exits (Node.js started and stopped), timed from outside (the wall time of the
process), the sides alternating, ``--runs`` times each: one OtaUpdate, one AwsCustomResource (as
AWS's examples write it), and the same stack with neither (*no custom resource*: Python, aws_cdk,
Node.js and the stack's buckets and profile). The library's disk caches (the Lambda asset's
folder, IoT's model) are warm, as on a user's second synth. Also reported, on the process's own
clock: the imports at the top of its app (``aws_cdk`` and the side's modules) and the building and
synth of the stack (which pays for the modules imported on first use).

``--memos`` defends what the library keeps on the Python side to spare jsii round trips (its
*memos*, CONTRIBUTING.md): the OtaUpdate side's stack, once with every memo and once per memo with
that one switched off in the measuring child (each read goes to jsii or the construct tree again:
``stack_of`` is ``Stack.of``, ``attribute`` is ``getattr``, ``StackSingleton.existing`` is
``node.try_find_child``, a cached function its ``__wrapped__``, a table one that keeps nothing).
The stack is synthesized in a first App (a ``cdk synth``) and again in a second App of the same
process (a test suite): a cache shared across Apps saves in the second what it saved in the
first, and more. Reported: jsii round trips (deterministic, so the machine's noise does not
matter) with and without each memo, at each N, in each App; and the warm wall time's ratio to the
all-memos side of the same run (noisy). Every memo of ``MEMOS`` must have its row in
docs/benchmarks.md (tests/project/test_memos.py).
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIDES = (
    "OtaUpdate",
    "AwsCustomResource",
    "AwsCustomResource, shared policy",
    "floor",
    "floor + provider",
    "same resources",
)

# The stacks each side builds (run in a child interpreter; each imports what it uses).
BUILDERS = r"""
import aws_cdk as cdk

def fleet(stack, n):
    from aws_cdk import aws_s3 as s3, aws_signer as signer
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

def aws_custom_resources(stack, n, shared=False):
    # Written as AWS's examples write it: the policy made with each call. A policy with which the
    # calls work: from_sdk_calls would grant only iot:CreateOTAUpdate and iot:DeleteOTAUpdate, and
    # CreateOTAUpdate fails without iam:PassRole (and the reads of the file and the signing
    # profile), forceDeleteAWSJob without iot:DeleteJob. ``shared``: the cheapest way, every value
    # read once and one policy object for all calls.
    from aws_cdk import aws_iam as iam, custom_resources as cr
    bucket, signed, profiles = fleet(stack, n)
    role_arn = f"arn:{cdk.Aws.PARTITION}:iam::{cdk.Aws.ACCOUNT_ID}:role/ota-service"
    actions = ["iot:CreateOTAUpdate", "iot:DeleteOTAUpdate", "iot:DeleteJob", "iam:PassRole",
               "s3:GetObject", "s3:GetObjectVersion", "signer:StartSigningJob",
               "signer:GetSigningProfile"]

    def policy():
        return cr.AwsCustomResourcePolicy.from_statements(
            [iam.PolicyStatement(actions=actions, resources=["*"])])

    if shared:
        one_policy, firmware, destination = policy(), bucket.bucket_name, signed.bucket_name
        names = [p.signing_profile_name for p in profiles]
    for i in range(n):
        ota_id = f"ota-{i}"
        create = cr.AwsSdkCall(
            service="Iot", action="createOTAUpdate",
            parameters={
                "otaUpdateId": ota_id,
                "targets": [f"arn:{cdk.Aws.PARTITION}:iot:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:"
                            f"thinggroup/fleet-{i}"],
                "files": [{"fileLocation": {"s3Location": {
                    "bucket": firmware if shared else bucket.bucket_name,
                    "key": f"releases/1.{i}.0/fw.bin"}},
                    "codeSigning": {"startSigningJobParameter": {
                        "signingProfileName": (names[i // 10] if shared
                                               else profiles[i // 10].signing_profile_name),
                        "destination": {"s3Destination": {
                            "bucket": destination if shared else signed.bucket_name,
                            "prefix": f"signed/1.{i}.0/"}}}}}],
                "roleArn": role_arn,
            },
            physical_resource_id=cr.PhysicalResourceId.of(ota_id))
        delete = cr.AwsSdkCall(service="Iot", action="deleteOTAUpdate",
                               parameters={"otaUpdateId": ota_id, "forceDeleteAWSJob": True})
        cr.AwsCustomResource(stack, f"Ota{i}", on_create=create, on_delete=delete,
                             policy=one_policy if shared else policy(),
                             install_latest_aws_sdk=False)

def floor(stack, n, service_token=None):
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
    token = service_token or (
        f"arn:{cdk.Aws.PARTITION}:lambda:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:function:ota")
    for i in range(n):
        scope = Construct(stack, f"Ota{i}")
        cdk.CustomResource(scope, "Resource", service_token=token,
                           resource_type="Custom::OtaUpdate",
                           properties={"otaUpdateId": cdk.Lazy.string(Producer(f"ota-{i}"))})

def floor_with_provider(stack, n):
    # The floor, and the provider function a stack needs made the plainest way from Python: a
    # role, a log group, the function (this library's asset), one policy. What any construct
    # library that brings its own provider pays per stack through jsii, where AwsCustomResource
    # makes its provider inside one jsii call.
    from aws_cdk import aws_iam as iam, aws_lambda as lambda_, aws_logs as logs
    from cdk_ota_update.provider import asset_dir

    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    log_group = logs.LogGroup(stack, "Logs", retention=logs.RetentionDays.THREE_MONTHS)
    function = lambda_.Function(
        stack, "Function", runtime=lambda_.Runtime.PYTHON_3_14, handler="index.handler",
        code=lambda_.Code.from_asset(str(asset_dir())), role=role, log_group=log_group)
    iam.CfnPolicy(stack, "Policy", policy_name="ota", roles=[role.role_name], policy_document={
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:*OTAUpdate", "Resource": "*"}]})
    floor(stack, n, function.function_arn)

def same_resources(stack, n):
    # This library's template (the same resources, properties, statements and dependencies, an
    # OtaUpdate's TagManager so that Tags.of reaches it), made the plainest way from Python:
    # literal policy documents and ids, none of the library's logic (no validation, no derived id,
    # no planning or size checks, no synth-time callback). What jsii alone costs for this template.
    from aws_cdk import aws_iam as iam, aws_lambda as lambda_, aws_logs as logs
    from constructs import Construct
    from cdk_ota_update.provider import asset_dir

    partition, region, account = cdk.Aws.PARTITION, cdk.Aws.REGION, cdk.Aws.ACCOUNT_ID
    stack_id = cdk.Aws.STACK_ID
    iot = f"arn:{partition}:iot:{region}:{account}:"
    signing = f"arn:{partition}:signer:{region}:{account}:"
    owned = "cdk-ota-update:stack-id"
    provider = Construct(stack, "OtaUpdateProvider")
    role = iam.Role(provider, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                    description="Runs the Custom::OtaUpdate handler (cdk-ota-update).")
    log_group = logs.LogGroup(provider, "Logs", retention=logs.RetentionDays.THREE_MONTHS,
                              removal_policy=cdk.RemovalPolicy.RETAIN)
    function = lambda_.Function(
        provider, "Function", description="Creates and deletes AWS IoT OTA updates.",
        runtime=lambda_.Runtime.PYTHON_3_14, architecture=lambda_.Architecture.ARM_64,
        handler="index.handler", code=lambda_.Code.from_asset(str(asset_dir())),
        timeout=cdk.Duration.seconds(300), memory_size=256, role=role, log_group=log_group,
        environment={"OTA_STACK_ID": stack_id, "OTA_MAX_WAIT_SECONDS": "900",
                     "OTA_RETRY_SECONDS": "40", "OTA_MAX_HANDOVERS": "20"},
        retry_attempts=0, max_event_age=cdk.Duration.seconds(900))
    function_arn = function.function_arn
    ota = f"{iot}otaupdate/*"
    provider_policy = iam.CfnPolicy(provider, "Policy", policy_name="OtaUpdateProviderPolicy",
                                    roles=[role.role_name], policy_document={
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": [log_group.log_group_arn]},
            {"Effect": "Allow", "Action": ["iot:GetOTAUpdate", "iot:ListTagsForResource"],
             "Resource": [ota]},
            {"Effect": "Allow", "Action": "iot:CreateOTAUpdate", "Resource": [ota],
             "Condition": {"StringEquals": {f"aws:RequestTag/{owned}": stack_id}}},
            {"Effect": "Allow", "Action": "iot:DeleteOTAUpdate", "Resource": [ota],
             "Condition": {"StringEquals": {f"aws:ResourceTag/{owned}": stack_id}}},
            {"Effect": "Allow", "Action": ["iot:TagResource", "iot:UntagResource"],
             "Resource": [ota],
             "Condition": {"StringEquals": {f"aws:ResourceTag/{owned}": stack_id},
                           "ForAllValues:StringNotLike": {"aws:TagKeys": "cdk-ota-update:*"}}},
            {"Effect": "Allow", "Action": "iot:ListOTAUpdates", "Resource": "*"},
            {"Effect": "Allow", "Action": ["iot:DescribeJob", "iot:DeleteJob"],
             "Resource": [f"{iot}job/AFR_OTA-*"]},
            {"Effect": "Allow", "Action": "iot:DeleteStream",
             "Resource": [f"{iot}stream/AFR_OTA-*"]},
            {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": [function_arn]}]})
    service = Construct(stack, "OtaUpdateServiceRole")
    service_role = iam.Role(service, "Resource", assumed_by=iam.ServicePrincipal(
        "iot.amazonaws.com").with_conditions({"StringEquals": {"aws:SourceAccount": account},
                                              "ArnLike": {"aws:SourceArn": f"{iot}*"}}),
        description="AWS IoT OTA update service role (cdk-ota-update).")
    role_arn = service_role.role_arn
    bucket, signed, profiles = fleet(stack, n)
    firmware, destination = bucket.bucket_name, signed.bucket_name
    names = [p.signing_profile_name for p in profiles]
    requests = [{
        "otaUpdateId": f"Ota{i}-0123456789abcdef",
        "targets": [f"{iot}thinggroup/fleet-{i}"],
        "files": [{"fileLocation": {"s3Location": {"bucket": firmware,
                                                   "key": f"releases/1.{i}.0/fw.bin"}},
                   "codeSigning": {"startSigningJobParameter": {
                       "signingProfileName": names[i // 10],
                       "destination": {"s3Destination": {"bucket": destination,
                                                         "prefix": f"signed/1.{i}.0/"}}}}}],
        "roleArn": role_arn, "deleteStream": True, "forceDeleteAWSJob": True}
        for i in range(n)]
    objects = [f"arn:{partition}:s3:::{firmware}/releases/1.{i}.0/fw.bin" for i in range(n)]
    service_policy = iam.CfnPolicy(service, "Policy", policy_name="OtaUpdateServiceRolePolicy",
                                   roles=[service_role.role_name], policy_document={
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iot:CreateJob",
             "Resource": [f"{iot}job/AFR_OTA-Ota{i}-0123456789abcdef" for i in range(n)]
             + [f"{iot}thinggroup/fleet-{i}" for i in range(n)]},
            {"Effect": "Allow", "Action": ["iot:DescribeJob", "iot:DeleteJob"],
             "Resource": [f"{iot}job/AFR_OTA-Ota{i}-0123456789abcdef" for i in range(n)]},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
             "Resource": objects},
            {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
             "Resource": [f"arn:{partition}:s3:::{firmware}",
                          f"arn:{partition}:s3:::{destination}"]},
            {"Effect": "Allow", "Action": ["iot:CreateStream", "iot:DeleteStream"],
             "Resource": [f"{iot}stream/AFR_OTA-*"]},
            {"Effect": "Allow", "Action": ["signer:StartSigningJob", "signer:GetSigningProfile"],
             "Resource": [f"{signing}/signing-profiles/{name}" for name in names]},
            {"Effect": "Allow", "Action": "signer:DescribeSigningJob",
             "Resource": [f"{signing}/signing-jobs/*"]},
            {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"],
             "Resource": [f"arn:{partition}:s3:::{destination}/signed/1.{i}.0/*"
                          for i in range(n)]},
            {"Effect": "Allow", "Action": "iam:GetRole", "Resource": [role_arn]},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": [role_arn],
             "Condition": {"StringEquals": {"iam:PassedToService": "iot.amazonaws.com"}}}]})
    import jsii

    @jsii.implements(cdk.ITaggable)
    class Taggable(Construct):
        def __init__(self, scope, id):
            super().__init__(scope, id)
            self._tags = cdk.TagManager(cdk.TagType.KEY_VALUE, "Custom::OtaUpdate")

        @property
        def tags(self):
            return self._tags

    service_timeout = cdk.Duration.seconds(1200)
    for i, request in enumerate(requests):
        scope = Taggable(stack, f"Ota{i}")
        resource = cdk.CustomResource(
            scope, "Resource", service_token=function_arn, resource_type="Custom::OtaUpdate",
            service_timeout=service_timeout,
            properties={**request, "tags": scope.tags.rendered_tags})
        resource.node.add_dependency(provider_policy, service_policy)
"""

# Runs in the child interpreter: ``python -c CHILD <side> <n>`` prints one JSON line.
_COUNTED = r"""
import json, sys, tempfile, time
import aws_cdk as cdk
from aws_cdk import aws_iam as iam, aws_s3 as s3, aws_signer as signer, custom_resources as cr
from jsii._kernel.providers.process import _NodeProcess

calls = [0]
send = _NodeProcess.send
def counted(self, request, response_type):
    calls[0] += 1
    return send(self, request, response_type)
_NodeProcess.send = counted
"""
_PER_INSTANCE = r"""
side, n = sys.argv[1], int(sys.argv[2])
# The same imports for every side, before the clock (the construct's modules are imported on
# first use, PEP 562, so a bare ``import cdk_ota_update`` would not import them).
from cdk_ota_update import OtaUpdate  # noqa: F401
build = {"OtaUpdate": ota_updates, "AwsCustomResource": aws_custom_resources,
         "AwsCustomResource, shared policy": lambda stack, n: aws_custom_resources(stack, n, True),
         "floor": floor,
         "floor + provider": floor_with_provider, "same resources": same_resources}[side]

def synthesized(outdir):
    calls[0] = 0
    started = time.perf_counter()
    app = cdk.App(outdir=outdir)
    stack = cdk.Stack(app, "Fleet")
    build(stack, n)
    assembly = app.synth()
    return time.perf_counter() - started, calls[0], assembly.get_stack_by_name("Fleet").template

with tempfile.TemporaryDirectory() as out:
    cdk.App(outdir=out + "/warm").synth()  # jsii and aws-cdk-lib's core loaded, not measured
    cold, _, _ = synthesized(out + "/cold")
    warm, warm_calls, template = synthesized(out + "/again")
print(json.dumps({"cold": cold, "warm": warm, "calls": warm_calls,
                  "bytes": len(json.dumps(template, separators=(",", ":"))),
                  "resources": len(template["Resources"])}))
"""
CHILD = _COUNTED + BUILDERS + _PER_INSTANCE


# Runs as a whole process, as ``python app.py`` does: ``python -c WHOLE <side> <outdir>``.
# What an app.py imports at its top, on the process's own clock; then the stack is built and
# synthesized on it (the modules a library imports on first use are paid there).
_APP_IMPORTS = r"""
import json, sys, time
side, outdir = sys.argv[1], sys.argv[2]
started = time.perf_counter()
import aws_cdk as cdk
from aws_cdk import aws_s3, aws_signer
if side == "OtaUpdate":
    from cdk_ota_update import CodeSigning, FileLocation, OtaTarget, OtaUpdate, OtaUpdateFile
elif side == "AwsCustomResource":
    from aws_cdk import aws_iam, custom_resources
imported = time.perf_counter()
"""
_APP = r"""
build = {"OtaUpdate": ota_updates, "AwsCustomResource": aws_custom_resources,
         "no custom resource": fleet}[side]
app = cdk.App(outdir=outdir)
stack = cdk.Stack(app, "Fleet")
build(stack, 1)
app.synth()
print(json.dumps({"imports": imported - started, "synth": time.perf_counter() - imported}))
"""
WHOLE = _APP_IMPORTS + BUILDERS + _APP
WHOLE_SIDES = ("OtaUpdate", "AwsCustomResource", "no custom resource")


# ``--memos``: each memo, named by what holds it (a table or a cached function, as
# tests/project/test_memos.py finds them in the library), how its reads go to jsii without it, and
# how the child switches it off (``python -c MEMO_CHILD <memo> <n>``, the memo "" for none). A
# function is replaced in every module of the library that imported it by name.
MEMOS = {
    "_cdk._STACKS": (
        "`stack_of` is `Stack.of`",
        "replace(_cdk.stack_of, lambda scope: "
        "scope if isinstance(scope, cdk.Stack) else cdk.Stack.of(scope))",
    ),
    "_cdk._ATTRIBUTES": ("`attribute` is `getattr`", "replace(_cdk.attribute, getattr)"),
    "_cdk._SINGLETONS": (
        "`StackSingleton.existing` is `node.try_find_child`",
        "_cdk.StackSingleton.existing = classmethod(lambda cls, stack: (lambda found: found "
        "if isinstance(found, cls) else None)(stack.node.try_find_child(cls.ID)))",
    ),
    "_cdk.pseudo": ("the 4 `Aws` tokens read at each call", "uncached(_cdk.pseudo)"),
    "_cdk.seconds": ("`Duration.seconds` at each call", "uncached(_cdk.seconds)"),
    "_cdk.stack_id": ("`Aws.STACK_ID` read at each call", "uncached(_cdk.stack_id)"),
    "ota_update._PATHS": (
        "the scope's `node.path` at each call",
        "ota_update._PATHS = Forgetful()",
    ),
}
_MEMO = r"""
memo, n = sys.argv[1], int(sys.argv[2])
import functools
from cdk_ota_update import OtaUpdate  # imports every module of the library the stack uses
from cdk_ota_update import _cdk, ota_update
library = [m for name, m in sys.modules.items() if name.startswith("cdk_ota_update")]

def replace(memo, plain):
    for module in library:
        for name, value in list(vars(module).items()):
            if value is memo:
                setattr(module, name, plain)

def uncached(function):
    replace(function, function.__wrapped__)

class Forgetful(dict):
    # A table that keeps nothing: get_or_make makes the value each time.
    def get(self, key, default=None):
        return default

    def __setitem__(self, key, value):
        pass

    def setdefault(self, key, default=None):
        return default

if memo:
    exec(MEMOS[memo][1])

def synthesized(outdir):
    calls[0] = 0
    started = time.perf_counter()
    app = cdk.App(outdir=outdir)
    ota_updates(cdk.Stack(app, "Fleet"), n)
    template = app.synth().get_stack_by_name("Fleet").template
    return time.perf_counter() - started, calls[0], json.dumps(template, sort_keys=True)

with tempfile.TemporaryDirectory() as out:
    cdk.App(outdir=out + "/warm").synth()
    _, first, template = synthesized(out + "/first")
    warm, second, again = synthesized(out + "/second")
assert template == again
print(json.dumps({"first": first, "second": second, "warm": warm,
                  "template": hashlib.sha256(template.encode()).hexdigest()}))
"""


def _memo_child() -> str:
    return f"import hashlib\nMEMOS = {MEMOS!r}\n" + _COUNTED + BUILDERS + _MEMO


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT / "constructs"),
        "CDK_VALIDATION": "false",
        "PATH": f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}",
    }


def measure(side: str, n: int) -> dict[str, float] | str:
    """The side's numbers for ``n`` instances, or why its synth failed."""
    run = subprocess.run(
        [sys.executable, "-c", CHILD, side, str(n)], env=_env(), capture_output=True, text=True
    )
    if run.returncode != 0:
        errors = [line for line in run.stderr.splitlines() if line.startswith("RuntimeError: ")]
        return errors[-1].removeprefix("RuntimeError: ") if errors else run.stderr[-300:]
    result: dict[str, float] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def measure_process(side: str) -> dict[str, float]:
    """One whole process of ``side``: its wall time, and on its own clock the time its top-level
    imports took and the time it built and synthesized the stack."""
    with tempfile.TemporaryDirectory() as outdir:
        started = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-c", WHOLE, side, outdir], env=_env(), capture_output=True, text=True
        )
        wall = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(f"{side}: {run.stderr[-600:]}")
    inside: dict[str, float] = json.loads(run.stdout.strip().splitlines()[-1])
    return {"wall": wall, **inside}


def whole_process(runs: int) -> None:
    """The whole-process table: each side ``runs`` times, alternating; medians and ratios."""
    measure_process("no custom resource")  # the disk caches and the OS's file cache warm
    results: dict[str, list[dict[str, float]]] = {side: [] for side in WHOLE_SIDES}
    for _ in range(runs):
        for side in WHOLE_SIDES:
            results[side].append(measure_process(side))
    medians = {
        side: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        for side, rs in results.items()
    }
    baseline = medians["AwsCustomResource"]
    print(
        f"| one stack, one instance ({runs} runs each, alternating) | process wall time, median "
        "| of which app.py's imports | of which building and synth | min-max "
        "| beside AwsCustomResource | ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for side in WHOLE_SIDES:
        m, walls = medians[side], [r["wall"] for r in results[side]]
        print(
            f"| {side} | {m['wall'] * 1000:.0f} ms | {m['imports'] * 1000:.0f} ms "
            f"| {m['synth'] * 1000:.0f} ms | {min(walls) * 1000:.0f}-{max(walls) * 1000:.0f} ms "
            f"| {(m['wall'] - baseline['wall']) * 1000:+.0f} ms "
            f"| {m['wall'] / baseline['wall']:.2f} |"
        )


def measure_memo(memo: str, n: int) -> dict[str, Any]:
    """The OtaUpdate side's stack of ``n`` with ``memo`` switched off ("": every memo on)."""
    run = subprocess.run(
        [sys.executable, "-c", _memo_child(), memo, str(n)],
        env=_env(),
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        raise SystemExit(f"{memo or 'every memo'}, N = {n}: {run.stderr[-600:]}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def memos(sizes: list[int], runs: int) -> None:
    """The memos' table: jsii round trips with every memo and with each switched off."""
    low, high = min(sizes), max(sizes)
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for _ in range(runs):  # alternating, for the wall time; the counts are the same each run
        for n in (low, high):
            for memo in ("", *MEMOS):
                results.setdefault((memo, n), []).append(measure_memo(memo, n))
    for (memo, n), rs in results.items():
        if len({(r["first"], r["second"], r["template"]) for r in rs}) != 1:
            raise SystemExit(f"{memo or 'every memo'}, N = {n}: the counts or template vary")
        if rs[0]["template"] != results[("", n)][0]["template"]:
            raise SystemExit(f"{memo}, N = {n}: another template without the memo")

    def calls(memo: str, n: int, app: str) -> int:
        count: int = results[(memo, n)][0][app]
        return count

    def warm(memo: str, n: int) -> float:
        times: list[float] = [r["warm"] for r in results[(memo, n)]]
        return statistics.median(times)

    print(
        "| memo switched off | its reads without it "
        f"| N = {low}, first App: calls with / without | saving "
        f"| N = {low}, second App: with / without | saving "
        f"| N = {high}, second App: with / without | saving per instance after the first "
        f"| warm time at N = {high}, ratio to every memo |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for memo, (reads, _) in MEMOS.items():
        cells = []
        for n, app in ((low, "first"), (low, "second"), (high, "second")):
            with_it, without = calls("", n, app), calls(memo, n, app)
            cells.append(f"{with_it} / {without}")
            cells.append(f"{without - with_it}")
        extra = calls(memo, high, "second") - calls("", high, "second")
        fixed = calls(memo, low, "second") - calls("", low, "second")
        cells[-1] = f"{(extra - fixed) / (high - low):.2f}" if high > low else "-"
        cells.append(f"{warm(memo, high) / warm('', high):.2f}")
        print(f"| `{memo}` | {reads} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--sizes", type=int, nargs="+", help="default: 1 10 50 100 400, or 1 100 with --memos"
    )
    parser.add_argument("--runs", type=int, help="default: 3, or 7 with --whole-process")
    parser.add_argument(
        "--whole-process",
        action="store_true",
        help="a whole `python app.py`-style synth of one instance per side, timed from outside",
    )
    parser.add_argument(
        "--memos",
        action="store_true",
        help="jsii round trips of the OtaUpdate side with each memo switched off (sizes: "
        "the smallest and largest)",
    )
    args = parser.parse_args()
    if args.memos:
        memos(args.sizes or [1, 100], args.runs or 1)
        return
    if args.whole_process:
        whole_process(args.runs or 7)
        return
    args.runs = args.runs or 3
    args.sizes = args.sizes or [1, 10, 50, 100, 400]
    print(
        "| N | side | cold ms per instance | warm ms per instance | jsii calls per instance "
        "| template bytes per instance | resources per instance | cold ratio | warm ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
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
                print(f"| {n} | {side} | synth fails: {m[:160]} | | | | | | |")
                continue
            ratios = [
                f"{m[k] / baseline[k]:.2f}" if isinstance(baseline, dict) else "-"
                for k in ("cold", "warm")
            ]
            print(
                f"| {n} | {side} | {m['cold'] * 1000 / n:.1f} | {m['warm'] * 1000 / n:.1f} "
                f"| {m['calls'] / n:.1f} | {m['bytes'] / n:.0f} | {m['resources'] / n:.2f} "
                f"| {ratios[0]} | {ratios[1]} |"
            )


if __name__ == "__main__":
    main()
