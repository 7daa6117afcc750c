"""Bringing up in the emulation what the stacks declare, as ``cdk deploy`` would.

For each stack, in dependency order: its file assets are published where the asset manifest puts
them; then the resources the OTA updates can refer to are made, their properties resolved for the
account and Region: ``AWS::S3::Bucket``, ``AWS::IAM::Role`` (with ``Policies`` and
``ManagedPolicyArns``), ``AWS::IAM::Policy``, ``AWS::IAM::RolePolicy``, ``AWS::IAM::ManagedPolicy``
(attached to its ``Roles``), ``AWS::IoT::ThingGroup``, ``AWS::IoT::Thing``,
``AWS::Signer::SigningProfile``, ``Custom::CDKBucketDeployment`` (the files of its source assets
copied under its destination) and ``AWS::Lambda::Function`` (recorded: the handler runs from its
asset). Names CloudFormation would generate are derived from the stack and logical id. Other
resource types are not brought up; a reference to one is reported by name. What was brought up
is recorded (:attr:`Deployment.made`), for the cleanup after an update (:mod:`.cleanup`). A
resource the previous assembly brought up (``--from``) is taken over, as CloudFormation keeps it:
a named thing group, role or bucket is not created a second time.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import uuid
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from cdk_ota_update import api

from .assembly import FileAsset, RehearsalError, Stack
from .emulation import Emulation, load_aws_managed_policy
from .intrinsics import Scope, Unresolved, resolve

Resource = Mapping[str, Any]
PLACEHOLDER_BODY = b"(an object given with --exists: its content is not known to the rehearsal)"
SIGNING_PLATFORM = "AmazonFreeRTOS-Default"
EXISTS_KINDS = ("thinggroup/", "thing/", "signing-profile/", "s3://")
MAX_DEVICES = 1000  # the simulated devices one --exists thinggroup/NAME=N may put in its group
EXISTS_FORMS = (
    f"thinggroup/NAME[=N] (with N devices, at most {MAX_DEVICES}), thing/NAME, "
    "signing-profile/NAME[=PLATFORM], s3://BUCKET or s3://BUCKET/KEY (made in every account and "
    "Region the stacks deploy to), or the ARN of a thing group, thing or signing profile (made "
    "in its own)"
)


def parse_exists(name: str) -> tuple[str, tuple[str, str] | None]:
    """What ``--exists NAME`` names (``thinggroup/x``...) and, for an ARN, its account, Region
    (a signing profile's ``=PLATFORM`` and a thing group's ``=N``, see :func:`signing_platform`
    and :func:`devices`, left out)."""
    where: tuple[str, str] | None = None
    resource, option = _split_option(name)
    if resource.startswith("arn:"):
        parts = resource.split(":", 5)
        if len(parts) == 6 and parts[2] == "iot" and parts[5].startswith(("thinggroup/", "thing/")):
            resource, where = parts[5], (parts[4], parts[3])
        elif len(parts) == 6 and parts[2] == "signer" and parts[5].startswith("/signing-profiles/"):
            resource, where = f"signing-profile/{parts[5].split('/')[2]}", (parts[4], parts[3])
        else:
            resource = ""
    if not resource.startswith(EXISTS_KINDS) or (where is not None and not all(where)):
        raise RehearsalError(f"--exists {name!r}: expected {EXISTS_FORMS}")
    if option is not None and resource.startswith("thinggroup/"):
        devices(name)  # a bad N is refused before anything is made
    elif option is not None and not resource.startswith("signing-profile/"):
        raise RehearsalError(
            f"--exists {name!r}: only a thing group (=N devices) or a signing profile "
            f"(=PLATFORM) takes '='; expected {EXISTS_FORMS}"
        )
    return resource, where


def _split_option(name: str) -> tuple[str, str | None]:
    """``--exists``'s resource and what follows its ``=`` (None without one). IoT's and Signer's
    names and ARNs have no ``=``; an S3 key may, and takes no option."""
    if name.startswith("s3://"):
        return name, None
    resource, equals, option = name.partition("=")
    return resource, option if equals else None


def signing_platform(name: str) -> str:
    """The platform of the signing profile ``--exists signing-profile/NAME=PLATFORM`` (or its
    ARN form) names; :data:`SIGNING_PLATFORM` when none is given."""
    return _split_option(name)[1] or SIGNING_PLATFORM


def devices(name: str) -> int:
    """How many simulated devices ``--exists thinggroup/NAME=N`` (or its ARN form) puts in the
    thing group: N, from 1 to :data:`MAX_DEVICES`; 0 without ``=N``. CloudFormation cannot put a
    thing in a thing group, so a group of the stacks or of ``--exists`` has no other."""
    option = _split_option(name)[1]
    if option is None:
        return 0
    if not option.isdecimal() or not 1 <= int(option) <= MAX_DEVICES:
        raise RehearsalError(
            f"--exists {name!r}: {option!r} is not a number of devices: expected "
            f"thinggroup/NAME=N with N from 1 to {MAX_DEVICES}, the devices the thing group has"
        )
    return int(option)


def device_names(group: str, count: int) -> list[str]:
    """The things ``--exists thinggroup/GROUP=COUNT`` makes: ``GROUP-1`` to ``GROUP-COUNT``."""
    return [f"{group[:120]}-{index}" for index in range(1, count + 1)]


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


def physical_name(
    stack: str, logical_id: str, limit: int, *, lower: bool = False, separator: str = "-"
) -> str:
    """A name as CloudFormation generates one: stack and logical id, then a (stable) suffix."""
    digest = hashlib.sha256(f"{stack}/{logical_id}".encode()).hexdigest()[:12].upper()
    base = re.sub(r"[^A-Za-z0-9]", separator, stack) + separator + logical_id
    name = f"{base[: limit - 13]}{separator}{digest}"
    return name.lower() if lower else name


@dataclass
class Function:
    """A Lambda function of the assembly: where its code is, what it is given."""

    stack: Stack
    logical_id: str
    name: str
    arn: str
    properties: Mapping[str, Any]

    @property
    def timeout(self) -> float:
        return float(self.properties.get("Timeout", 3))

    def asset(self) -> FileAsset | None:
        key = (self.properties.get("Code") or {}).get("S3Key")
        return self.stack.asset_source(str(key)) if key else None


@dataclass
class Environment:
    """One stack's deployment target and the scope its references resolve in."""

    stack: Stack
    account: str
    region: str
    scope: Scope

    @property
    def partition(self) -> str:
        return partition_of(self.region)

    def key(self, logical_id: str) -> str:
        """Where CloudFormation knows a resource: account, Region, stack name, logical id."""
        return f"{self.account}/{self.region}/{self.stack.name}/{logical_id}"


