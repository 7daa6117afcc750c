"""IAM at fleet scale: 400 varied OtaUpdates per stack, a role of the app, cross-stack references.

The big apps are synthesized once per module (fixtures) and judged from their templates with
every value at its longest (IAM's limits) and with plausible values (what each update needs).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks
from cdk_support import firmware, isolated_vpc, ota
from iam_support import (
    LONGEST,
    MANAGED_POLICIES_PER_ROLE,
    MANAGED_POLICY_LIMIT,
    REAL,
    ROLE_INLINE_LIMIT,
    Resolver,
    allows,
    fleet,
    needed,
    policies_by_role,
    size,
)

from cdk_ota_update import (
    CodeSigning,
    FileLocation,
    OtaTarget,
    OtaUpdate,
    OtaUpdateFile,
    OtaUpdateProvider,
    OtaUpdateServiceRole,
)
from cdk_ota_update.policy import Grant, Resource, ScopedPolicy

LIBRARY = ("OtaUpdateServiceRole", "OtaUpdateProvider", "OtaUpdateRoleGrants", "Release")


@dataclass
class Synthesized:
    app: cdk.App
    stacks: list[cdk.Stack]
    outdir: Path
    templates: dict[str, dict[str, Any]]

    def nag_violations(self) -> list[str]:
        """cdk-nag's AwsSolutions findings on the library's constructs (not the app's)."""
        found = []
        for stack in self.stacks:
            for violation in AwsSolutionsChecks().validate_scope(stack).violations:
                for where in violation.violating_resources:
                    if any(f"/{name}" in str(where.construct_path) for name in LIBRARY):
                        found.append(f"{where.construct_path}: {violation.rule_name}")
        return found

    def requests(self, env: Any) -> Iterator[dict[str, Any]]:
        resolve = Resolver(self.templates, env)
        for template in self.templates.values():
            for resource in template["Resources"].values():
                if resource["Type"] == "Custom::OtaUpdate":
                    yield resolve(resource["Properties"])


def synthesize(app: cdk.App, stacks: list[cdk.Stack], outdir: Path) -> Synthesized:
    app.synth()
    templates = {
        s.stack_name: json.loads((outdir / f"{s.stack_name}.template.json").read_text())
        for s in stacks
    }
    return Synthesized(app, stacks, outdir, templates)


def _app(outdir: Path) -> cdk.App:
    return cdk.App(outdir=str(outdir))


@pytest.fixture(scope="module")
def default_role(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """400 OtaUpdates, each its own thing group and release folder; a profile per ten."""
    outdir = tmp_path_factory.mktemp("default")
    app = _app(outdir)
    stack = cdk.Stack(app, "Fleet")
    fleet(stack, 400)
    return synthesize(app, [stack], outdir)


@pytest.fixture(scope="module")
def own_role(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The same fleet with a role of the app's."""
    outdir = tmp_path_factory.mktemp("own")
    app = _app(outdir)
    stack = cdk.Stack(app, "Fleet")
    role = iam.Role(stack, "TeamRole", assumed_by=iam.ServicePrincipal("iot.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["iot:DescribeThing"], resources=["*"]))
    fleet(stack, 400, role=role)
    return synthesize(app, [stack], outdir)


@pytest.fixture(scope="module")
def two_stacks(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Buckets, profiles and thing groups in one stack; the OtaUpdates in another."""
    outdir = tmp_path_factory.mktemp("two")
    app = _app(outdir)
    store = cdk.Stack(app, "Store")
    releases = cdk.Stack(app, "Releases")
    fleet(releases, 60, store=store, create_groups=True)
    return synthesize(app, [store, releases], outdir)


BIG = ["default_role", "own_role"]


@pytest.mark.parametrize("app", BIG)
def test_every_roles_policies_fit_iam_with_every_value_at_its_longest(
    app: str, request: pytest.FixtureRequest
) -> None:
    synthesized: Synthesized = request.getfixturevalue(app)
    roles = policies_by_role(synthesized.templates, Resolver(synthesized.templates, LONGEST))
    assert len(roles) == 2  # the provider's and the service role
    for name, policies in roles.items():
        assert sum(size(d) for d in policies.inline) <= ROLE_INLINE_LIMIT, name
        assert all(size(d) <= MANAGED_POLICY_LIMIT for d in policies.managed), name
        assert len(policies.managed) <= MANAGED_POLICIES_PER_ROLE, name


@pytest.mark.parametrize("app", [*BIG, "two_stacks"])
def test_each_update_is_still_allowed_its_job_targets_object_and_profile(
    app: str, request: pytest.FixtureRequest
) -> None:
    synthesized: Synthesized = request.getfixturevalue(app)
    roles = policies_by_role(synthesized.templates, Resolver(synthesized.templates, REAL))
    requests = list(synthesized.requests(REAL))
    assert len(requests) in (400, 60)
    for ota_request in requests:
        role_name = ota_request["roleArn"].rsplit("/", 1)[1]
        statements = list(roles[role_name].statements())
        missing = [
            (action, arn)
            for action, arn in needed(ota_request, REAL)
            if not allows(statements, action, arn)
        ]
        assert missing == [], ota_request["otaUpdateId"]


@pytest.mark.parametrize("app", BIG)
def test_no_object_read_job_creation_or_pass_role_on_everything(
    app: str, request: pytest.FixtureRequest
) -> None:
    synthesized: Synthesized = request.getfixturevalue(app)
    roles = policies_by_role(synthesized.templates, Resolver(synthesized.templates, REAL))
    for policies in roles.values():
        for action in ("s3:GetObject", "iot:CreateJob", "iam:PassRole"):
            assert not allows(list(policies.statements()), action, "arn:aws:s3:::other/x")
            assert not allows(list(policies.statements()), action, "*")
            assert not allows(
                list(policies.statements()), action, "arn:aws:iot:eu-west-1:999999999999:job/x"
            )


def test_grouping_is_announced_once_with_what_was_grouped(default_role: Synthesized) -> None:
    (stack,) = default_role.stacks
    warnings = Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("resources are grouped")
    )
    # One warning per policy: the service role's and the provider's.
    assert sorted(w.id for w in warnings) == [
        "/Fleet/OtaUpdateProvider/Policy",
        "/Fleet/OtaUpdateServiceRole/Policy",
    ]
    text = {w.id: str(w.entry.data) for w in warnings}
    service_role = text["/Fleet/OtaUpdateServiceRole/Policy"]
    # One folder per release: grouped one level above (releases/*, signed/*).
    assert "800 S3 objects -> 1 folder(s) above their folder" in service_role
    assert "400 targets -> thing/* and thinggroup/*" in service_role
    assert "400 jobs -> job/AFR_OTA-*" in service_role
    assert "streams" not in service_role  # nothing of that kind to group


def test_a_role_of_the_app_keeps_its_own_statements_and_gets_the_shared_roles(
    own_role: Synthesized,
) -> None:
    (template,) = own_role.templates.values()
    (role_id,) = [k for k in template["Resources"] if k.startswith("TeamRole")][:1]
    inline = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and r["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    statements = [s for r in inline for s in r["Properties"]["PolicyDocument"]["Statement"]]
    assert [s["Action"] for s in statements] == ["iot:DescribeThing"]
    managed = {
        k
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::ManagedPolicy" and r["Properties"]["Roles"] == [{"Ref": role_id}]
    }
    assert managed
    for resource in template["Resources"].values():
        if resource["Type"] == "Custom::OtaUpdate":
            # Created after, deleted before every policy of the role.
            assert managed | {role_id} <= set(resource["DependsOn"])


@pytest.mark.parametrize("app", [*BIG, "two_stacks"])
def test_cdk_nag_passes_on_the_librarys_resources(app: str, request: pytest.FixtureRequest) -> None:
    synthesized: Synthesized = request.getfixturevalue(app)
    assert synthesized.nag_violations() == []


def test_cfn_lint_passes_on_the_400_update_stack(default_role: Synthesized) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cfnlint",
            "--format",
            "parseable",
            str(default_role.outdir / "Fleet.template.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert [line for line in result.stdout.splitlines() if ":E" in line] == []
    assert result.returncode & 2 == 0, result.stdout + result.stderr


def test_cross_stack_references_are_acknowledged_as_cdk_nag_renders_them(
    two_stacks: Synthesized,
) -> None:
    releases = two_stacks.templates["Releases"]
    text = json.dumps(releases)
    assert "Fn::ImportValue" in text  # the bucket, the groups and profiles are imported


def test_parameters_and_names_imported_from_outside_are_clean_under_cdk_nag(
    tmp_path: Path,
) -> None:
    app = _app(tmp_path)
    stack = cdk.Stack(app, "Params")
    bucket_name = cdk.CfnParameter(stack, "BucketName")
    key = cdk.CfnParameter(stack, "Key")
    group = cdk.CfnParameter(stack, "Group")
    by_name = s3.Bucket.from_bucket_name(stack, "Named", "named-firmware")
    role = iam.Role.from_role_name(stack, "Imported", "ota-service-role")
    for index, (bucket, location, own_role) in enumerate(
        [
            (
                s3.Bucket.from_bucket_name(stack, "Param", bucket_name.value_as_string),
                key.value_as_string,
                None,
            ),
            (by_name, "releases/2.0.0/fw.bin", role),
        ]
    ):
        ota(
            stack,
            f"Release{index}",
            targets=[OtaTarget.thing_group(group.value_as_string)],
            files=[OtaUpdateFile(file_location=FileLocation.from_bucket(bucket, location))],
            role=own_role,
        )
    synthesized = synthesize(app, [stack], tmp_path)
    assert synthesized.nag_violations() == []
    template = synthesized.templates["Params"]
    assert any(
        r["Type"] == "AWS::IAM::ManagedPolicy" and r["Properties"]["Roles"] == ["ota-service-role"]
        for r in template["Resources"].values()
    )


def test_an_immutable_role_gets_nothing_and_a_warning_listing_what_to_grant() -> None:
    stack = cdk.Stack(cdk.App(), "Immutable")
    role = iam.Role.from_role_arn(
        stack, "Fixed", "arn:aws:iam::123456789012:role/fixed", mutable=False
    )
    ota(stack, role=role)
    template = Template.from_stack(stack)
    assert not template.find_resources("AWS::IAM::ManagedPolicy")
    (warning,) = Annotations.from_stack(stack).find_warning(
        "/Immutable/Ota", Match.string_like_regexp("imported as immutable")
    )
    text = str(warning.entry.data)
    for expected in ("iot:CreateJob", "s3:GetObject", "iam:PassRole", "role/fixed", "AFR_OTA-"):
        assert expected in text


def test_aws_managed_policy_is_opt_in_and_acknowledged(tmp_path: Path) -> None:
    app = _app(tmp_path)
    stack = cdk.Stack(app, "Managed")
    ota(stack)
    plain = Template.from_stack(stack).find_resources("AWS::IAM::Role")
    assert "AmazonFreeRTOSOTAUpdate" not in json.dumps(plain)

    app = _app(tmp_path / "opt-in")
    stack = cdk.Stack(app, "Managed")
    ota(stack)
    OtaUpdateServiceRole.of(stack).attach_aws_managed_policy()
    synthesized = synthesize(app, [stack], tmp_path / "opt-in")
    roles = synthesized.templates["Managed"]["Resources"]
    arns = [
        r["Properties"].get("ManagedPolicyArns")
        for r in roles.values()
        if r["Type"] == "AWS::IAM::Role"
    ]
    assert "service-role/AmazonFreeRTOSOTAUpdate" in json.dumps(arns)
    assert synthesized.nag_violations() == []


def test_a_configured_provider_passes_cdk_nag_with_its_vpc_policy_acknowledged(
    tmp_path: Path,
) -> None:
    app = _app(tmp_path)
    stack = cdk.Stack(app, "Configured")
    vpc = isolated_vpc(stack)
    OtaUpdateProvider.configure(
        stack,
        vpc=vpc,
        environment_encryption=kms.Key(stack, "Key", enable_key_rotation=True),
        permissions_boundary=iam.ManagedPolicy.from_managed_policy_name(stack, "Boundary", "b"),
    )
    ota(stack)
    synthesized = synthesize(app, [stack], tmp_path)
    assert synthesized.nag_violations() == []
    acknowledged = [
        entry.data
        for entry in stack.node.find_child("OtaUpdateProvider")
        .node.find_child("Role")
        .node.default_child.node.metadata  # type: ignore[union-attr]
        if entry.type == "aws:cdk:acknowledged-rules"
    ]
    assert "AWSLambdaVPCAccessExecutionRole" in json.dumps(acknowledged)


def _policy_stack(resources: int, length: int) -> tuple[cdk.Stack, ScopedPolicy]:
    stack = cdk.Stack(cdk.App(), "Policies")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("iot.amazonaws.com"))
    policy = ScopedPolicy(stack, "Policy", role=role)
    policy.add(
        [
            Grant(
                ("s3:ListBucket",),
                tuple(Resource.fixed(f"arn:aws:s3:::{i:0{length}d}") for i in range(resources)),
            )
        ]
    )
    return stack, policy


def test_what_cannot_be_grouped_spills_into_managed_policies_of_the_same_role() -> None:
    stack, _ = _policy_stack(300, 60)  # 300 buckets: ~22,000 characters
    template = Template.from_stack(stack)
    inline = template.find_resources("AWS::IAM::Policy")
    managed = template.find_resources("AWS::IAM::ManagedPolicy")
    assert len(inline) == 1 and 2 <= len(managed) <= 3
    listed = [
        arn
        for r in (*inline.values(), *managed.values())
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        for arn in s["Resource"]
    ]
    assert listed == [f"arn:aws:s3:::{i:060d}" for i in range(300)]
    (role,) = [r["Properties"]["Roles"] for r in inline.values()]
    for r in managed.values():
        assert r["Properties"]["Roles"] == role
        assert size(r["Properties"]["PolicyDocument"]) <= MANAGED_POLICY_LIMIT
    Annotations.from_stack(stack).has_warning(
        "/Policies/Policy", Match.string_like_regexp("spilled into [23] managed policies")
    )


def test_a_policy_too_big_even_spilled_fails_synth_saying_so() -> None:
    stack, _ = _policy_stack(1200, 60)  # ~ 86,000 characters: more than 9,216 + 10 x 6,144
    with pytest.raises(RuntimeError, match=r"Policies/Policy.*split the OtaUpdates across stacks"):
        Template.from_stack(stack)


def test_every_library_policy_is_planned_whichever_the_stack_made_first(tmp_path: Path) -> None:
    """One aspect per stack plans all of the library's policies, on whichever of them came first:
    here the shared service role's (made before any OtaUpdate), then the provider's and the one
    for a role of the app. Each role gets its statements, and cdk-nag sees them all."""
    app = _app(tmp_path)
    stack = cdk.Stack(app, "Order")
    OtaUpdateServiceRole.of(stack).attach_aws_managed_policy()
    team = iam.Role(stack, "TeamRole", assumed_by=iam.ServicePrincipal("iot.amazonaws.com"))
    ota(stack, "Shared")
    ota(stack, "Own", role=team, files=[firmware(stack, "fw/v2/firmware.bin")])
    synthesized = synthesize(app, [stack], tmp_path)
    by_role = policies_by_role(synthesized.templates, Resolver(synthesized.templates, REAL))
    (shared,) = [name for name in by_role if name.startswith("otaupdateservicerole")]
    (provider,) = [name for name in by_role if name.startswith("otaupdateproviderrole")]
    (own,) = [name for name in by_role if name.startswith("teamrole")]

    def statements(role: str) -> list[dict[str, Any]]:
        documents = by_role[role].inline + by_role[role].managed
        return [s for d in documents for s in d["Statement"]]

    object_arn = "arn:aws:s3:::firmware-bucket/fw/{}/firmware.bin"
    assert allows(statements(shared), "s3:GetObject", object_arn.format("v1"))
    assert allows(statements(own), "s3:GetObject", object_arn.format("v2"))
    assert not allows(statements(own), "s3:GetObject", object_arn.format("v1"))
    assert allows(
        statements(provider), "iot:GetOTAUpdate", "arn:aws:iot:eu-west-1:123456789012:otaupdate/x"
    )
    assert synthesized.nag_violations() == []


def test_ota_updates_sharing_one_firmware_asset_are_granted_its_object_once(
    tmp_path: Path,
) -> None:
    """The same image to 400 thing groups: each OtaUpdate makes an asset of its own (a token of
    its own for the one bootstrap bucket), and the grants still name the object once."""
    image = tmp_path / "fw.bin"
    image.write_bytes(b"firmware 4.0.0")
    outdir = tmp_path / "cdk.out"
    app = _app(outdir)
    stack = cdk.Stack(app, "Fleet")
    for i in range(400):
        file = OtaUpdateFile(
            file_name="fw.bin",
            file_location=FileLocation.from_asset(str(image)),
            code_signing=CodeSigning(aws_signer_job_id="signer-job-1"),
        )
        OtaUpdate(stack, f"Release{i}", targets=[OtaTarget.thing_group(f"fleet-{i}")], files=[file])

    synthesized = synthesize(app, [stack], outdir)  # refused at 190 when each asset counted

    roles = policies_by_role(synthesized.templates, Resolver(synthesized.templates, REAL))
    assert len(roles) == 2  # the provider's and the service role: each reads the object
    for name, policies in roles.items():
        listed = [
            arn for statement in policies.statements() for arn in _as_list(statement["Resource"])
        ]
        objects = [arn for arn in listed if arn.startswith("arn:aws:s3:::cdk-") and "/" in arn]
        assert len(objects) == 1, (name, objects)
        for statement in policies.statements():
            resources = _as_list(statement["Resource"])
            assert len(resources) == len(set(resources)), (name, statement)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_only_the_librarys_own_aws_managed_policy_is_acknowledged(tmp_path: Path) -> None:
    """A managed policy the app attaches to the same role keeps its AwsSolutions-IAM4 finding."""
    app = _app(tmp_path)
    stack = cdk.Stack(app, "Managed")
    ota(stack)
    service = OtaUpdateServiceRole.of(stack)
    service.attach_aws_managed_policy()
    service.role.add_managed_policy(
        iam.ManagedPolicy.from_aws_managed_policy_name("ReadOnlyAccess")
    )

    synthesized = synthesize(app, [stack], tmp_path)

    findings = synthesized.nag_violations()
    assert len(findings) == 1 and findings[0].endswith(
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/ReadOnlyAccess]"
    ), findings
