"""The rehearsal of small stacks built in-process, each showing one way a deploy fails (or not).

One app, one synth, one rehearsal of all its stacks (module fixture); each test reads the outcome
of its stack: what the handler answered, the Reason it gave, and what the report says must exist.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_signer as signer
from cdk_support import ROOT, isolated_vpc

import cdk_ota_update
from cdk_ota_update import (
    FileLocation,
    OtaTarget,
    OtaUpdate,
    OtaUpdateFile,
    OtaUpdateProvider,
)
from cdk_ota_update.rehearse import Outcome, Report, rehearse
from cdk_ota_update.rehearse.assembly import RehearsalError

FIRMWARE = str(ROOT / "firmware" / "sensor-fw.bin")
ACCOUNT, REGION = "123456789012", "us-east-1"
STAGE_ACCOUNT = "111111111111"  # the stages of a pipeline, each in its own Region
IOT_TRUST = iam.ServicePrincipal("iot.amazonaws.com")
CLI_CONTEXT = {"aws:cdk:enable-path-metadata": True}  # as `cdk synth` sets it
EVERYTHING_BUT_READ = [
    iam.PolicyStatement(actions=["iam:GetRole", "iam:PassRole", "iot:*"], resources=["*"]),
    iam.PolicyStatement(actions=["s3:PutObject"], resources=["*"]),
]


def firmware_file() -> OtaUpdateFile:
    return OtaUpdateFile(file_name="fw.bin", file_location=FileLocation.from_asset(FIRMWARE))


def fleet(stack: cdk.Stack, name: str = "fleet") -> str:
    """A thing group the stack declares (named after it: names are unique in an account)."""
    name = f"{stack.stack_name.lower()}-{name}"
    iot.CfnThingGroup(stack, f"Group{name}", thing_group_name=name)
    return OtaTarget.thing_group(name)


def given_role(
    stack: cdk.Stack,
    name: str,
    trust: iam.IPrincipal,
    statements: list[iam.PolicyStatement],
    *,
    managed: bool = False,
) -> iam.IRole:
    """A role the user declares with exactly these statements (inline or managed), passed to the
    OtaUpdate as immutable: the construct adds nothing to it."""
    role = iam.Role(stack, name, role_name=name, assumed_by=trust)
    document = iam.PolicyDocument(statements=statements)
    if managed:
        iam.ManagedPolicy(stack, f"{name}Managed", document=document, roles=[role])
    else:
        iam.Policy(stack, f"{name}Inline", document=document, roles=[role])
    return iam.Role.from_role_arn(stack, f"{name}Given", role.role_arn, mutable=False)


def build(outdir: Path) -> None:
    app = cdk.App(outdir=str(outdir), context=CLI_CONTEXT)
    good = cdk.Stack(app, "Good")
    for index, group in enumerate(("north", "south", "east")):  # the shared service role
        OtaUpdate(good, f"Release{index}", targets=[fleet(good, group)], files=[firmware_file()])

    managed = cdk.Stack(app, "Managed")
    everything = [
        *EVERYTHING_BUT_READ,
        iam.PolicyStatement(actions=["s3:GetObject"], resources=["*"]),
    ]
    OtaUpdate(
        managed,
        "Release",
        targets=[fleet(managed, "west")],
        files=[firmware_file()],
        role=given_role(managed, "managed-ota", IOT_TRUST, everything, managed=True),
    )

    no_read = cdk.Stack(app, "NoRead")
    OtaUpdate(
        no_read,
        "Release",
        targets=[fleet(no_read, "fleet")],
        files=[firmware_file()],
        role=given_role(no_read, "no-read", IOT_TRUST, EVERYTHING_BUT_READ),
    )

    untrusted = cdk.Stack(app, "Untrusted")
    OtaUpdate(
        untrusted,
        "Release",
        targets=[fleet(untrusted, "fleet")],
        files=[firmware_file()],
        role=given_role(
            untrusted, "lambda-role", iam.ServicePrincipal("lambda.amazonaws.com"), everything
        ),
    )

    missing_object = cdk.Stack(app, "MissingObject")
    bucket = s3.Bucket(missing_object, "Firmware", bucket_name="fw-rehearsal")
    OtaUpdate(
        missing_object,
        "Release",
        targets=[fleet(missing_object, "fleet")],
        files=[OtaUpdateFile(file_location=FileLocation.from_bucket(bucket, "v9/fw.bin"))],
    )

    for name, region in (("LegacyEu", "eu-west-1"), ("LegacyUs", "us-west-2")):
        legacy = cdk.Stack(app, name, env=cdk.Environment(account=STAGE_ACCOUNT, region=region))
        OtaUpdate(
            legacy,
            "Release",
            targets=[OtaTarget.thing_group("legacy-fleet")],
            files=[firmware_file()],
        )

    in_app_signer = cdk.Stack(app, "InAppSigner")  # an L1: the construct's check is not reached
    signer.CfnSigningProfile(in_app_signer, "Signer", platform_id="AmazonFreeRTOS-Default")

    missing_group = cdk.Stack(app, "MissingGroup")
    OtaUpdate(
        missing_group,
        "Release",
        targets=[OtaTarget.thing_group("ghost-fleet")],
        files=[firmware_file()],
    )

    configured = cdk.Stack(app, "Configured")  # a provider in a VPC, with a key of the stack
    vpc = isolated_vpc(configured)
    OtaUpdateProvider.configure(
        configured,
        vpc=vpc,
        timeout=cdk.Duration.minutes(3),
        environment_encryption=kms.Key(configured, "Key"),
        architecture=lambda_.Architecture.X86_64,
    )
    OtaUpdate(configured, "Release", targets=[fleet(configured, "fleet")], files=[firmware_file()])

    malformed = cdk.Stack(app, "Malformed")
    ota = OtaUpdate(
        malformed, "Release", targets=[fleet(malformed, "fleet")], files=[firmware_file()]
    )
    resource = cast(cdk.CfnResource, ota.node.find_child("Resource").node.default_child)
    resource.add_property_override("awsJobTimeoutConfig", {"inProgressTimeoutInMinutes": 0})
    app.synth()


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("stacks") / "cdk.out"
    build(outdir)
    return outdir


@pytest.fixture(scope="module")
def report(assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Report:
    return rehearse(
        assembly,
        exists=["thinggroup/legacy-fleet"],  # in every stage's account and Region
        workdir=tmp_path_factory.mktemp("work"),
        teardown=True,
    )


def outcomes(report: Report, stack: str) -> list[Outcome]:
    return [o for o in report.outcomes if o.stack == stack]


def only(report: Report, stack: str) -> Outcome:
    [outcome] = outcomes(report, stack)
    return outcome


def steps(outcome: Outcome) -> list[tuple[str, str, str]]:
    return [(s.request, s.status, s.purpose) for s in outcome.steps]


def test_a_stack_with_its_groups_and_the_shared_role_deploys_and_tears_down(report: Report) -> None:
    releases = outcomes(report, "Good")
    assert [o.status for o in releases] == ["DELETE_COMPLETE"] * 3
    assert {steps(o)[0] for o in releases} == {("Create", "SUCCESS", "")}
    assert {steps(o)[1] for o in releases} == {("Delete", "SUCCESS", "teardown")}
    assert len({o.job_id for o in releases}) == 3
    assert all(o.job_id == f"AFR_OTA-{o.ota_update_id}" and o.stream for o in releases)


def test_a_configured_provider_deploys_and_tears_down(report: Report) -> None:
    outcome = only(report, "Configured")
    assert outcome.status == "DELETE_COMPLETE", outcome.reason
    assert steps(outcome) == [("Create", "SUCCESS", ""), ("Delete", "SUCCESS", "teardown")]


def test_a_role_with_a_managed_policy_deploys(report: Report) -> None:
    outcome = only(report, "Managed")
    assert steps(outcome)[0] == ("Create", "SUCCESS", ""), outcome.reason


def test_a_reason_longer_than_cloudformation_carries_is_reported_whole(report: Report) -> None:
    """The handler cuts it to CloudFormation's 256 characters; the report has what it logged."""
    outcome = only(report, "NoRead")
    document: dict[str, Any] = json.loads(report.dumps())
    [row] = [line for line in report.table().splitlines() if line.startswith("NoRead/")]

    assert len(outcome.reason) > 256
    assert outcome.reason.endswith(f"OTA update {outcome.ota_update_id} was deleted")
    assert outcome.steps[0].reason == outcome.reason
    assert [o["reason"] for o in document["otaUpdates"] if o["stack"] == "NoRead"] == [
        outcome.reason
    ]
    assert row.endswith("… (cut; --json has it whole)")