@dataclass(frozen=True)
class Made:
    """A resource brought up: where, its template entry and its ``Ref``."""

    environment: Environment
    logical_id: str
    resource: Resource
    ref: Any

    @property
    def path(self) -> str:
        return f"{self.environment.stack.name}/{self.logical_id}"

    @property
    def type(self) -> str:
        return str(self.resource["Type"])

    def retained(self, replaced: bool) -> bool:
        """Whether CloudFormation keeps it once removed (or ``replaced``), by its policy."""
        policy = self.resource.get("UpdateReplacePolicy" if replaced else "DeletionPolicy")
        return policy in ("Retain", "RetainExceptOnCreate")


@dataclass
class Deployment:
    """What the rehearsal brought up, across the stacks."""

    emulation: Emulation
    account: str
    region: str
    environments: dict[str, Environment] = field(default_factory=dict)  # by artifact id
    functions: dict[str, Function] = field(default_factory=dict)  # by ARN
    declared: set[str] = field(default_factory=set)  # "thinggroup/x", "s3://b/k", ...
    given: set[str] = field(default_factory=set)
    skipped: dict[str, str] = field(default_factory=dict)  # "Stack/Logical" -> why
    made: dict[str, Made] = field(default_factory=dict)  # by Environment.key, in creation order
    buckets: dict[tuple[str, str], Made] = field(default_factory=dict)  # by account and name
    _exports: dict[str, tuple[Environment, Any]] = field(default_factory=dict)

    # -- stacks -------------------------------------------------------------------------------
    def environment(self, stack: Stack) -> Environment:
        if stack.artifact_id not in self.environments:
            account, region = stack.account or self.account, stack.region or self.region
            partition = partition_of(region)
            stack_id = (
                f"arn:{partition}:cloudformation:{region}:{account}:stack/{stack.name}/"
                f"{uuid.uuid5(uuid.NAMESPACE_URL, stack.artifact_id)}"
            )
            pseudo: dict[str, Any] = {
                "AWS::AccountId": account,
                "AWS::Region": region,
                "AWS::Partition": partition,
                "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
                "AWS::StackName": stack.name,
                "AWS::StackId": stack_id,
                "AWS::NotificationARNs": [],
            }
            scope = Scope(stack.name, pseudo, stack.template, exports=self._export)
            self.environments[stack.artifact_id] = Environment(stack, account, region, scope)
        return self.environments[stack.artifact_id]

    def _export(self, name: str) -> Any:
        for environment in self.environments.values():
            for output in (environment.stack.template.get("Outputs") or {}).values():
                export = output.get("Export")
                if export and resolve(export["Name"], environment.scope) == name:
                    return resolve(output["Value"], environment.scope)
        raise Unresolved(f"the export {name} (no stack rehearsed before exports it)")

    def client(self, service: str, environment: Environment) -> Any:
        return self.emulation.client(service, environment.account, environment.region)

    def bring_up(self, stack: Stack) -> None:
        environment = self.environment(stack)
        for asset in stack.assets:
            self._publish(asset, environment)
        pending = {}
        for logical_id, resource in stack.resources().items():
            if resource.get("Type") in _BRING_UP:
                pending[logical_id] = resource
            elif not str(resource.get("Type")).startswith("Custom::"):
                _stand_in(environment, logical_id, resource)
        while pending:
            progress = False
            for logical_id, resource in list(pending.items()):
                try:
                    if environment.scope.included(resource):
                        _BRING_UP[resource["Type"]](self, environment, logical_id, resource)
                        ref = environment.scope.refs[logical_id]
                        self._made(Made(environment, logical_id, resource, ref))
                except Unresolved as unresolved:
                    self.skipped[f"{stack.name}/{logical_id}"] = f"refers to {unresolved.what}"
                    continue
                except ClientError as error:  # as CloudFormation would fail to create it
                    self.skipped[f"{stack.name}/{logical_id}"] = f"could not be created: {error}"
                    del pending[logical_id]
                    continue
                self.skipped.pop(f"{stack.name}/{logical_id}", None)
                del pending[logical_id]
                progress = True
            if not progress:
                break

    def _made(self, made: Made) -> None:
        self.made[made.environment.key(made.logical_id)] = made
        if made.type == "AWS::S3::Bucket":
            self.buckets[(made.environment.account, made.ref)] = made

    # -- given on the command line ------------------------------------------------------------
    def give(self, name: str, places: Iterable[tuple[str, str]]) -> None:
        """Make what ``--exists NAME`` says exists: a name in each of ``places`` (the accounts and
        Regions the rehearsal deploys to: every stage of a pipeline refers to its own), an ARN in
        its own account and Region only."""
        resource, where = parse_exists(name)
        kind, _, value = resource.partition("/")
        for account, region in [where] if where else sorted(set(places)):
            if resource.startswith("s3://"):
                bucket, _, key = resource.removeprefix("s3://").partition("/")
                self._bucket(bucket, account, region)
                if key:
                    self.emulation.client("s3", account, region).put_object(
                        Bucket=bucket, Key=key, Body=PLACEHOLDER_BODY
                    )
            elif kind == "thinggroup":
                self._thing_group(value, devices(name), account, region)
            elif kind == "thing":
                iot = self.emulation.client("iot", account, region)
                with contextlib.suppress(iot.exceptions.ResourceAlreadyExistsException):
                    iot.create_thing(thingName=value)
            else:
                self.emulation.client("signer", account, region).put_signing_profile(
                    profileName=value, platformId=signing_platform(name)
                )
        self.given.add(resource)

    # -- helpers ------------------------------------------------------------------------------
    def _thing_group(self, name: str, count: int, account: str, region: str) -> None:
        """The thing group ``name`` with ``count`` things in it, the simulated devices."""
        iot = self.emulation.client("iot", account, region)
        with contextlib.suppress(iot.exceptions.ResourceAlreadyExistsException):
            iot.create_thing_group(thingGroupName=name)
        for thing in device_names(name, count):
            with contextlib.suppress(iot.exceptions.ResourceAlreadyExistsException):
                iot.create_thing(thingName=thing)
            iot.add_thing_to_thing_group(thingGroupName=name, thingName=thing)

    def _bucket(self, name: str, account: str, region: str) -> None:
        s3 = self.emulation.client("s3", account, region)
        options = (
            {}
            if region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=name, **options)

    def _publish(self, asset: FileAsset, environment: Environment) -> None:
        if not asset.source.exists():
            raise RehearsalError(f"the asset {asset.source} is missing from the assembly")
        if asset.packaging == "zip" and asset.source.is_dir():
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                for path in sorted(asset.source.rglob("*")):
                    if path.is_file():
                        archive.write(path, path.relative_to(asset.source).as_posix())
            body = buffer.getvalue()
        else:
            body = asset.source.read_bytes()
        for bucket, key in asset.destinations:
            bucket, key = (_placeholders(v, environment) for v in (bucket, key))
            self._bucket(bucket, environment.account, environment.region)
            self.client("s3", environment).put_object(Bucket=bucket, Key=key, Body=body)
            self.declared.add(f"s3://{bucket}/{key}")


