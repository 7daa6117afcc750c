"""IAM sizes as the library plans them, against the templates resolved with every value at its
longest (``iam_support.LONGEST``): equal, character for character, part by part; and the parts
of a spilled policy each within IAM's limit, none empty, together exactly the grants."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Names
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template
from cdk_support import ota, template
from constructs import Construct
from iam_support import LONGEST, MANAGED_POLICY_LIMIT, Resolver, fleet, size

from cdk_ota_update import FileLocation, OtaUpdateFile
from cdk_ota_update._cdk import iot_arn
from cdk_ota_update.grants import role_arn, s3_object, service_role_grants, signer_arn, target
from cdk_ota_update.policy import (
    INLINE_RESERVE,
    JOBS,
    OBJECTS,
    PROFILES,
    ROLE_INLINE_POLICIES_LIMIT,
    SIGNING_JOBS,
    STREAMS,
    Arn,
    Grant,
    Kind,
    Resource,
    ScopedPolicy,
)

FIRST_INLINE_BUDGET = ROLE_INLINE_POLICIES_LIMIT - INLINE_RESERVE


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


ACTIONS = ("s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject")  # one each


def _document(arns: list[str], statements: int) -> dict[str, Any]:
    """The policy document of ``arns``, dealt out to ``statements`` statements in turn."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": action, "Resource": arns[n::statements]}
            for n, action in enumerate(ACTIONS[:statements])
        ],
    }


def _arns_of_size(target: int, statements: int) -> list[str]:
    """Literal bucket ARNs whose document (:func:`_document`) is exactly ``target`` characters:
    60-character ARNs, the last one padded to make up the rest."""
    arns: list[str] = []
    while size(_document([*arns, "a" * 60], statements)) < target - 200:
        arns.append(f"arn:aws:s3:::{len(arns):04d}" + "b" * 43)
    arns += [f"arn:aws:s3:::{len(arns) + n:04d}" for n in range(statements)]
    arns[-1] += "b" * (target - size(_document(arns, statements)))
    assert size(_document(arns, statements)) == target
    return arns


def _policy_of_size(
    target: int,
    *,
    inline: bool,
    groupable: bool = False,
    statements: int = 1,
    scope: str = "Policy",
) -> tuple[cdk.Stack, ScopedPolicy]:
    """A policy of literal bucket ARNs whose document is exactly ``target`` characters (with
    ``groupable``, objects of one folder, grouped to ``arn:aws:s3:::f/*`` if they do not fit),
    made at the construct path ``Policies/<scope>``."""
    arns = _arns_of_size(target, statements)
    stack = cdk.Stack(cdk.App(), "Policies")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("iot.amazonaws.com"))
    parent: Construct = stack
    *folders, name = scope.split("/")
    for folder in folders:
        parent = Construct(parent, folder)
    policy = ScopedPolicy(parent, name, role=role, inline=inline)
    every = Arn.of("arn:aws:s3:::f/*")
    resources = [
        Resource((Arn.of(arn), every), OBJECTS) if groupable else Resource.fixed(arn)
        for arn in arns
    ]
    policy.add(
        Grant((action,), tuple(resources[n::statements]))
        for n, action in enumerate(ACTIONS[:statements])
    )
    return stack, policy


# IAM's quotas, as AWS documents them: a role's inline policies 10,240 characters together (the
# library leaves 1,024 of them to the app's own), a managed policy 6,144.
@pytest.mark.parametrize(
    ("inline", "budget"), [(True, 10_240 - 1_024), (False, 6_144)], ids=["inline", "managed"]
)
@pytest.mark.parametrize("over", [0, 1])
@pytest.mark.parametrize("statements", [1, 4])
def test_the_first_part_takes_exactly_its_budget(
    inline: bool, budget: int, over: int, statements: int
) -> None:
    stack, policy = _policy_of_size(budget + over, inline=inline, statements=statements)
    Template.from_stack(stack)

    assert sum(policy.sizes) >= budget + over
    assert len(policy.sizes) == 1 + over
    assert policy.sizes[0] <= budget


@pytest.mark.parametrize("over", [0, 1])
def test_resources_are_grouped_only_past_the_budget(over: int) -> None:
    stack, policy = _policy_of_size(10_240 - 1_024 + over, inline=True, groupable=True)
    (inline,) = Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()

    document = inline["Properties"]["PolicyDocument"]
    (statement,) = document["Statement"]
    assert (statement["Resource"] == ["arn:aws:s3:::f/*"]) is bool(over)
    assert policy.sizes == [size(document)]
    assert policy.sizes[0] <= 10_240 - 1_024


