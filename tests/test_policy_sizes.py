"""IAM sizes as the library plans them, against the templates resolved with every value at its
longest (``iam_support.LONGEST``): equal, character for character, part by part; and the parts
of a spilled policy each within IAM's limit, none empty, together exactly the grants."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Annotations, Match, Template
from iam_support import LONGEST, MANAGED_POLICY_LIMIT, Resolver, fleet, size

from cdk_ota_update.grants import s3_object, signer_arn
from cdk_ota_update.policy import (
    INLINE_RESERVE,
    PROFILES,
    ROLE_INLINE_POLICIES_LIMIT,
    Arn,
    Grant,
    Resource,
    ScopedPolicy,
)

FIRST_INLINE_BUDGET = ROLE_INLINE_POLICIES_LIMIT - INLINE_RESERVE


def _one_stack(n: int, **options: Any) -> Callable[[cdk.App], list[cdk.Stack]]:
    def build(app: cdk.App) -> list[cdk.Stack]:
        stack = cdk.Stack(app, "Fleet")
        role = (
            iam.Role(stack, "TeamRole", assumed_by=iam.ServicePrincipal("iot.amazonaws.com"))
            if options.pop("own_role", False)
            else None
        )
        fleet(stack, n, role=role, longest_ids=True, **options)
        return [stack]

    return build


def _two_stacks(app: cdk.App) -> list[cdk.Stack]:
    store, releases = cdk.Stack(app, "Store"), cdk.Stack(app, "Releases")
    fleet(releases, 12, store=store, create_groups=True, longest_ids=True)
    return [store, releases]


# (case, the app's stacks): exact lists, grouped ones, a role of the app (its first part a
# managed policy), references across stacks (Fn::ImportValue), no signing.
APPS: dict[str, Callable[[cdk.App], list[cdk.Stack]]] = {
    "one": _one_stack(1),
    "exact": _one_stack(8),
    "grouped": _one_stack(60),
    "own-role": _one_stack(30, own_role=True),
    "unsigned": _one_stack(20, signing=False, per_release_keys=False),
    "two-stacks": _two_stacks,
}


@pytest.fixture(scope="module", params=list(APPS))
def planned(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> list[tuple[str, int, dict[str, Any]]]:
    """Each part of each library policy: its path, the size planned, its resolved document."""
    outdir = tmp_path_factory.mktemp(request.param)
    app = cdk.App(outdir=str(outdir))
    stacks = APPS[request.param](app)
    app.synth()
    templates = {
        s.stack_name: json.loads((outdir / f"{s.stack_name}.template.json").read_text())
        for s in stacks
    }
    resolve = Resolver(templates, LONGEST)
    found = []
    for stack in stacks:
        for policy in _policies(stack):
            for part, planned_size in zip(policy.parts, policy.sizes, strict=True):
                resource = templates[stack.stack_name]["Resources"][stack.get_logical_id(part)]
                document = resolve(resource["Properties"]["PolicyDocument"])
                found.append((part.node.path, planned_size, document))
    return found


def _policies(stack: cdk.Stack) -> Iterator[ScopedPolicy]:
    return (c for c in stack.node.find_all() if isinstance(c, ScopedPolicy))


def test_each_part_is_planned_at_its_size_with_every_value_at_its_longest(
    planned: list[tuple[str, int, dict[str, Any]]],
) -> None:
    assert planned
    assert [(path, planned_size) for path, planned_size, _ in planned] == [
        (path, size(document)) for path, _, document in planned
    ]


def _listing(resources: int, length: int) -> tuple[cdk.Stack, ScopedPolicy, list[str]]:
    stack = cdk.Stack(cdk.App(), "Policies")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("iot.amazonaws.com"))
    policy = ScopedPolicy(stack, "Policy", role=role)
    arns = [f"arn:aws:s3:::{i:0{length}d}" for i in range(resources)]
    policy.add([Grant(("s3:ListBucket",), tuple(Resource.fixed(arn) for arn in arns))])
    return stack, policy, arns


def test_a_spilled_policy_fills_each_part_within_its_limit_and_lists_every_grant_once() -> None:
    stack, policy, arns = _listing(300, 60)  # ~22,000 characters
    template = Template.from_stack(stack)
    (inline,) = template.find_resources("AWS::IAM::Policy").values()
    managed = list(template.find_resources("AWS::IAM::ManagedPolicy").values())
    documents = [r["Properties"]["PolicyDocument"] for r in (inline, *managed)]

    assert len(managed) == 3
    assert policy.sizes == [size(d) for d in documents]
    assert size(documents[0]) <= FIRST_INLINE_BUDGET
    assert size(documents[0]) > FIRST_INLINE_BUDGET - 70  # full: the next ARN would not fit
    for document in documents[1:]:
        assert 0 < size(document) <= MANAGED_POLICY_LIMIT
    assert all(s["Resource"] for d in documents for s in d["Statement"])
    listed = [arn for d in documents for s in d["Statement"] for arn in s["Resource"]]
    assert listed == arns
    Annotations.from_stack(stack).has_warning(
        "/Policies/Policy", Match.string_like_regexp("spilled into 3 managed policies")
    )


def _planned_resources(grants: list[Grant]) -> tuple[list[Any], str, cdk.Stack]:
    """The resources of a policy planned for ``grants``, the grouping warning, the stack."""
    stack = cdk.Stack(cdk.App(), "Policies")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("iot.amazonaws.com"))
    ScopedPolicy(stack, "Policy", role=role).add(grants)
    template = Template.from_stack(stack)
    (inline,) = template.find_resources("AWS::IAM::Policy").values()
    listed = [
        arn
        for statement in inline["Properties"]["PolicyDocument"]["Statement"]
        for arn in statement["Resource"]
    ]
    (warning,) = Annotations.from_stack(stack).find_warning("*", Match.any_value())
    return listed, str(warning.entry.data), stack


def test_signing_profiles_are_grouped_to_all_profiles_of_the_account_and_region() -> None:
    every = Arn.of(signer_arn("signing-profiles/*"))
    profiles = tuple(
        Resource((Arn.of(signer_arn(f"signing-profiles/p{i:063d}")), every), PROFILES)
        for i in range(120)
    )
    listed, warning, stack = _planned_resources([Grant(("signer:StartSigningJob",), profiles)])

    assert listed == [stack.resolve(every.text)]
    assert "120 signing profiles -> signing-profiles/*" in warning


def test_objects_of_mixed_depths_are_grouped_one_folder_level_at_a_time() -> None:
    """Keys two, one and no folders deep in one bucket, too many folders to list: each key one
    folder above its own, at most the bucket (a key in fw/ reaches the bucket, one in
    fw/<release>/ reaches fw/)."""
    keys = [f"fw/{release:0150d}/image.bin" for release in range(100)]
    keys += [f"fw/loose-{i}.bin" for i in range(3)] + ["top.bin"]
    objects = tuple(s3_object("firmware-bucket", key) for key in keys)
    listed, warning, stack = _planned_resources([Grant(("s3:GetObject",), objects)])

    assert [json.dumps(a) for a in listed] == [
        json.dumps(stack.resolve(s3_object("firmware-bucket", key).at(2).text))
        for key in ("fw/0/image.bin", "top.bin")
    ]
    assert "104 S3 objects -> 1 folder(s) above their folder, at most the bucket" in warning