def test_each_ota_update_is_reported_with_its_environment(report: Report) -> None:
    document: dict[str, Any] = json.loads(report.dumps())
    environments = {o["stack"]: (o["account"], o["region"]) for o in document["otaUpdates"]}
    stacks = {o.path: o.stack for o in report.outcomes}
    rows = [line.split() for line in report.table().splitlines()]
    shown = {stacks[row[0]]: row[1] for row in rows if row[0] in stacks}

    assert environments["LegacyEu"] == (STAGE_ACCOUNT, "eu-west-1")
    assert environments["Good"] == (ACCOUNT, REGION)
    assert shown["LegacyUs"] == f"{STAGE_ACCOUNT}/us-west-2"


def test_a_role_that_cannot_read_the_firmware_fails_naming_object_and_action(
    report: Report,
) -> None:
    outcome = only(report, "NoRead")
    assert outcome.status == "CREATE_FAILED"
    assert "User: arn:aws:sts::123456789012:assumed-role/no-read/" in outcome.reason
    assert (
        "is not authorized to perform: s3:GetObject on resource: "
        f"arn:aws:s3:::cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/" in outcome.reason
    )
    # CloudFormation's rollback deleted what the handler created (nothing left).
    assert steps(outcome) == [("Create", "FAILED", ""), ("Delete", "SUCCESS", "rollback")]


