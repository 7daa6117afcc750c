"""The OTA update service role: the one the OtaUpdates of a stack share, or a role of the app.

The shared role is trusted by ``iot.amazonaws.com`` for this account and region only (the
confused-deputy conditions of AWS IoT's guide: aws:SourceAccount, and aws:SourceArn
``arn:<partition>:iot:<region>:<account>:*``). Either role gets the same statements
(:mod:`.grants`), in a :class:`ScopedPolicy` the library owns: exact resources while they fit,
then grouped, then spilled into managed policies attached to that role. An imported immutable
role gets nothing; a synth warning lists what to grant it.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from aws_cdk import (
    Annotations,
    Names,
    Stack,
)
from aws_cdk import aws_iam as iam
from constructs import Construct, Dependable, IDependable

from ._cdk import StackSingleton, get_or_make, iot_arn, pseudo, readable, stack_of
from .grants import IOT_SERVICE, role_arn, self_grants
from .policy import MANAGED_POLICIES_PER_ROLE, Grant, Resource, ScopedPolicy

# AWS's managed policy for the OTA update service role (opt-in, see attach_aws_managed_policy).
AWS_MANAGED_POLICY = "service-role/AmazonFreeRTOSOTAUpdate"
_AWS_MANAGED_REASON = (
    "Attached on request (OtaUpdateServiceRole.attach_aws_managed_policy): AWS's own managed "
    "policy for the OTA update service role, for reviews that require it; the library's scoped "
    "statements stay."
)


class OtaUpdateServiceRole(StackSingleton):
    """The stack's shared service role; ``OtaUpdateServiceRole.of(scope)`` gets it."""

    ID = "OtaUpdateServiceRole"

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.role = iam.Role(
            self,
            "Resource",
            assumed_by=_trusted_iot(),
            description="AWS IoT OTA update service role (cdk-ota-update).",
        )
        self.role_arn_token = self.role.role_arn
        self.arn = role_arn(self.role_arn_token, "/")
        self._aws_managed = False
        self.policy = ScopedPolicy(self, "Policy", role=self.role)
        self.policy.add(self_grants(self.arn))

    def attach_aws_managed_policy(self) -> None:
        """Also attach AWS's managed ``service-role/AmazonFreeRTOSOTAUpdate`` to the shared role.

        Off by default: the library's statements already allow what the service does, scoped to
        the resources in use; the managed policy adds account-wide wildcards
        (``s3:ListAllMyBuckets``, ``iot:CreateJob`` on ``*``, Signer on ``*``...). For teams whose
        security review asks for AWS's documented policy. Acknowledged to cdk-nag
        (AwsSolutions-IAM4) with that reason.
        """
        if self._aws_managed:
            return
        self._aws_managed = True
        self.policy.attach_aws_managed_policy(AWS_MANAGED_POLICY, _AWS_MANAGED_REASON)


def _trusted_iot() -> iam.IPrincipal:
    """AWS IoT acting for this account and region only (the confused-deputy conditions), the
    principal the shared role trusts (made with the role, once per stack)."""
    return iam.ServicePrincipal(IOT_SERVICE).with_conditions(
        {
            "StringEquals": {"aws:SourceAccount": pseudo().account_id},
            "ArnLike": {"aws:SourceArn": iot_arn("*")},
        }
    )


@dataclass
class ServiceRole:
    """The role an OtaUpdate passes (roleArn), where its grants go and what it depends on."""

    role_arn: str
    arn: Resource
    policy: ScopedPolicy | None  # None: an immutable role, nothing can be added
    dependencies: list[IDependable] = field(default_factory=list)


class _AppRoleGrants(StackSingleton):
    """The library's policies on roles of the app, one :class:`ScopedPolicy` per role."""

    ID = "OtaUpdateRoleGrants"

    def policy_for(self, role: iam.IRole, arn: Resource) -> ScopedPolicy:
        id = Names.unique_id(role)
        existing = self.node.try_find_child(id)
        if isinstance(existing, ScopedPolicy):
            return existing
        # Managed policies only: the role's own inline policies keep IAM's inline budget.
        policy = ScopedPolicy(
            self, id, role=role, inline=False, managed_policies=MANAGED_POLICIES_PER_ROLE
        )
        policy.add(self_grants(arn))
        return policy


def service_role(scope: Construct, role: iam.IRole | None) -> ServiceRole:
    """The service role of the OtaUpdate ``scope``: the stack's shared one when ``role`` is
    None; otherwise ``role``, which gets the same statements unless it is immutable. Bound once
    per stack and role (the OtaUpdates that share it cost no jsii call for it)."""
    roles = _SERVICE_ROLES.setdefault(stack_of(scope), {})
    return get_or_make(roles, role, lambda: _bind(scope, role))


_SERVICE_ROLES: weakref.WeakKeyDictionary[Stack, dict[iam.IRole | None, ServiceRole]] = (
    weakref.WeakKeyDictionary()
)


def _bind(scope: Construct, role: iam.IRole | None) -> ServiceRole:
    if role is None:
        shared = OtaUpdateServiceRole.of(scope)
        return ServiceRole(shared.role_arn_token, shared.arn, shared.policy, [shared.policy])
    role_arn_token = role.role_arn
    if isinstance(role, iam.Role):
        resource = role.node.default_child
        path = resource.path if isinstance(resource, iam.CfnRole) else None
        arn = role_arn(role_arn_token, "/" if path is None else path)
        policy = _AppRoleGrants.of(scope).policy_for(role, arn)
        return ServiceRole(role_arn_token, arn, policy, [policy, role])
    arn = role_arn(role_arn_token, None)
    # An imported role: CDK adds statements to it only when it is mutable (an immutable one
    # answers "added" but its policy has no resource). The probe is a statement the role needs
    # anyway (iam:GetRole on itself).
    (probe,) = [g for g in self_grants(arn) if g.actions == ("iam:GetRole",)]
    added = role.add_to_principal_policy(_statement(probe))
    if not Dependable.of(added.policy_dependable).dependency_roots:
        return ServiceRole(role_arn_token, arn, None)
    policy = _AppRoleGrants.of(scope).policy_for(role, arn)
    return ServiceRole(role_arn_token, arn, policy, [policy, added.policy_dependable])


def _statement(grant: Grant) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=list(grant.actions),
        resources=[r.levels[0].text for r in grant.resources],
        conditions=dict(grant.conditions) if grant.conditions else None,
    )


def warn_immutable(scope: Construct, role: ServiceRole, grants: Iterable[Grant]) -> None:
    """A synth warning on ``scope`` listing the statements an immutable ``role`` needs."""
    statements = [_describe(grant) for grant in grants]
    statements += [_describe(g) for g in self_grants(role.arn)]
    name = readable(role.role_arn)
    Annotations.of(scope).add_warning_v2(
        "cdk-ota-update:immutable-role",
        f"The role {name} is imported as immutable, so nothing is added to it: it must already "
        "allow what this OTA update needs (values in ${...} and <...> are resolved at deploy "
        "time):\n" + json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=1),
    )


def _describe(grant: Grant) -> Mapping[str, object]:
    statement: dict[str, object] = {
        "Effect": "Allow",
        "Action": list(grant.actions),
        "Resource": [readable(r.levels[0].text) for r in grant.resources],
    }
    if grant.conditions:
        statement["Condition"] = grant.conditions
    return statement
