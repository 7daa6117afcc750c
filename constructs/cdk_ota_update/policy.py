"""IAM policies that name exactly the resources in use, within IAM's size limits.

The OtaUpdates of a stack add the resources their requests use to a :class:`ScopedPolicy` of the
role. Sizes are measured as IAM counts them (JSON without white space) with every token at the
longest value it can resolve to (pseudo parameters from botocore's partition data, a bucket name
at 63 characters, ...). At synth, once, the policy is planned:

1. exact resources, while they fit the role's first policy;
2. otherwise grouped in steps, finest first (object -> its folder -> parent folders -> the bucket;
   targets -> ``thing/*``/``thinggroup/*``; jobs -> ``job/AFR_OTA-*``; profiles ->
   ``signing-profiles/*``), until they fit, with one synth warning naming what was grouped;
3. otherwise spilled into customer managed policies attached to the same role;
4. otherwise a synth error.

Every wildcard the library renders is acknowledged to cdk-nag (AwsSolutions-IAM5) with its
reason, under the finding text cdk-nag itself renders for it (see :func:`_nag_findings`).
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import botocore
import jsii
from aws_cdk import (
    Acknowledgment,
    Annotations,
    App,
    Aspects,
    IAspect,
    Names,
    Stack,
    Validations,
)
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

from ._cdk import (
    TOKEN,
    add_stack_validation,
    cdk_nag_in_use,
    get_or_make,
    pseudo,
    stack_id,
    stack_of,
)

# IAM quotas (characters as IAM counts them: no white space).
ROLE_INLINE_POLICIES_LIMIT = 10_240  # all inline policies of a role together
MANAGED_POLICY_LIMIT = 6_144  # one managed policy
MANAGED_POLICIES_PER_ROLE = 10  # managed policies attached to a role (default quota)
# Left for the role's other inline policies (CDK's DefaultPolicy: the app's grants, the KMS key's).
INLINE_RESERVE = 1_024

# The longest value a token can stand for, by what it is.
BUCKET_NAME = 63
OBJECT_KEY = 1_024
THING_NAME = 128
STREAM_ID = 128
SIGNING_PROFILE_NAME = 64
SIGNING_JOB_ID = 64
ROLE_NAME = 64
ROLE_PATH = 512
FUNCTION_NAME = 64
LOG_GROUP_NAME = 512
ARN = 2_048  # an ARN nothing more is known about (IAM's limit on a resource ARN)


@cache
def _pseudo_parameters() -> dict[str, int]:
    """Each pseudo parameter's token and its longest real value (botocore's partition data)."""
    data = json.loads((Path(botocore.__file__).parent / "data" / "partitions.json").read_text())
    partitions = data["partitions"]
    longest_values = (
        max(len(p["id"]) for p in partitions),
        max(
            len(region)
            for p in partitions
            for region in p["regions"]
            if not region.endswith("-global")
        ),
        12,
        max(len(p["outputs"]["dnsSuffix"]) for p in partitions),
    )
    lengths = dict(zip(pseudo(), longest_values, strict=True))
    partition, region, account, _ = longest_values
    # arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<uuid> (names: 128 chars)
    lengths[stack_id()] = (
        len("arn::cloudformation:::stack//") + partition + region + account + 128 + 36
    )
    return lengths


@lru_cache(maxsize=4096)
def longest(text: str, token: int = ARN) -> int:
    """The length of ``text`` once deployed: pseudo parameters at their longest real values,
    any other token at ``token`` characters."""
    pseudo = _pseudo_parameters()
    size, position = 0, 0
    for match in TOKEN.finditer(text):
        size += match.start() - position + pseudo.get(match.group(), token)
        position = match.end()
    return size + len(text) - position


@dataclass(frozen=True)
class Arn:
    """An ARN (or ``*``) and its longest length once deployed."""

    text: str
    size: int

    @staticmethod
    def of(*parts: str | tuple[str, int]) -> Arn:
        """Concatenate ``parts``; a ``(value, n)`` part's tokens stand for at most ``n`` chars."""
        text, size = "", 0
        for part in parts:
            value, bound = part if isinstance(part, tuple) else (part, ARN)
            text += value
            size += longest(value, bound)
        return Arn(text, size)