@pytest.mark.parametrize(("aws_managed", "left"), [(0, 10), (1, 9)])
def test_a_policy_too_big_even_spilled_fails_synth_naming_what_iam_allows_the_role(
    aws_managed: int, left: int
) -> None:
    """Each AWS managed policy the library attaches leaves one managed policy fewer."""
    stack, policy = _policy_of_size(90_000, inline=True)  # more than 9,216 + 10 x 6,144
    for _ in range(aws_managed):
        policy.attach_aws_managed_policy("service-role/AmazonFreeRTOSOTAUpdate", "needed")

    with pytest.raises(RuntimeError) as raised:
        Template.from_stack(stack)

    assert (
        "Policies/Policy: the policy of the role needs 90000 characters even with its resources "
        "grouped (tokens at their longest values), more than IAM allows one role (9216 for the "
        f"first policy, then {left} managed policies of 6144): split the OtaUpdates across "
        "stacks or roles"
    ) in str(raised.value)


MOST = 10_240 - 1_024 + 10 * 6_144  # the first part's budget and ten managed policies


@pytest.mark.parametrize(("target", "parts"), [(MOST - 2_500, 11), (MOST + 1_000, None)])
def test_a_role_holds_its_first_policy_and_ten_managed_ones_and_no_more(
    target: int, parts: int | None
) -> None:
    stack, policy = _policy_of_size(target, inline=True, statements=2)
    if parts is None:
        with pytest.raises(RuntimeError, match="more than IAM allows one role"):
            Template.from_stack(stack)
        assert policy.parts == []  # nothing half-made
        return
    template = Template.from_stack(stack)

    assert len(policy.parts) == parts
    assert len(template.find_resources("AWS::IAM::ManagedPolicy")) == parts - 1


def test_the_parts_of_a_spill_are_named_and_described_in_order() -> None:
    stack, policy = _policy_of_size(20_000, inline=False)
    managed = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy")

    assert [(stack.get_logical_id(p), p.description) for p in policy.parts] == [  # type: ignore[union-attr]
        (logical_id, resource["Properties"]["Description"])
        for logical_id, resource in managed.items()
    ]
    assert [p.node.id for p in policy.parts] == ["Resource", "Overflow1", "Overflow2", "Overflow3"]
    assert [p.description for p in policy.parts] == [  # type: ignore[union-attr]
        f"Part {n} of the grants of Policies/Policy (cdk-ota-update)" for n in (1, 2, 3, 4)
    ]


def test_names_and_descriptions_keep_within_iams_limits_on_a_long_path() -> None:
    """A policy name is at most 128 characters, a managed policy's description 1,000."""
    deep = "/".join(f"Level{n}" + "x" * 200 for n in range(6)) + "/Policy"
    stack, policy = _policy_of_size(20_000, inline=True, scope=deep)
    Template.from_stack(stack)

    first, *managed = policy.parts
    assert isinstance(first, iam.CfnPolicy)
    assert first.policy_name == Names.unique_id(policy)[-128:]
    assert len(first.policy_name) == 128
    descriptions = [m.description for m in managed if isinstance(m, iam.CfnManagedPolicy)]
    assert [len(d or "") for d in descriptions] == [1_000] * len(managed)


def test_resources_that_resolve_alike_are_one_whatever_their_tokens() -> None:
    stack = cdk.Stack(cdk.App(), "Policies")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("iot.amazonaws.com"))
    policy = ScopedPolicy(stack, "Policy", role=role)
    same = [Resource.fixed(cdk.Fn.import_value("FirmwareBucketArn")) for _ in range(3)]
    other = Resource.fixed(cdk.Fn.import_value("OtherBucketArn"))
    policy.add([Grant(("s3:ListBucket",), (*same, other))])
    (inline,) = Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()

    (statement,) = inline["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == [
        {"Fn::ImportValue": "FirmwareBucketArn"},
        {"Fn::ImportValue": "OtherBucketArn"},
    ]


