"""CloudFormation's cleanup after an update (``--from``), for the resources brought up.

What the previous assembly's stacks brought up and the new assembly no longer declares (same
account, Region, stack name and logical id) is deleted, and so is what the new assembly replaced
(another type, or another ``Ref``: a new name), unless its ``DeletionPolicy`` (removed) or
``UpdateReplacePolicy`` (replaced) retains it; in reverse order of creation, so that a policy goes
before its role. A deletion that fails is left, as CloudFormation leaves it (a warning).
Functions and bucket deployments leave nothing in the emulation to delete.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from .bringup import Deployment, Made
from .intrinsics import Unresolved, resolve

Deleter = Callable[[Deployment, Made, dict[str, Any]], None]


def clean_up(before: Deployment, after: Deployment) -> list[str]:
    """Delete what ``before`` brought up and ``after`` removed or replaced; the warnings about
    what could not be deleted."""
    warnings = []
    for key, made in reversed(before.made.items()):
        now = after.made.get(key)
        if now is not None and (now.type, now.ref) == (made.type, made.ref):
            continue  # kept
        replaced = now is not None
        delete = _DELETERS.get(made.type)
        if delete is None or made.retained(replaced):
            continue
        try:
            properties = resolve(made.resource.get("Properties") or {}, made.environment.scope)
            delete(before, made, properties)
        except (ClientError, Unresolved) as error:
            warnings.append(
                f"{made.path} ({made.type} {made.ref}) is {'replaced' if replaced else 'removed'} "
                f"but the cleanup could not delete it: {error}"
            )
    return warnings


def _client(d: Deployment, m: Made, service: str) -> Any:
    return d.client(service, m.environment)


def _thing_group(d: Deployment, m: Made, p: dict[str, Any]) -> None:
    _client(d, m, "iot").delete_thing_group(thingGroupName=m.ref)


def _thing(d: Deployment, m: Made, p: dict[str, Any]) -> None:
    _client(d, m, "iot").delete_thing(thingName=m.ref)


def _role(d: Deployment, m: Made, p: dict[str, Any]) -> None:
    iam = _client(d, m, "iam")
    for policy in p.get("Policies") or []:
        iam.delete_role_policy(RoleName=m.ref, PolicyName=policy["PolicyName"])
    for arn in p.get("ManagedPolicyArns") or []:
        iam.detach_role_policy(RoleName=m.ref, PolicyArn=arn)
    iam.delete_role(RoleName=m.ref)


def _policy(d: Deployment, m: Made, p: dict[str, Any]) -> None:
    for role in p.get("Roles") or ([p["RoleName"]] if "RoleName" in p else []):
        _client(d, m, "iam").delete_role_policy(RoleName=role, PolicyName=p["PolicyName"])


def _managed_policy(d: Deployment, m: Made, p: dict[str, Any]) -> None:
    iam = _client(d, m, "iam")
    for role in p.get("Roles") or []:
        iam.detach_role_policy(RoleName=role, PolicyArn=m.ref)
    iam.delete_policy(PolicyArn=m.ref)


def _signing_profile(d: Deployment, m: Made, p: dict[str, Any]) -> None:
    name = m.environment.scope.attributes[(m.logical_id, "ProfileName")]
    _client(d, m, "signer").cancel_signing_profile(profileName=name)


def _bucket(d: Deployment, m: Made, p: dict[str, Any]) -> None:
    _client(d, m, "s3").delete_bucket(Bucket=m.ref)  # refused while it holds objects


_DELETERS: dict[str, Deleter] = {
    "AWS::IoT::ThingGroup": _thing_group,
    "AWS::IoT::Thing": _thing,
    "AWS::IAM::Role": _role,
    "AWS::IAM::Policy": _policy,
    "AWS::IAM::RolePolicy": _policy,
    "AWS::IAM::ManagedPolicy": _managed_policy,
    "AWS::Signer::SigningProfile": _signing_profile,
    "AWS::S3::Bucket": _bucket,
}
