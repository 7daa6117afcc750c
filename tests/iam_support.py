"""Fleets of OtaUpdates shaped like a firmware team's, and IAM judged on their templates.

Templates are resolved the way CloudFormation would resolve them, with two environments:
``LONGEST`` (every value at the longest it can be: IAM's size limits must hold) and ``REAL`` (one
plausible account: the grants must allow what each OTA update's service does).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_signer as signer

from cdk_ota_update import CodeSigning, FileLocation, OtaTarget, OtaUpdate, OtaUpdateFile, api

# IAM's quotas (characters without white space).
ROLE_INLINE_LIMIT = 10_240
MANAGED_POLICY_LIMIT = 6_144
MANAGED_POLICIES_PER_ROLE = 10


def fleet(
    ota_stack: cdk.Stack,
    n: int,
    *,
    store: cdk.Stack | None = None,
    group_per_update: bool = True,
    per_release_keys: bool = True,
    signing: bool = True,
    role: iam.IRole | None = None,
    create_groups: bool = False,
    longest_ids: bool = False,
) -> list[OtaUpdate]:
    """``n`` OtaUpdates: firmware bucket and Signer profiles (one per ten) in ``store`` (default:
    the same stack), keys ``releases/1.<i>.0/fw.bin`` or ``fw-<i>.bin``, thing groups by name
    (``fleet-<i>``) or, with ``create_groups``, created in ``store`` (a stack holds at most 500
    resources: 400 OtaUpdates leave no room for their groups); with ``longest_ids``, each
    ``ota_update_id`` given at its longest (56 characters), as IAM's budget counts a derived one."""
    store = store or ota_stack
    bucket = s3.Bucket(
        store,
        "Firmware",
        enforce_ssl=True,
        versioned=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
    )
    groups: dict[int, str] = {}
    profiles: dict[int, signer.ISigningProfile] = {}
    updates = []
    for i in range(n):
        g = i if group_per_update else 0
        if g not in groups:
            groups[g] = (
                iot.CfnThingGroup(store, f"Group{g}", thing_group_name=f"fleet-{g}").ref
                if create_groups
                else f"fleet-{g}"
            )
        key = f"releases/1.{i}.0/fw.bin" if per_release_keys else f"fw-{i}.bin"
        code_signing = None
        if signing:
            if i // 10 not in profiles:
                profiles[i // 10] = signer.SigningProfile.from_signing_profile_attributes(
                    store,
                    f"Signer{i // 10}",
                    signing_profile_name=f"fleetSigner{i // 10}",
                    signing_profile_version="h3Lq8ZrT1c",
                )
            code_signing = CodeSigning.from_signing_profile(
                profiles[i // 10], destination=bucket, prefix=f"signed/1.{i}.0/"
            )
        updates.append(
            OtaUpdate(
                ota_stack,
                f"Release{i}",
                targets=[OtaTarget.thing_group(groups[g])],
                files=[
                    OtaUpdateFile(
                        file_name="fw.bin",
                        file_location=FileLocation.from_bucket(bucket, key),
                        code_signing=code_signing,
                    )
                ],
                role=role,
                ota_update_id=f"r{i:0{api.OTA_UPDATE_ID_MAX_LENGTH - 1}d}" if longest_ids else None,
            )
        )
    return updates


@dataclass(frozen=True)
class Env:
    """Values of pseudo parameters and of references, by resource type."""

    partition: str
    region: str
    account: str
    longest: bool

    def name(self, logical_id: str, length: int) -> str:
        if self.longest:
            return (logical_id.lower() * length)[:length]
        return logical_id.lower()[:length]

    def stack_id(self) -> str:
        """AWS::StackId: a stack name is at most 128 characters, then a UUID."""
        name = self.name("stack", 128)
        return self.arn("cloudformation", f"stack/{name}/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f")

    def ref(self, logical_id: str, resource_type: str) -> str:
        lengths = {"AWS::S3::Bucket": 63, "AWS::IoT::ThingGroup": 128, "AWS::IAM::Role": 64}
        if resource_type == "AWS::IAM::ManagedPolicy":
            return self.arn("iam", f"policy/{self.name(logical_id, 128)}", region="")
        return self.name(logical_id, lengths.get(resource_type, 64))

    def arn(self, service: str, resource: str, *, region: str | None = None) -> str:
        region = self.region if region is None else region
        return f"arn:{self.partition}:{service}:{region}:{self.account}:{resource}"

    def get_att(self, logical_id: str, resource_type: str, attribute: str) -> str:
        if resource_type == "AWS::IAM::Role" and attribute == "Arn":
            return self.arn("iam", f"role/{self.ref(logical_id, resource_type)}", region="")
        if resource_type == "AWS::Lambda::Function" and attribute == "Arn":
            return self.arn("lambda", f"function:{self.name(logical_id, 64)}")
        if resource_type == "AWS::Signer::SigningProfile" and attribute == "ProfileName":
            return self.name(logical_id, 64)
        if resource_type == "AWS::Logs::LogGroup" and attribute == "Arn":
            return self.arn("logs", f"log-group:{self.name(logical_id, 512)}:*")
        if resource_type == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:{self.partition}:s3:::{self.ref(logical_id, resource_type)}"
        raise AssertionError(f"no value for {logical_id}.{attribute} ({resource_type})")


LONGEST = Env("aws-us-gov", "us-isof-south-1", "123456789012", longest=True)
REAL = Env("aws", "eu-west-1", "123456789012", longest=False)


class Resolver:
    """Resolve CloudFormation intrinsics of templates (exports across the given stacks)."""

    def __init__(self, templates: Mapping[str, Mapping[str, Any]], env: Env) -> None:
        self.env = env
        self.types = {
            lid: r["Type"] for t in templates.values() for lid, r in t["Resources"].items()
        }
        self.exports: dict[str, Any] = {}
        for t in templates.values():
            for output in t.get("Outputs", {}).values():
                if "Export" in output:
                    self.exports[output["Export"]["Name"]] = output["Value"]

    def __call__(self, value: Any) -> Any:
        env = self.env
        if isinstance(value, list):
            return [self(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            pseudo = {
                "AWS::Partition": env.partition,
                "AWS::Region": env.region,
                "AWS::AccountId": env.account,
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::StackId": env.stack_id(),
            }
            ref = value["Ref"]
            return pseudo.get(ref) or env.ref(ref, self.types[ref])
        if "Fn::GetAtt" in value:
            lid, attribute = value["Fn::GetAtt"]
            return env.get_att(lid, self.types[lid], attribute)
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(self(p)) for p in parts)
        if "Fn::Sub" in value:
            text = value["Fn::Sub"]
            for name, real in (("Partition", env.partition), ("Region", env.region)):
                text = text.replace(f"${{AWS::{name}}}", real)
            return text.replace("${AWS::AccountId}", env.account)
        if "Fn::ImportValue" in value:
            return self(self.exports[value["Fn::ImportValue"]])
        return {k: self(v) for k, v in value.items()}


@dataclass
class RolePolicies:
    inline: list[dict[str, Any]]
    managed: list[dict[str, Any]]

    def statements(self) -> Iterator[dict[str, Any]]:
        for document in (*self.inline, *self.managed):
            yield from document["Statement"]


def policies_by_role(
    templates: Mapping[str, Mapping[str, Any]], resolve: Resolver
) -> dict[str, RolePolicies]:
    """Each role's resolved inline and managed policy documents (by the role's name)."""
    roles: dict[str, RolePolicies] = {}
    for template in templates.values():
        for resource in template["Resources"].values():
            kind = resource["Type"]
            if kind not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                continue
            document = resolve(resource["Properties"]["PolicyDocument"])
            for role in resolve(resource["Properties"].get("Roles", [])):
                entry = roles.setdefault(role, RolePolicies([], []))
                (entry.inline if kind == "AWS::IAM::Policy" else entry.managed).append(document)
    return roles


def size(document: Mapping[str, Any]) -> int:
    return len(json.dumps(document, separators=(",", ":")))


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    for statement in statements:
        actions = statement["Action"]
        actions = actions if isinstance(actions, list) else [actions]
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        if (
            statement["Effect"] == "Allow"
            and action in actions
            and any(fnmatch.fnmatchcase(resource, pattern) for pattern in resources)
        ):
            return True
    return False


def needed(request: Mapping[str, Any], env: Env) -> Iterator[tuple[str, str]]:
    """What the OTA update service does with the role for one resolved ``request``."""
    job = env.arn("iot", f"job/AFR_OTA-{request['otaUpdateId']}")
    yield "iot:CreateJob", job
    yield "iot:DescribeJob", job
    for target in request["targets"]:
        yield "iot:CreateJob", target
    yield "iam:PassRole", request["roleArn"]
    yield "iam:GetRole", request["roleArn"]
    for file in request["files"]:
        location = file["fileLocation"]["s3Location"]
        obj = f"arn:{env.partition}:s3:::{location['bucket']}/{location['key']}"
        yield "s3:GetObject", obj
        yield "s3:GetObjectVersion", obj
        yield "s3:GetBucketLocation", f"arn:{env.partition}:s3:::{location['bucket']}"
        yield "s3:ListBucketVersions", f"arn:{env.partition}:s3:::{location['bucket']}"
        yield "iot:CreateStream", env.arn("iot", "stream/AFR_OTA-1234")
        job_parameter = (file.get("codeSigning") or {}).get("startSigningJobParameter")
        if job_parameter:
            profile = job_parameter["signingProfileName"]
            yield "signer:StartSigningJob", env.arn("signer", f"/signing-profiles/{profile}")
            destination = job_parameter["destination"]["s3Destination"]
            signed = f"{destination['bucket']}/{destination.get('prefix', '')}fw-signed.bin"
            yield "s3:PutObject", f"arn:{env.partition}:s3:::{signed}"
            yield "s3:GetObject", f"arn:{env.partition}:s3:::{signed}"