def test_a_spill_without_grouping_is_announced_in_full() -> None:
    stack, _ = _policy_of_size(12_000, inline=True)
    Template.from_stack(stack)

    (warning,) = Annotations.from_stack(stack).find_warning("*", Match.any_value())
    assert warning.entry.data == (
        "The exact resource list of this role's policy needs 12000 characters (tokens at their "
        "longest values), over IAM's 9216-character budget for it, so resources are grouped "
        "(nothing grouped): now 12000 characters, and spilled into 1 managed policy attached to "
        "the same role. Split the OtaUpdates across stacks, or pass roles of your own, to keep "
        "exact resources. [ack: cdk-ota-update:policy-grouped]"
    )


def test_grants_after_planning_are_refused() -> None:
    stack, policy = _policy_of_size(1_000, inline=True)
    Template.from_stack(stack)
    late = Grant(("s3:GetObject",), (Resource.fixed("arn:aws:s3:::late/x"),))

    with pytest.raises(RuntimeError) as raised:
        policy.add([late])

    assert str(raised.value) == "Policies/Policy: grants added after synth planned the policy"


def test_grants_merge_by_actions_and_conditions_whatever_their_order() -> None:
    stack = cdk.Stack(cdk.App(), "Policies")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("iot.amazonaws.com"))
    policy = ScopedPolicy(stack, "Policy", role=role)
    one, two = (Resource.fixed(f"arn:aws:s3:::b/{n}") for n in ("one", "two"))
    tagged = {"StringEquals": {"aws:ResourceTag/a": "1", "aws:ResourceTag/b": "2"}}
    reordered = {"StringEquals": {"aws:ResourceTag/b": "2", "aws:ResourceTag/a": "1"}}
    other = {"StringEquals": {"aws:ResourceTag/a": "3"}}
    policy.add(
        [
            Grant(("s3:GetObject",), (one,), tagged),
            Grant(("s3:GetObject",), (two,), reordered),
            Grant(("s3:GetObject",), (one,)),
            Grant(("s3:GetObject",), (two,), other),
        ]
    )
    (inline,) = Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()

    assert [
        (s.get("Condition"), s["Resource"])
        for s in inline["Properties"]["PolicyDocument"]["Statement"]
    ] == [
        (tagged, ["arn:aws:s3:::b/one", "arn:aws:s3:::b/two"]),
        (None, ["arn:aws:s3:::b/one"]),
        (other, ["arn:aws:s3:::b/two"]),
    ]