def _stand_in(e: Environment, logical_id: str, resource: Resource) -> None:
    """A resource the rehearsal does not bring up: its ``Ref`` and ``Arn`` made up from its type,
    so that what refers to it (a log group, a key) can still be brought up."""
    name = physical_name(e.stack.name, logical_id, 64)
    service, kind = str(resource.get("Type")).lower().split("::")[1:3]
    e.scope.refs[logical_id] = name
    e.scope.attributes[(logical_id, "Arn")] = (
        f"arn:{e.partition}:{service}:{e.region}:{e.account}:{kind}/{name}"
    )


def _placeholders(text: str, environment: Environment) -> str:
    for name, value in (
        ("AWS::AccountId", environment.account),
        ("AWS::Region", environment.region),
        ("AWS::Partition", environment.partition),
    ):
        text = text.replace("${" + name + "}", value)
    return text


def _properties(environment: Environment, resource: Resource) -> dict[str, Any]:
    properties: dict[str, Any] = resolve(resource.get("Properties") or {}, environment.scope)
    return properties


def _document(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# -- resource types ------------------------------------------------------------------------------
def _s3_bucket(d: Deployment, e: Environment, logical_id: str, resource: Resource) -> None:
    p = _properties(e, resource)
    name = p.get("BucketName") or physical_name(e.stack.name, logical_id, 63, lower=True)
    d._bucket(name, e.account, e.region)
    if (p.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
        d.client("s3", e).put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": "Enabled"}
        )
    e.scope.refs[logical_id] = name
    arn = f"arn:{e.partition}:s3:::{name}"
    for attribute, value in (
        ("Arn", arn),
        ("DomainName", f"{name}.s3.amazonaws.com"),
        ("RegionalDomainName", f"{name}.s3.{e.region}.amazonaws.com"),
    ):
        e.scope.attributes[(logical_id, attribute)] = value
    d.declared.add(f"s3://{name}")


def _role(d: Deployment, e: Environment, logical_id: str, resource: Resource) -> None:
    p = _properties(e, resource)
    iam = d.client("iam", e)
    name = p.get("RoleName") or physical_name(e.stack.name, logical_id, 64)
    trust = _document(p["AssumeRolePolicyDocument"])
    options = {
        k: v
        for k, v in (
            ("Path", p.get("Path")),
            ("Description", p.get("Description")),
            ("PermissionsBoundary", p.get("PermissionsBoundary")),
        )
        if v
    }
    try:
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust, **options)["Role"]
    except iam.exceptions.EntityAlreadyExistsException:  # a second assembly (--from)
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
        role = iam.get_role(RoleName=name)["Role"]
    for policy in p.get("Policies") or []:
        iam.put_role_policy(
            RoleName=name,
            PolicyName=policy["PolicyName"],
            PolicyDocument=_document(policy["PolicyDocument"]),
        )
    for arn in p.get("ManagedPolicyArns") or []:
        _attach(d, e, name, arn)
    e.scope.refs[logical_id] = name
    e.scope.attributes[(logical_id, "Arn")] = role["Arn"]
    e.scope.attributes[(logical_id, "RoleId")] = role["RoleId"]
    d.declared.add(f"role/{name}")