@dataclass(frozen=True)
class Kind:
    """What a family of resources is, for the grouping steps and the synth warning."""

    plural: str
    grouped: str  # what the first grouping level covers


OBJECTS = Kind("S3 objects", "their folder")
TARGETS = Kind("targets", "thing/* and thinggroup/* of their account and Region")
JOBS = Kind("jobs", "job/AFR_OTA-*")
PROFILES = Kind("signing profiles", "signing-profiles/*")
STREAMS = Kind("streams", "stream/*")
SIGNING_JOBS = Kind("signing jobs", "signing-jobs/*")
FIXED = Kind("resources", "")


@dataclass(frozen=True)
class Resource:
    """A resource: its exact ARN, then each wider ARN that covers it (finest first)."""

    levels: tuple[Arn, ...]
    kind: Kind = FIXED

    @staticmethod
    def fixed(arn: str, longest_value: int = ARN) -> Resource:
        """A resource that is never grouped; its tokens stand for at most ``longest_value``."""
        return Resource((Arn.of((arn, longest_value)),))

    def at(self, depth: int) -> Arn:
        return self.levels[min(depth, len(self.levels) - 1)]


@dataclass(frozen=True)
class Grant:
    """Actions on resources; ``reason`` explains any wildcard among them (to cdk-nag)."""

    actions: tuple[str, ...]
    resources: tuple[Resource, ...]
    conditions: Mapping[str, Mapping[str, Any]] | None = None
    reason: str | None = None


GROUPED_REASON = (
    "The exact resource list would exceed IAM's policy size limits, so cdk-ota-update grouped "
    "these resources by folder, bucket or the service's name prefix (see the synth warning)."
)
_FALLBACK_REASON = (
    "Granted by cdk-ota-update: the OTA update service needs this resource for the OTA updates "
    "of this stack; limited to this account and Region."
)

# Grouping steps, finest first: one more level of one kind per step.
_STEPS: tuple[tuple[Kind, int], ...] = (
    (OBJECTS, 1),
    (JOBS, 1),
    (STREAMS, 1),
    (SIGNING_JOBS, 1),
    (PROFILES, 1),
    (TARGETS, 1),
)


@dataclass
class _Statement:
    grant: Grant
    resources: list[Arn]
    originals: list[Resource]

    def size(self) -> int:
        """Characters as IAM counts them (``"Resource":[...]`` included)."""
        skeleton = json.dumps(_render(self.grant, []), separators=(",", ":"))
        return _skeleton_size(skeleton) + sum(a.size + 3 for a in self.resources) - 1


@cache
def _skeleton_size(skeleton: str) -> int:
    return longest(skeleton)


def _render(grant: Grant, resources: Sequence[str]) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Action": list(grant.actions) if len(grant.actions) > 1 else grant.actions[0],
        "Resource": list(resources),
    }
    if grant.conditions:
        statement["Condition"] = {k: dict(v) for k, v in grant.conditions.items()}
    return statement


_DOCUMENT_SIZE = len('{"Version":"2012-10-17","Statement":[]}')


def _document_size(statements: Iterable[_Statement]) -> int:
    sizes = [s.size() for s in statements]
    return _DOCUMENT_SIZE + sum(sizes) + max(len(sizes) - 1, 0)


@jsii.implements(IAspect)
class _PlanAtSynth:
    """Plans the :class:`ScopedPolicy` constructs of a stack at synth (before references are
    resolved): one aspect per stack, on its first one (``anchor``), which plans them all."""

    def __init__(self, anchor: ScopedPolicy) -> None:
        self._anchor = anchor
        self.policies: list[ScopedPolicy] = []

    def visit(self, node: IConstruct) -> None:
        # jsii hands back the Python object itself: telling it costs no jsii call.
        if node is self._anchor:
            for policy in self.policies:
                policy.plan()


def _planned(policy: ScopedPolicy) -> _PlanAtSynth:
    """The aspect that plans the ScopedPolicy constructs of ``policy``'s stack, made on the
    stack's first one (the others cost no jsii call for it)."""
    aspect = _PlanAtSynth(policy)
    Aspects.of(policy).add(aspect)
    return aspect