def test_an_aws_managed_policy_is_attached_in_an_app_without_cdk_nag() -> None:
    """Nothing to acknowledge then: the synth passes, cdk-nag never imported."""
    program = (
        "import sys, aws_cdk as cdk\n"
        "from aws_cdk import aws_iam as iam\n"
        "from cdk_ota_update.policy import Grant, Resource, ScopedPolicy\n"
        "stack = cdk.Stack(cdk.App(), 'Policies')\n"
        "role = iam.Role(stack, 'Role', assumed_by=iam.ServicePrincipal('iot.amazonaws.com'))\n"
        "policy = ScopedPolicy(stack, 'Policy', role=role)\n"
        "policy.add([Grant(('s3:GetObject',), (Resource.fixed('arn:aws:s3:::b/*'),))])\n"
        "policy.attach_aws_managed_policy('service-role/AmazonFreeRTOSOTAUpdate', 'needed')\n"
        "cdk.App.of(stack).synth()\n"
        "print('cdk_nag' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "constructs")}
    result = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


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


# (kind, an exact ARN of it, the ARN grouping them all, how the warning names them)
KINDS = [
    (PROFILES, "signing-profiles/p{:063d}", "signing-profiles/*", "signing profiles"),
    (SIGNING_JOBS, "signing-jobs/j{:063d}", "signing-jobs/*", "signing jobs"),
    (STREAMS, "stream/s{:0127d}", "stream/*", "streams"),
    (JOBS, "job/AFR_OTA-{:056d}", "job/AFR_OTA-*", "jobs"),
]


@pytest.mark.parametrize(("kind", "exact", "every", "named"), KINDS, ids=[k[3] for k in KINDS])
def test_each_kind_is_grouped_to_all_of_its_kind_in_the_account_and_region(
    kind: Kind, exact: str, every: str, named: str
) -> None:
    arn = signer_arn if kind in (PROFILES, SIGNING_JOBS) else iot_arn
    group = Arn.of(arn(every))
    resources = tuple(Resource((Arn.of(arn(exact.format(i))), group), kind) for i in range(120))
    listed, warning, stack = _planned_resources([Grant(("x:Action",), resources)])

    assert listed == [stack.resolve(group.text)]
    assert re.search(
        rf"resources are grouped \(120 {re.escape(named)} -> {re.escape(every)}\): now \d+ "
        r"characters\. Split the OtaUpdates",
        warning,
    ), warning


def test_what_each_kind_was_grouped_to_is_listed_in_one_warning() -> None:
    jobs = KINDS[3]
    job_group = Arn.of(iot_arn(jobs[2]))
    grants = [
        Grant(
            ("iot:CreateJob",),
            tuple(
                Resource((Arn.of(iot_arn(jobs[1].format(i))), job_group), JOBS) for i in range(90)
            ),
        ),
        Grant(
            ("s3:GetObject",),
            tuple(s3_object("firmware-bucket", f"fw/{i:0100d}/image.bin") for i in range(90)),
        ),
    ]
    _, warning, _ = _planned_resources(grants)

    assert (
        "(90 S3 objects -> 1 folder(s) above their folder, at most the bucket; 90 jobs -> "
        "job/AFR_OTA-*): now "
    ) in warning, warning


def test_each_wildcard_is_acknowledged_to_cdk_nag_with_why_it_is_there() -> None:
    """A grouped resource with the grouping's reason, a wildcard of a grant without a reason of
    its own with the library's general one."""
    import cdk_nag  # noqa: F401  (an app using cdk-nag: the library acknowledges to it)

    every = Arn.of(signer_arn("signing-profiles/*"))
    profiles = tuple(
        Resource((Arn.of(signer_arn(f"signing-profiles/p{i:063d}")), every), PROFILES)
        for i in range(120)
    )
    stack = cdk.Stack(cdk.App(), "Policies")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("iot.amazonaws.com"))
    policy = ScopedPolicy(stack, "Policy", role=role)
    policy.add(
        [
            Grant(("signer:StartSigningJob",), profiles),
            Grant(("s3:GetObject",), (Resource.fixed("arn:aws:s3:::firmware/*"),)),
            Grant(("s3:PutObject",), (Resource.fixed("arn:aws:s3:::signed/*"),), reason="Mine."),
        ]
    )
    Template.from_stack(stack)

    (part,) = policy.parts
    acknowledged: dict[str, str] = {}
    for entry in part.node.metadata:
        if entry.type == "aws:cdk:acknowledged-rules":
            acknowledged.update(entry.data)
    profiles_arn = stack.resolve(every.text)
    assert acknowledged == {
        f"Annotation::AwsSolutions-IAM5[Resource::{_nag_text(profiles_arn)}]": (
            "The exact resource list would exceed IAM's policy size limits, so cdk-ota-update "
            "grouped these resources by folder, bucket or the service's name prefix (see the "
            "synth warning)."
        ),
        "Annotation::AwsSolutions-IAM5[Resource::arn:aws:s3:::firmware/*]": (
            "Granted by cdk-ota-update: the OTA update service needs this resource for the OTA "
            "updates of this stack; limited to this account and Region."
        ),
        "Annotation::AwsSolutions-IAM5[Resource::arn:aws:s3:::signed/*]": "Mine.",
    }