def test_a_role_not_trusted_by_iot_fails(report: Report) -> None:
    outcome = only(report, "Untrusted")
    assert outcome.status == "CREATE_FAILED"
    assert (
        f"Unable to assume the role arn:aws:iam::{ACCOUNT}:role/lambda-role: its trust "
        "policy does not allow iot.amazonaws.com to perform sts:AssumeRole"
    ) in outcome.reason


def test_an_object_of_a_bucket_the_stack_creates_fails_and_is_said_not_uploaded(
    report: Report,
) -> None:
    """Not "must exist at deploy": the bucket is the stack's own, new and empty at deploy."""
    outcome = only(report, "MissingObject")
    [missing] = report.not_uploaded

    assert outcome.status == "CREATE_FAILED"
    assert "cannot read the S3 object s3://fw-rehearsal/v9/fw.bin" in outcome.reason
    assert "s3://fw-rehearsal/v9/fw.bin" not in report.must_exist
    assert (missing.object, missing.construct_path, missing.referred_to_by) == (
        "s3://fw-rehearsal/v9/fw.bin",
        "MissingObject/Firmware/Resource",
        [outcome.path],
    )
    assert missing.bucket.startswith("MissingObject/Firmware")
    assert (
        f"not uploaded: {missing.bucket} (MissingObject/Firmware/Resource) is created by the "
        "deployment, empty: v9/fw.bin is in it at deploy only if the deployment uploads it (an "
        "s3_deployment.BucketDeployment the OtaUpdate depends on), or use "
        f"FileLocation.from_asset (referred to by {outcome.path})"
    ) in report.table().splitlines()


def test_a_thing_group_neither_declared_nor_given_fails_and_must_exist_at_deploy(
    report: Report,
) -> None:
    outcome = only(report, "MissingGroup")
    group = f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/ghost-fleet"
    assert outcome.status == "CREATE_FAILED"
    assert f"Target {group} does not exist" in outcome.reason
    assert report.must_exist["thinggroup/ghost-fleet"] == [outcome.path]
    assert [name for name in report.must_exist if name.startswith("thinggroup/")] == [
        "thinggroup/ghost-fleet"
    ]


def test_a_malformed_property_fails_naming_it(report: Report) -> None:
    outcome = only(report, "Malformed")
    assert outcome.status == "CREATE_FAILED"
    assert "awsJobTimeoutConfig.inProgressTimeoutInMinutes" in outcome.reason
    assert "'0'" in outcome.reason or " 0 " in outcome.reason


