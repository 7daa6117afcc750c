"""An inline IAM policy that names exactly the resources in use, within IAM's size limit.

The OtaUpdates of a stack share one service role and one provider; each adds the resources its
request uses. When the exact list would not fit IAM's limit on a role's inline policies, the
resources are grouped (by bucket and key prefix, by ARN kind) and a synth warning says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, Annotations, Lazy, Names, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct

from ._cdk import Producer, Validation

# IAM: "the aggregate of all inline policies attached to a role" (characters, no white space).
ROLE_INLINE_POLICY_LIMIT = 10_240
# Tokens resolve at deploy time; count each as the longest name it usually stands for.
_TOKEN = re.compile(r"\$\{Token\[[^\]]+\]\}")
_TOKEN_ESTIMATE = "x" * 64


@dataclass(frozen=True)
class Resource:
    """A resource ARN, and the wider ARN that covers it when the exact list does not fit."""

    exact: str
    grouped: str

    @staticmethod
    def fixed(arn: str) -> Resource:
        return Resource(arn, arn)


@dataclass(frozen=True)
class Grant:
    """Actions on resources; ``reason`` explains any wildcard among them (to cdk-nag)."""

    actions: tuple[str, ...]
    resources: tuple[Resource, ...]
    conditions: Mapping[str, Mapping[str, str]] | None = None
    reason: str | None = None


GROUPED_REASON = (
    "The exact resource list would exceed IAM's policy size limit, so resources are grouped "
    "by bucket and key prefix or by the service's name prefix (see the synth warning)."
)


class ScopedPolicy(Construct):
    """One inline policy of ``role`` whose statements grow with :meth:`add`.

    Every wildcard it renders is acknowledged to cdk-nag (AwsSolutions-IAM5) with its reason.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        role: iam.IRole,
        budget: int = ROLE_INLINE_POLICY_LIMIT - 1024,
    ) -> None:
        super().__init__(scope, id)
        self.budget = budget
        self._statements: dict[str, tuple[Grant, dict[Resource, None]]] = {}
        self._grouped = False
        self.resource = iam.CfnPolicy(
            self,
            "Resource",
            policy_name=Names.unique_id(self)[-128:],
            roles=[role.role_name],
            policy_document=Lazy.any(Producer(self._document)),
        )
        self.node.add_validation(Validation(self._check_size))
        self.node.add_validation(Validation(self._acknowledge_wildcards))

    def add(self, grants: Iterable[Grant]) -> None:
        """Allow ``grants`` too; group resources (and warn once) if the exact list is too big."""
        for grant in grants:
            key = json.dumps([grant.actions, grant.conditions], sort_keys=True)
            _, resources = self._statements.setdefault(key, (grant, {}))
            resources.update(dict.fromkeys(grant.resources))
        if not self._grouped and self.size() > self.budget:
            self._grouped = True
            Annotations.of(self).add_warning_v2(
                "cdk-ota-update:policy-grouped",
                "The exact resource list of this policy would exceed IAM's "
                f"{self.budget}-character budget, so resources are grouped by bucket and key "
                "prefix and by the service's name prefixes (for example job/AFR_OTA-*). Split "
                "the OtaUpdates across stacks, or pass your own role, to keep exact resources.",
            )

    def size(self) -> int:
        """Estimated size of the rendered document as IAM counts it."""
        text = json.dumps(self._document(), separators=(",", ":"))
        return len(_TOKEN.sub(_TOKEN_ESTIMATE, text))

    def _check_size(self) -> list[str]:
        size = self.size()
        if size <= self.budget:
            return []
        return [
            f"the policy needs about {size} characters even with grouped resources, over IAM's "
            f"budget of {self.budget}: split the OtaUpdates across stacks"
        ]

    def _acknowledge_wildcards(self) -> list[str]:
        stack = Stack.of(self)
        for grant, resources in self._statements.values():
            for resource in resources:
                arn = resource.grouped if self._grouped else resource.exact
                if "*" not in arn:
                    continue
                reason = grant.reason if arn == resource.exact else GROUPED_REASON
                finding = _nag_text(stack.resolve(arn))
                Validations.of(self.resource).acknowledge(
                    Acknowledgment(
                        id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{finding}]",
                        reason=reason or GROUPED_REASON,
                    )
                )
        return []

    def _document(self) -> dict[str, Any]:
        statements = []
        for grant, resources in self._statements.values():
            arns = [r.grouped if self._grouped else r.exact for r in resources]
            statement: dict[str, Any] = {
                "Effect": "Allow",
                "Action": list(grant.actions) if len(grant.actions) > 1 else grant.actions[0],
                "Resource": sorted(set(arns), key=arns.index),
            }
            if grant.conditions:
                statement["Condition"] = grant.conditions
            statements.append(statement)
        return {"Version": "2012-10-17", "Statement": statements}


def _nag_text(value: Any) -> str:
    """A resolved value as cdk-nag names it in findings (``<Ref>``, ``<Resource.Attribute>``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            return "<{}.{}>".format(*value["Fn::GetAtt"])
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(_nag_text(part) for part in parts)
    return json.dumps(value, sort_keys=True)