def _attach(d: Deployment, e: Environment, role: str, arn: str) -> None:
    if arn.split(":")[4] == "aws" and not load_aws_managed_policy(e.account, arn):
        raise Unresolved(f"the AWS managed policy {arn} (unknown to moto)")
    d.client("iam", e).attach_role_policy(RoleName=role, PolicyArn=arn)


def _policy(d: Deployment, e: Environment, logical_id: str, resource: Resource) -> None:
    p = _properties(e, resource)
    roles = p.get("Roles") or ([p["RoleName"]] if "RoleName" in p else [])
    for role in roles:
        d.client("iam", e).put_role_policy(
            RoleName=role, PolicyName=p["PolicyName"], PolicyDocument=_document(p["PolicyDocument"])
        )
    e.scope.refs[logical_id] = physical_name(e.stack.name, logical_id, 128)


def _managed_policy(d: Deployment, e: Environment, logical_id: str, resource: Resource) -> None:
    p = _properties(e, resource)
    iam = d.client("iam", e)
    name = p.get("ManagedPolicyName") or physical_name(e.stack.name, logical_id, 128)
    path = p.get("Path") or "/"
    arn = f"arn:{e.partition}:iam::{e.account}:policy{path}{name}"
    document = _document(p["PolicyDocument"])
    try:
        iam.create_policy(PolicyName=name, Path=path, PolicyDocument=document)
    except iam.exceptions.EntityAlreadyExistsException:  # a second assembly (--from)
        for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)
    for role in p.get("Roles") or []:
        _attach(d, e, role, arn)
    e.scope.refs[logical_id] = arn
    e.scope.attributes[(logical_id, "PolicyArn")] = arn