def _nag_text(resolved: Any) -> str:
    """How cdk-nag writes a resolved ARN in its finding (``Fn::Join`` of pseudo parameters)."""
    parts = resolved["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else f"<{p['Ref']}>" for p in parts)


def test_targets_are_grouped_to_all_things_and_groups_of_the_account_and_region() -> None:
    targets = tuple(target(iot_arn(f"thinggroup/g{i:0127d}")) for i in range(120))
    listed, warning, stack = _planned_resources([Grant(("iot:CreateJob",), targets)])

    assert listed == [stack.resolve(iot_arn("thinggroup/*"))]
    assert "(120 targets -> thing/* and thinggroup/* of their account and Region)" in warning


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


def _longest(text: str) -> int:
    """The length of ``text`` with its pseudo parameters at their longest (``LONGEST``)."""
    values = {"<P>": LONGEST.partition, "<R>": LONGEST.region, "<A>": LONGEST.account}
    for name, value in values.items():
        text = text.replace(name, value)
    return len(text)


def _exact_sizes(grants: list[Grant]) -> dict[str, int]:
    """Each grant's first resource (exact level), by its first action (the first grant of that
    action): its size as counted."""
    sizes: dict[str, int] = {}
    for grant in grants:
        sizes.setdefault(grant.actions[0], grant.resources[0].levels[0].size)
    return sizes


def test_a_token_counts_as_the_longest_value_of_what_it_stands_for() -> None:
    """IAM's and the services' longest names: a bucket 63, an object key 1,024, a thing group,
    stream 128, a job id 64 (AFR_OTA- included), a profile and a signing job 64."""
    stack = cdk.Stack(cdk.App(), "Tokens")
    token = cdk.Fn.import_value("Elsewhere")
    request = {
        "otaUpdateId": token,
        "targets": [iot_arn(f"thinggroup/{token}")],
        "files": [
            {
                "fileLocation": {"s3Location": {"bucket": token, "key": token}},
                "codeSigning": {"awsSignerJobId": token},
            },
            {
                "fileLocation": {"stream": {"streamId": token, "fileId": 0}},
                "codeSigning": {
                    "startSigningJobParameter": {
                        "signingProfileName": token,
                        "destination": {"s3Destination": {"bucket": token}},
                    }
                },
            },
        ],
    }
    grants = list(service_role_grants(request))
    assert stack  # the tokens' app

    iot, signing = "arn:<P>:iot:<R>:<A>:", "arn:<P>:signer:<R>:<A>:/"
    assert _exact_sizes(grants) == {
        "iot:CreateJob": _longest(f"{iot}job/") + 64,
        "iot:DescribeJob": _longest(f"{iot}job/") + 64,
        "s3:GetObject": _longest("arn:<P>:s3:::") + 63 + 1 + 1024,
        "s3:GetBucketLocation": _longest("arn:<P>:s3:::") + 63,
        "iot:CreateStream": _longest(f"{iot}stream/AFR_OTA-*"),
        "iot:DescribeStream": _longest(f"{iot}stream/") + 128,
        "signer:DescribeSigningJob": _longest(f"{signing}signing-jobs/") + 64,
        "signer:StartSigningJob": _longest(f"{signing}signing-profiles/") + 64,
        "s3:PutObject": _longest("arn:<P>:s3:::") + 63 + len("/*"),
    }
    create_job = next(g for g in grants if g.actions[0] == "iot:CreateJob")
    assert create_job.resources[1].levels[0].size == _longest(f"{iot}thinggroup/") + 128


@pytest.mark.parametrize(
    ("path", "longest"),
    [(None, len("arn:<P>:iam::<A>:role") + 512 + 64), ("/", len("arn:<P>:iam::<A>:role/") + 64)],
)
def test_a_role_token_counts_as_the_longest_role_arn_of_its_path(
    path: str | None, longest: int
) -> None:
    arn = cdk.Fn.import_value("RoleArn")
    expected = longest - len("<P><A>") + len(LONGEST.partition + LONGEST.account)
    assert role_arn(arn, path).levels[0].size == expected


def test_a_token_nothing_is_known_about_counts_as_iams_longest_arn() -> None:
    assert Resource.fixed(cdk.Fn.import_value("Anything")).levels[0].size == 2048


# The apps' exact sizes last: their synths are the slow part of this file.
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


def test_hundreds_of_ota_updates_keep_both_policies_within_iams_limit() -> None:
    # 400 OtaUpdates in one stack (~4 s: not in the fast loop).
    s = cdk.Stack(cdk.App(), "Test")
    bucket = s3.Bucket.from_bucket_name(s, "Fw", "firmware-bucket")
    for index in range(400):
        ota(
            s,
            f"Ota{index}",
            files=[
                OtaUpdateFile(
                    file_location=FileLocation.from_bucket(
                        bucket, f"fw/v{index % 4}/image-{index}.bin"
                    )
                )
            ],
        )
    t = template(s)
    reads = []
    for name, policy in t.find_resources("AWS::IAM::Policy").items():
        document = policy["Properties"]["PolicyDocument"]
        assert len(json.dumps(document, separators=(",", ":"))) < 10_240, name
        for statement in document["Statement"]:
            actions = statement["Action"]
            if "s3:GetObject" in (actions if isinstance(actions, list) else [actions]):
                reads += statement["Resource"]
    Annotations.from_stack(s).has_warning(
        "/Test/OtaUpdateServiceRole/Policy",
        Match.string_like_regexp("400 S3 objects -> their folder"),
    )
    texts = {
        r
        if isinstance(r, str)
        else "".join(p if isinstance(p, str) else "{}" for p in r["Fn::Join"][1])
        for r in reads
    }
    assert texts == {f"arn:{{}}:s3:::firmware-bucket/fw/v{n}/*" for n in range(4)}