_PLANNERS: weakref.WeakKeyDictionary[Stack, _PlanAtSynth] = weakref.WeakKeyDictionary()


class ScopedPolicy(Construct):
    """The library's statements for ``role``: exact while they fit, grouped, then spilled.

    ``inline`` is where the first part goes: the role's inline policies (the library's own
    roles) or, for a role of the app, a managed policy, so that the app's own inline policies
    keep their budget. More parts go into managed policies attached to the same role, at most
    ``managed_policies`` of them. The custom resources depend on this construct, so on every part.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        role: iam.IRole,
        inline: bool = True,
        managed_policies: int = MANAGED_POLICIES_PER_ROLE,
    ) -> None:
        super().__init__(scope, id)
        self.role = role
        self.first_budget = (
            ROLE_INLINE_POLICIES_LIMIT - INLINE_RESERVE if inline else MANAGED_POLICY_LIMIT
        )
        self._inline = inline
        self.managed_policies = managed_policies
        self._statements: dict[tuple[Any, ...], tuple[Grant, dict[Resource, None]]] = {}
        self._parts: list[tuple[iam.CfnPolicy | iam.CfnManagedPolicy, list[_Statement]]] = []
        self._errors: list[str] = []
        get_or_make(_PLANNERS, stack_of(scope), lambda: _planned(self)).policies.append(self)
        add_stack_validation(scope, self._validate)

    def add(self, grants: Iterable[Grant]) -> None:
        """Allow ``grants`` too (merged with the statements of the same actions/conditions)."""
        if self._parts:
            raise RuntimeError(f"{self.node.path}: grants added after synth planned the policy")
        for grant in grants:
            conditions = json.dumps(grant.conditions, sort_keys=True) if grant.conditions else ""
            key = (grant.actions, conditions, grant.reason)
            _, resources = self._statements.setdefault(key, (grant, {}))
            resources.update(dict.fromkeys(grant.resources))

    def attach_aws_managed_policy(self, name: str, reason: str) -> None:
        """Attach AWS's managed policy ``name`` (``service-role/...``) to the role, leaving one
        managed policy fewer for the spill, and acknowledge cdk-nag's own AwsSolutions-IAM4
        finding for it with ``reason``."""
        self.managed_policies -= 1
        self.role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name(name))
        add_stack_validation(self, lambda: self._acknowledge_managed(name, reason))

    def _validate(self) -> list[str]:
        """What planning found (errors name this construct), once the wildcards that remain are
        acknowledged to cdk-nag."""
        self._acknowledge_wildcards()
        return [f"{self.node.path}: {error}" for error in self._errors]

    def _acknowledge_managed(self, name: str, reason: str) -> list[str]:
        if not cdk_nag_in_use():
            return []
        try:
            from cdk_nag import AwsSolutionsChecks
        except ImportError:  # pragma: no cover - cdk-nag is the app's choice
            return []
        resource = self.role.node.default_child
        assert resource is not None
        for violation in AwsSolutionsChecks().validate_scope(resource).violations:
            if violation.rule_name.startswith("AwsSolutions-IAM4[") and name in violation.rule_name:
                Validations.of(resource).acknowledge(
                    Acknowledgment(id=violation.rule_name, reason=reason)
                )
        return []

    @property
    def parts(self) -> list[iam.CfnPolicy | iam.CfnManagedPolicy]:
        """The policies this planned into (after synth): inline or managed, first part first."""
        return [part for part, _ in self._parts]

    @property
    def sizes(self) -> list[int]:
        """Each part's size as planned (after synth): characters as IAM counts them, every token
        at its longest value."""
        return [_document_size(statements) for _, statements in self._parts]

    def statements(self, depth: Mapping[Kind, int] | None = None) -> list[_Statement]:
        """The statements with each kind of resource grouped to ``depth`` (exact: none)."""
        depth = depth or {}
        result = []
        for grant, resources in self._statements.values():
            arns = {r.at(depth.get(r.kind, 0)): None for r in resources}
            result.append(_Statement(grant, list(arns), list(resources)))
        return result

    def plan(self) -> None:
        """Group, then spill, then create the policies; once, at synth."""
        if self._parts or not self._statements:
            return
        self._merge_equal()
        depth: dict[Kind, int] = {}
        statements = self.statements(depth)
        exact_size = _document_size(statements)
        for kind, level in self._steps():
            if _document_size(statements) <= self.first_budget:
                break
            depth[kind] = level
            statements = self.statements(depth)
        parts = self._spill(statements)
        if len(parts) > 1 + self.managed_policies:
            self._errors.append(
                f"the policy of the role needs {_document_size(statements)} characters even "
                "with its resources grouped (tokens at their longest values), more than IAM "
                f"allows one role ({self.first_budget} for the first "
                f"policy, then {self.managed_policies} managed policies of "
                f"{MANAGED_POLICY_LIMIT}): split the OtaUpdates across stacks or roles"
            )
            return
        if depth:  # over the budget (a spill comes after grouping steps)
            self._warn(depth, statements, exact_size, len(parts) - 1)
        for index, part in enumerate(parts):
            self._parts.append((self._policy(index, part), part))

    def _merge_equal(self) -> None:
        """Each resource once, however many tokens stand for it: OtaUpdates that share one
        firmware file each have an asset of their own, whose bucket names are distinct tokens
        for one bucket. Told apart by their resolved ARNs (one jsii call for all of them)."""
        pseudo_tokens = set(pseudo()) | {stack_id()}
        texts = {
            arn.text: None
            for _, resources in self._statements.values()
            for resource in resources
            for arn in resource.levels
            if any(t not in pseudo_tokens for t in TOKEN.findall(arn.text))
        }
        if not texts:
            return
        resolved = stack_of(self).resolve(list(texts))
        canonical = {text: json.dumps(value) for text, value in zip(texts, resolved, strict=True)}
        for key, (grant, resources) in self._statements.items():
            merged: dict[tuple[str, ...], Resource] = {}
            for resource in resources:
                same = tuple(canonical.get(a.text, a.text) for a in resource.levels)
                merged.setdefault(same, resource)
            self._statements[key] = (grant, dict.fromkeys(merged.values()))

    def _steps(self) -> Iterable[tuple[Kind, int]]:
        yield from _STEPS
        deepest = max(
            (len(r.levels) for _, rs in self._statements.values() for r in rs if r.kind is OBJECTS),
            default=0,
        )
        for level in range(2, deepest):
            yield OBJECTS, level

    def _spill(self, statements: list[_Statement]) -> list[list[_Statement]]:
        """Pack the statements in order: the first policy, then managed ones (split statements
        by resources where one does not fit)."""
        parts: list[list[_Statement]] = [[]]
        budget = self.first_budget
        used = _DOCUMENT_SIZE
        for statement in statements:
            pending = list(statement.resources)
            while pending:
                piece = _Statement(statement.grant, [], statement.originals)
                room = budget - used - (1 if parts[-1] else 0)
                while pending and piece.size() + pending[0].size + 3 <= room:
                    piece.resources.append(pending.pop(0))
                if piece.resources:
                    used += piece.size() + (1 if parts[-1] else 0)
                    parts[-1].append(piece)
                if pending:
                    parts.append([])
                    budget, used = MANAGED_POLICY_LIMIT, _DOCUMENT_SIZE
                    if len(parts) > 1 + self.managed_policies:
                        return parts
        return parts

    def _policy(
        self, index: int, statements: list[_Statement]
    ) -> iam.CfnPolicy | iam.CfnManagedPolicy:
        document = {
            "Version": "2012-10-17",
            "Statement": [_render(s.grant, [a.text for a in s.resources]) for s in statements],
        }
        if index == 0 and self._inline:
            return iam.CfnPolicy(
                self,
                "Resource",
                policy_name=Names.unique_id(self)[-128:],
                roles=[self.role.role_name],
                policy_document=document,
            )
        return iam.CfnManagedPolicy(
            self,
            "Resource" if index == 0 else f"Overflow{index}",
            description=f"Part {index + 1} of the grants of {self.node.path} (cdk-ota-update)"[
                :1000
            ],
            roles=[self.role.role_name],
            policy_document=document,
        )

    def _warn(
        self, depth: Mapping[Kind, int], statements: list[_Statement], exact: int, spilled: int
    ) -> None:
        grouped = []
        for kind, level in depth.items():
            resources = {r for _, rs in self._statements.values() for r in rs if r.kind is kind}
            if not resources:
                continue
            if kind is OBJECTS and level > 1:
                width = f"{level - 1} folder(s) above their folder, at most the bucket"
            else:
                width = kind.grouped
            grouped.append(f"{len(resources)} {kind.plural} -> {width}")
        what = "; ".join(grouped) or "nothing grouped"
        spill = (
            f", and spilled into {spilled} managed polic{'y' if spilled == 1 else 'ies'} "
            "attached to the same role"
            if spilled
            else ""
        )
        Annotations.of(self).add_warning_v2(
            "cdk-ota-update:policy-grouped",
            f"The exact resource list of this role's policy needs {exact} characters (tokens at "
            f"their longest values), over IAM's {self.first_budget}-character budget for it, so "
            f"resources are grouped ({what}): now {_document_size(statements)} characters"
            f"{spill}. Split the OtaUpdates across stacks, or pass roles of your own, to keep "
            "exact resources.",
        )

    def _acknowledge_wildcards(self) -> None:
        """Acknowledge each wildcard of the library's own policies to cdk-nag, under the finding
        text cdk-nag renders for it (the references resolved as in the template)."""
        if not cdk_nag_in_use():
            return
        stack = stack_of(self)
        for part, statements in self._parts:
            reasons: list[tuple[Any, str]] = []
            for statement in statements:
                for arn, resource in _with_originals(statement):
                    if "*" not in arn.text:
                        continue
                    if arn != resource.levels[0]:
                        reason = GROUPED_REASON
                    else:
                        reason = statement.grant.reason or _FALLBACK_REASON
                    reasons.append((stack.resolve(arn.text), reason))
            validations = Validations.of(part)
            for finding, reason in _nag_findings(reasons):
                validations.acknowledge(Acknowledgment(id=finding, reason=reason))


def _with_originals(statement: _Statement) -> Iterable[tuple[Arn, Resource]]:
    """Each rendered ARN of ``statement`` with one resource it stands for."""
    by_arn = {resource.levels[0]: resource for resource in reversed(statement.originals)}
    for resource in statement.originals:
        for level in resource.levels[1:]:
            by_arn.setdefault(level, resource)
    for arn in statement.resources:
        yield arn, by_arn.get(arn, Resource((arn,)))


def _nag_findings(resources: Sequence[tuple[Any, str]]) -> list[tuple[str, str]]:
    """cdk-nag's own AwsSolutions-IAM5 findings for each resolved resource, with its reason.

    Each resource is checked alone, in a scratch policy, by cdk-nag itself: the acknowledgement
    is the finding text cdk-nag renders (``Fn::ImportValue``, ``Ref``, ``Fn::GetAtt``,
    ``Fn::Sub``...), not a second rendering that could drift. Without cdk-nag there is nothing
    to acknowledge.
    """
    try:
        from cdk_nag import AwsSolutionsChecks
    except ImportError:  # pragma: no cover - cdk-nag is the app's choice
        return []
    if not resources:
        return []
    # One scratch policy per reason (a handful), each listing its resources: cdk-nag names each
    # wildcard resource in a finding of its own, on the policy whose reason it has.
    by_reason: dict[str, list[Any]] = {}
    for resource, reason in resources:
        by_reason.setdefault(reason, []).append(resource)
    reasons = list(by_reason)
    scratch = Stack(App(), "CdkOtaUpdateNagScratch")
    for index, reason in enumerate(reasons):
        iam.CfnPolicy(
            scratch,
            str(index),
            policy_name="scratch",
            policy_document={
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": by_reason[reason]}
                ],
            },
        )
    report = AwsSolutionsChecks().validate_scope(scratch)
    findings: list[tuple[str, str]] = []
    for violation in report.violations:
        if not violation.rule_name.startswith("AwsSolutions-IAM5[Resource::"):
            continue
        for where in violation.violating_resources:
            index = int(str(where.construct_path).rsplit("/", 1)[-1])
            findings.append((violation.rule_name, reasons[index]))
    return findings