def _thing_group(d: Deployment, e: Environment, logical_id: str, resource: Resource) -> None:
    name = _properties(e, resource).get("ThingGroupName") or physical_name(
        e.stack.name, logical_id, 128
    )
    iot = d.client("iot", e)
    try:
        group = iot.create_thing_group(thingGroupName=name)
    except iot.exceptions.ResourceAlreadyExistsException:  # the previous assembly's (--from)
        group = iot.describe_thing_group(thingGroupName=name)
    _registered(d, e, logical_id, "thinggroup", name, group["thingGroupArn"], group["thingGroupId"])


def _thing(d: Deployment, e: Environment, logical_id: str, resource: Resource) -> None:
    name = _properties(e, resource).get("ThingName") or physical_name(e.stack.name, logical_id, 128)
    iot = d.client("iot", e)
    try:
        thing = iot.create_thing(thingName=name)
    except iot.exceptions.ResourceAlreadyExistsException:  # the previous assembly's (--from)
        thing = iot.describe_thing(thingName=name)
    _registered(d, e, logical_id, "thing", name, thing["thingArn"], thing["thingId"])


def _registered(
    d: Deployment, e: Environment, logical_id: str, kind: str, name: str, arn: str, id: str
) -> None:
    """A thing or thing group created: its Ref (the name), Arn and Id, declared to the run."""
    e.scope.refs[logical_id] = name
    e.scope.attributes[(logical_id, "Arn")] = arn
    e.scope.attributes[(logical_id, "Id")] = id
    d.declared.add(f"{kind}/{name}")