def test_the_report_fails_the_pipeline_and_names_each_failure(report: Report) -> None:
    table = report.table()
    document: dict[str, Any] = json.loads(report.dumps())

    assert report.exit_status == 1
    assert document["exitStatus"] == 1
    failed = {o["stack"] for o in document["otaUpdates"] if o["status"] == "CREATE_FAILED"}
    assert failed == {"NoRead", "Untrusted", "MissingObject", "MissingGroup", "Malformed"}
    assert "must exist at deploy: thinggroup/ghost-fleet (referred to by MissingGroup/" in table
    assert table.splitlines()[-1].startswith("12 OTA update(s) rehearsed in ")


def test_the_same_stacks_rehearsed_from_themselves_take_over_their_named_groups(
    assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``--from`` the previous assembly: its named thing groups are the ones the new assembly
    declares (CloudFormation keeps them), not a second creation refused as already existing."""
    again = rehearse(
        assembly, previous=assembly, workdir=tmp_path_factory.mktemp("again"), teardown=True
    )

    assert again.not_brought_up.keys() == {"InAppSigner/Signer"}
    assert [o.status for o in outcomes(again, "Good")] == ["DELETE_COMPLETE"] * 3
    assert {steps(o)[1] for o in outcomes(again, "Good")} == {("Delete", "SUCCESS", "teardown")}


@pytest.mark.parametrize(
    ("exists", "created"),
    [
        (["thinggroup/legacy-fleet"], ["LegacyEu", "LegacyUs"]),
        ([f"arn:aws:iot:eu-west-1:{STAGE_ACCOUNT}:thinggroup/legacy-fleet"], ["LegacyEu"]),
    ],
    ids=["name-in-every-stage", "arn-in-its-own"],
)
def test_what_exists_is_given_in_the_environment_of_the_stacks_that_refer_to_it(
    assembly: Path, tmp_path_factory: pytest.TempPathFactory, exists: list[str], created: list[str]
) -> None:
    staged = rehearse(
        assembly,
        stacks=["LegacyEu", "LegacyUs"],
        exists=exists,
        workdir=tmp_path_factory.mktemp("staged"),
    )

    statuses = {o.stack: o.status for o in staged.outcomes}
    assert sorted(k for k, v in statuses.items() if v == "CREATE_COMPLETE") == created
    assert staged.must_exist == {}  # given: no hint, whichever stage


def test_an_arn_of_something_that_cannot_be_given_exits_2(
    assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with pytest.raises(RehearsalError, match=r"--exists 'arn:aws:iam::1:role/x': expected"):
        rehearse(
            assembly,
            stacks=["LegacyEu"],
            exists=["arn:aws:iam::1:role/x"],
            workdir=tmp_path_factory.mktemp("bad"),
        )


def test_an_emulation_that_cannot_be_imported_exits_2_saying_what_to_install(
    assembly: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As with a moto older than the emulation works with (its ImportError)."""
    monkeypatch.setitem(sys.modules, "cdk_ota_update.testing", None)
    monkeypatch.delattr(cdk_ota_update, "testing", raising=False)  # imported by earlier tests
    with pytest.raises(RehearsalError) as raised:
        rehearse(assembly, stacks=["LegacyEu"], workdir=tmp_path_factory.mktemp("no-moto"))

    assert str(raised.value).startswith("the rehearsal needs moto and boto3 ("), str(raised.value)
    assert "cdk_ota_update.testing" in str(raised.value)
    assert str(raised.value).endswith('pip install "cdk-ota-update[testing]"')


def test_a_signing_profile_cloudformation_cannot_create_is_not_brought_up(report: Report) -> None:
    assert report.not_brought_up == {
        "InAppSigner/Signer": "could not be created: An error occurred (ValidationError) when "
        "calling the CreateResource operation: PlatformId AmazonFreeRTOS-Default is not one of "
        "AWSLambda-SHA384-ECDSA, Notation-OCI-SHA384-ECDSA (AWS::Signer::SigningProfile)"
    }