def _signing_profile(d: Deployment, e: Environment, logical_id: str, resource: Resource) -> None:
    p = _properties(e, resource)
    name = p.get("ProfileName") or physical_name(e.stack.name, logical_id, 64, separator="_")
    platform = p.get("PlatformId")
    if platform not in api.CLOUDFORMATION_SIGNER_PLATFORMS:  # as CloudFormation refuses it
        raise ClientError(
            {
                "Error": {
                    "Code": "ValidationError",
                    "Message": f"PlatformId {platform} is not one of "
                    f"{', '.join(api.CLOUDFORMATION_SIGNER_PLATFORMS)} "
                    "(AWS::Signer::SigningProfile)",
                }
            },
            "CreateResource",
        )
    profile = d.client("signer", e).put_signing_profile(profileName=name, platformId=platform)
    e.scope.refs[logical_id] = profile["arn"]
    for attribute, value in (
        ("Arn", profile["arn"]),
        ("ProfileName", name),
        ("ProfileVersion", profile["profileVersion"]),
        ("ProfileVersionArn", profile["profileVersionArn"]),
    ):
        e.scope.attributes[(logical_id, attribute)] = value
    d.declared.add(f"signing-profile/{name}")


def _bucket_deployment(d: Deployment, e: Environment, logical_id: str, resource: Resource) -> None:
    p = _properties(e, resource)
    bucket, prefix = p["DestinationBucketName"], p.get("DestinationBucketKeyPrefix") or ""
    for key in p.get("SourceObjectKeys") or []:
        asset = e.stack.asset_source(key)
        if asset is None or not asset.source.is_dir():
            raise Unresolved(f"the source {key} of the bucket deployment (not an asset folder)")
        for path in sorted(asset.source.rglob("*")):
            if path.is_file():
                target = f"{prefix.rstrip('/') + '/' if prefix else ''}"
                target += path.relative_to(asset.source).as_posix()
                d.client("s3", e).put_object(Bucket=bucket, Key=target, Body=path.read_bytes())
                d.declared.add(f"s3://{bucket}/{target}")
    e.scope.refs[logical_id] = physical_name(e.stack.name, logical_id, 128)


def _function(d: Deployment, e: Environment, logical_id: str, resource: Resource) -> None:
    properties = dict(resource.get("Properties") or {})
    properties.pop("Environment", None)  # resolved when the handler starts (it may refer ahead)
    properties.pop("VpcConfig", None)  # the handler runs here, not in the VPC
    p = resolve(properties, e.scope)
    name = p.get("FunctionName") or physical_name(e.stack.name, logical_id, 64)
    arn = f"arn:{e.partition}:lambda:{e.region}:{e.account}:function:{name}"
    d.functions[arn] = Function(
        e.stack,
        logical_id,
        name,
        arn,
        {**p, "Environment": (resource.get("Properties") or {}).get("Environment")},
    )
    e.scope.refs[logical_id] = name
    e.scope.attributes[(logical_id, "Arn")] = arn


_BRING_UP = {
    "AWS::S3::Bucket": _s3_bucket,
    "AWS::IAM::Role": _role,
    "AWS::IAM::Policy": _policy,
    "AWS::IAM::RolePolicy": _policy,
    "AWS::IAM::ManagedPolicy": _managed_policy,
    "AWS::IoT::ThingGroup": _thing_group,
    "AWS::IoT::Thing": _thing,
    "AWS::Signer::SigningProfile": _signing_profile,
    "Custom::CDKBucketDeployment": _bucket_deployment,
    "AWS::Lambda::Function": _function,
}
