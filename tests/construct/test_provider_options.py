"""The provider's options, set once per stack with ``OtaUpdateProvider.configure`` (before or
after the stack's OtaUpdates): each one as the template renders it, and each refusal at synth."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_support import isolated_vpc, ota, stack, template

from cdk_ota_update import (
    OtaUpdateProvider,
    OtaUpdateServiceRole,
    OtaUpdateValidationError,
    api,
    provider,
)
from cdk_ota_update.policy import Grant, Resource

VPC_ACCESS = "service-role/AWSLambdaVPCAccessExecutionRole"
THING = "arn:aws:iot:eu-west-1:123456789012:thing"


def _function(s: cdk.Stack) -> dict[str, Any]:
    (function,) = template(s).find_resources("AWS::Lambda::Function").values()
    return function["Properties"]  # type: ignore[no-any-return]


def _provider_role(s: cdk.Stack) -> dict[str, Any]:
    roles = template(s).find_resources("AWS::IAM::Role")
    (role,) = [r for k, r in roles.items() if k.startswith("OtaUpdateProviderRole")]
    return role["Properties"]  # type: ignore[no-any-return]


# 1. Nothing configured, or configure() without options: the provider as it always was.


def test_configure_without_options_is_the_provider_of_an_unconfigured_stack() -> None:
    plain, configured = stack(), stack()
    ota(plain)
    OtaUpdateProvider.configure(configured)
    ota(configured)
    assert template(configured).to_json() == template(plain).to_json()


def test_every_app_of_a_process_gets_the_same_provider_and_service_role() -> None:
    # The provider's durations, runtime and trusted principals are made once per process and
    # shared by every stack: none may change them for the next (a configured one included).
    first = stack()
    ota(first)
    configured = stack()
    OtaUpdateProvider.configure(configured, timeout=cdk.Duration.minutes(10))
    ota(configured)
    later = stack()
    ota(later)
    assert _function(configured)["Timeout"] == 600
    assert template(later).to_json() == template(first).to_json()


def test_options_apply_to_every_ota_update_of_their_stack_and_no_other() -> None:
    app = cdk.App()
    configured, other = cdk.Stack(app, "Configured"), cdk.Stack(app, "Other")
    OtaUpdateProvider.configure(configured, memory_size=1024)
    for s in (configured, other):
        ota(s, "Release1")
        ota(s, "Release2")
    assert _function(configured)["MemorySize"] == 1024
    assert _function(other)["MemorySize"] == 256
    assert len(template(configured).find_resources("AWS::Lambda::Function")) == 1


def test_configure_again_with_the_same_options_returns_the_same_provider() -> None:
    s = stack()
    vpc = isolated_vpc(s)
    first = OtaUpdateProvider.configure(s, timeout=cdk.Duration.minutes(10), vpc=vpc)
    ota(s)
    # From a construct of the stack, the same timeout in other units.
    again = OtaUpdateProvider.configure(vpc, timeout=cdk.Duration.seconds(600), vpc=vpc)
    assert again is first is OtaUpdateProvider.of(s)


# 2. Order: configure before or after the stack's OtaUpdates, one provider either way.


def _vpc_options(s: cdk.Stack) -> dict[str, Any]:
    vpc = isolated_vpc(s)
    return {
        "vpc": vpc,
        "vpc_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        "security_groups": [ec2.SecurityGroup(s, "Egress", vpc=vpc, allow_all_outbound=True)],
    }


def _key_and_boundary(s: cdk.Stack) -> dict[str, Any]:
    return {
        "environment_encryption": kms.Key(s, "Key", enable_key_rotation=True),
        "permissions_boundary": iam.ManagedPolicy.from_managed_policy_name(s, "Boundary", "b"),
    }


OPTION_SETS: dict[str, Callable[[cdk.Stack], dict[str, Any]]] = {
    "memory and timeout": lambda _: {
        "memory_size": 1024,
        "timeout": cdk.Duration.minutes(10),
    },
    "vpc, subnets and security groups": _vpc_options,
    "key and permissions boundary": _key_and_boundary,
    "logs, concurrency and architecture": lambda _: {
        "log_retention": logs.RetentionDays.ONE_WEEK,
        "log_removal_policy": cdk.RemovalPolicy.DESTROY,
        "reserved_concurrent_executions": 2,
        "architecture": lambda_.Architecture.X86_64,
    },
}


def _configured_stack(
    options: Callable[[cdk.Stack], dict[str, Any]], *, after: bool, context: dict[str, Any]
) -> cdk.Stack:
    """Two OtaUpdates and the provider configured with ``options``, before or ``after`` them."""
    s = cdk.Stack(cdk.App(context=context), "Test")
    given = options(s)
    if not after:
        OtaUpdateProvider.configure(s, **given)
    ota(s, "Release1")
    ota(s, "Release2", targets=[f"{THING}/d2"])
    if after:
        OtaUpdateProvider.configure(s, **given)
    return s


@pytest.mark.parametrize("options", list(OPTION_SETS.values()), ids=list(OPTION_SETS))
def test_configure_after_the_ota_updates_gives_the_template_of_configure_before_them(
    options: Callable[[cdk.Stack], dict[str, Any]],
) -> None:
    before = template(_configured_stack(options, after=False, context={})).to_json()
    after = template(_configured_stack(options, after=True, context={})).to_json()
    assert after == before
    assert len([r for r in after["Resources"].values() if r["Type"] == "AWS::Lambda::Function"])
    assert after != template(_configured_stack(lambda _: {}, after=True, context={})).to_json()


@pytest.mark.parametrize("stabilized", [False, True], ids=["aspects v1", "aspects v2"])
def test_configure_after_works_with_either_aspect_invocation_and_tags_reach_the_provider(
    stabilized: bool,
) -> None:
    # The provider is built by an aspect at synth: with CDK's aspect stabilization or without,
    # before Tags.of(...) (an aspect too) visits its constructs.
    context = {"@aws-cdk/core:aspectStabilization": stabilized}
    stacks = [
        _configured_stack(_vpc_options, after=after, context=context) for after in (False, True)
    ]
    for s in stacks:
        cdk.Tags.of(s.node.root).add("team", "firmware")
    before, after = (template(s).to_json() for s in stacks)
    assert after == before
    function = _function(stacks[1])
    assert {"Key": "team", "Value": "firmware"} in function["Tags"]
    assert "VpcConfig" in function


def test_a_timeout_configured_after_the_ota_updates_sets_their_service_timeout() -> None:
    s = stack()
    ota(s, "Release1")
    ota(s, "Release2", targets=[f"{THING}/d2"])
    OtaUpdateProvider.configure(s, timeout=cdk.Duration.minutes(10))
    ota(s, "Release3", targets=[f"{THING}/d3"])
    expected = str(api.TimeBudget(600).service_timeout_seconds)
    timeouts = [
        r["Properties"]["ServiceTimeout"]
        for r in template(s).find_resources("Custom::OtaUpdate").values()
    ]
    assert timeouts == [expected] * 3
    assert expected != str(api.TimeBudget().service_timeout_seconds)


def test_the_provider_is_one_construct_of_the_stack_whatever_the_order() -> None:
    s = stack()
    ota(s, "Release1")
    configured = OtaUpdateProvider.configure(s, memory_size=512)
    ota(s, "Release2", targets=[f"{THING}/d2"])
    assert configured is OtaUpdateProvider.of(s) is s.node.find_child("OtaUpdateProvider")
    assert len(template(s).find_resources("AWS::Lambda::Function")) == 1
    assert _function(s)["MemorySize"] == 512


def test_a_service_role_made_before_the_provider_leaves_the_providers_policy_planned() -> None:
    # The library's policies are planned by an aspect on the stack's first one; a provider
    # built at synth after it plans its own.
    early = stack()
    OtaUpdateServiceRole.of(early).attach_aws_managed_policy()
    ota(early)
    plain = stack()
    ota(plain)
    OtaUpdateServiceRole.of(plain).attach_aws_managed_policy()
    assert _provider_policies(early) == _provider_policies(plain) != []


def test_reading_the_providers_function_builds_it_with_the_options_known_then() -> None:
    s = stack()
    ota(s)
    function = OtaUpdateProvider.of(s).function
    ota(s, "Release2", targets=[f"{THING}/d2"])
    plain = stack()
    ota(plain)
    ota(plain, "Release2", targets=[f"{THING}/d2"])
    assert function is OtaUpdateProvider.of(s).function
    assert template(s).to_json() == template(plain).to_json()


# 3. Each option, as rendered.


def test_memory_size_is_the_functions() -> None:
    s = stack()
    OtaUpdateProvider.configure(s, memory_size=1769)
    ota(s)
    assert _function(s)["MemorySize"] == 1769


@pytest.mark.parametrize("minutes", [3, 10, 15])
def test_timeout_sets_the_function_and_the_bounds_derived_from_it(minutes: int) -> None:
    s = stack()
    OtaUpdateProvider.configure(s, timeout=cdk.Duration.minutes(minutes))
    ota(s)
    t = template(s)
    function = _function(s)
    (invoke,) = t.find_resources("AWS::Lambda::EventInvokeConfig").values()
    (resource,) = t.find_resources("Custom::OtaUpdate").values()
    max_wait = int(function["Environment"]["Variables"]["OTA_MAX_WAIT_SECONDS"])
    event_age = invoke["Properties"]["MaximumEventAgeInSeconds"]
    service_timeout = int(resource["Properties"]["ServiceTimeout"])
    assert function["Timeout"] == minutes * 60
    assert invoke["Properties"]["MaximumRetryAttempts"] == 0
    # CloudFormation waits for the worst case of an answer: an event Lambda kept for its maximum
    # age, the longest wait, the invocation that gives up, and its answer...
    assert event_age + max_wait + function["Timeout"] + api.ANSWER_SECONDS < service_timeout
    # ...within CloudFormation's own bound on a custom resource's ServiceTimeout.
    assert service_timeout <= 3600


def test_the_shortest_timeout_leaves_each_invocation_two_minutes_to_wait() -> None:
    # An invocation stops waiting the handler's margin before its end (an IoT call under way,
    # the hand-over to the next invocation, the answer); what is left is its time to wait.
    assert api.MIN_FUNCTION_TIMEOUT_SECONDS - api.HANDOVER_MARGIN_SECONDS >= 120


def test_vpc_places_the_function_in_the_chosen_subnets_with_its_security_groups() -> None:
    s = stack()
    vpc = isolated_vpc(s)
    group = ec2.SecurityGroup(s, "Egress", vpc=vpc, allow_all_outbound=True)
    OtaUpdateProvider.configure(
        s,
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        security_groups=[group],
    )
    ota(s)
    config = _function(s)["VpcConfig"]
    assert config["SecurityGroupIds"] == [s.resolve(group.security_group_id)]
    assert config["SubnetIds"] == [s.resolve(n.subnet_id) for n in vpc.isolated_subnets]
    assert VPC_ACCESS in json.dumps(_provider_role(s)["ManagedPolicyArns"])


def test_vpc_leaves_one_managed_policy_fewer_for_a_policy_that_spills() -> None:
    def provider_policies(vpc: bool) -> int:
        """Managed policies attached to the provider's role, with 800 long bucket ARNs granted
        (one inline part and ten managed ones of 6,144 characters: IAM's quota per role)."""
        s = stack()
        OtaUpdateProvider.configure(s, vpc=isolated_vpc(s) if vpc else None)
        ota(s)
        OtaUpdateProvider.of(s).policy.add(
            [
                Grant(
                    ("s3:ListBucket",),
                    tuple(Resource.fixed(f"arn:aws:s3:::{i:060d}") for i in range(800)),
                )
            ]
        )
        t = template(s)
        managed = len(t.find_resources("AWS::IAM::ManagedPolicy"))
        return managed + len(_provider_role(s).get("ManagedPolicyArns", []))

    assert provider_policies(vpc=False) == 10
    with pytest.raises(RuntimeError, match="more than IAM allows one role"):
        provider_policies(vpc=True)


def test_log_retention_and_removal_policy_are_the_log_groups() -> None:
    s = stack()
    OtaUpdateProvider.configure(
        s, log_retention=logs.RetentionDays.ONE_WEEK, log_removal_policy=cdk.RemovalPolicy.DESTROY
    )
    ota(s)
    (group,) = template(s).find_resources("AWS::Logs::LogGroup").values()
    assert group["Properties"]["RetentionInDays"] == 7
    assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == "Delete"


def test_permissions_boundary_is_the_provider_roles() -> None:
    s = stack()
    boundary = iam.ManagedPolicy.from_managed_policy_name(s, "Boundary", "ota-boundary")
    OtaUpdateProvider.configure(s, permissions_boundary=boundary)
    ota(s)
    assert _provider_role(s)["PermissionsBoundary"] == s.resolve(boundary.managed_policy_arn)


def _provider_policies(s: cdk.Stack) -> list[Any]:
    return [
        r["Properties"]["PolicyDocument"]
        for k, r in template(s).find_resources("AWS::IAM::Policy").items()
        if k.startswith("OtaUpdateProvider")
    ]


def _bounded(how: str) -> cdk.Stack:
    if how == "none":
        return stack()
    if how == "Stack(permissions_boundary=...)":
        boundary = cdk.PermissionsBoundary.from_name("ota-boundary")
        return cdk.Stack(cdk.App(), "Test", permissions_boundary=boundary)
    s = stack()
    iam.PermissionsBoundary.of(s).apply(
        iam.ManagedPolicy.from_managed_policy_name(s, "Boundary", "ota-boundary")
    )
    return s


@pytest.mark.parametrize(
    "how", ["PermissionsBoundary.of(stack).apply", "Stack(permissions_boundary=...)"]
)
def test_a_stack_wide_permissions_boundary_reaches_the_provider_and_leaves_its_policy(
    how: str,
) -> None:
    plain, bounded = _bounded("none"), _bounded(how)
    for s in (plain, bounded):
        for index in range(3):
            ota(s, f"Release{index}", targets=[f"{THING}/d{index}"])
    assert "ota-boundary" in json.dumps(_provider_role(bounded)["PermissionsBoundary"])
    assert "PermissionsBoundary" not in _provider_role(plain)
    assert _provider_policies(bounded) == _provider_policies(plain)


def test_environment_encryption_uses_the_key_and_lets_the_role_decrypt() -> None:
    s = stack()
    key = kms.Key(s, "Key", enable_key_rotation=True)
    OtaUpdateProvider.configure(s, environment_encryption=key)
    ota(s)
    assert _function(s)["KmsKeyArn"] == s.resolve(key.key_arn)
    statements = [st for doc in _provider_policies(s) for st in doc["Statement"]]
    assert {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": s.resolve(key.key_arn)} in (
        statements
    )


def test_reserved_concurrency_is_the_functions() -> None:
    s = stack()
    OtaUpdateProvider.configure(s, reserved_concurrent_executions=2)
    ota(s)
    assert _function(s)["ReservedConcurrentExecutions"] == 2


def test_x86_64_is_allowed_for_the_pure_python_handler() -> None:
    s = stack()
    OtaUpdateProvider.configure(s, architecture=lambda_.Architecture.X86_64)
    ota(s)
    assert _function(s)["Architectures"] == ["x86_64"]


# 4. What is refused, and how the message says it: path, option, value, fix.

PATH = "^Test/OtaUpdateProvider: "


def _configure(**options: Any) -> Callable[[cdk.Stack], object]:
    return lambda s: OtaUpdateProvider.configure(s, **options)


def _after_reading_its_function(s: cdk.Stack) -> None:
    ota(s)
    OtaUpdateProvider.of(s).function  # noqa: B018
    OtaUpdateProvider.configure(s, memory_size=512)


def _after_synth(s: cdk.Stack) -> None:
    ota(s)
    template(s)
    OtaUpdateProvider.configure(s, memory_size=512)


def _twice_after_ota_updates(s: cdk.Stack) -> None:
    ota(s)
    OtaUpdateProvider.configure(s, memory_size=512)
    ota(s, "Release2", targets=[f"{THING}/d2"])
    OtaUpdateProvider.configure(s, memory_size=1024)


def _twice(s: cdk.Stack) -> None:
    OtaUpdateProvider.configure(s, memory_size=512, timeout=cdk.Duration.minutes(10))
    OtaUpdateProvider.configure(s, memory_size=1024, timeout=cdk.Duration.minutes(10))


def _subnets_without_vpc(s: cdk.Stack) -> None:
    OtaUpdateProvider.configure(
        s, vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    )


def _groups_without_vpc(s: cdk.Stack) -> None:
    group = ec2.SecurityGroup.from_security_group_id(s, "Group", "sg-12345678")
    OtaUpdateProvider.configure(s, security_groups=[group])


REFUSED: list[tuple[str, Callable[[cdk.Stack], object], str]] = [
    (
        "configure after the app read the provider's function",
        _after_reading_its_function,
        r"OtaUpdateProvider.configure\(memory_size = 512 \(now 256\)\) is invalid: the provider "
        r"was built already with its defaults, when its function was read: call "
        r"OtaUpdateProvider.configure\(stack, \.\.\.\) before reading the provider's role, "
        r"log_group, function or policy, and before synth$",
    ),
    (
        "configure after synth",
        _after_synth,
        r"OtaUpdateProvider.configure\(memory_size = 512 \(now 256\)\) is invalid: the provider "
        r"was built already with its defaults, when the stack was synthesized: call ",
    ),
    (
        "configure twice with other options, after OtaUpdates",
        _twice_after_ota_updates,
        r"OtaUpdateProvider.configure\(memory_size = 1024 \(now 512\)\) is invalid: it was "
        r"configured already with other options: configure the provider once per stack",
    ),
    (
        "configure twice, the first time with the defaults",
        lambda s: [
            OtaUpdateProvider.configure(s),
            OtaUpdateProvider.configure(s, log_retention=logs.RetentionDays.ONE_WEEK),
        ],
        r"OtaUpdateProvider.configure\(log_retention = RetentionDays.ONE_WEEK \(now "
        r"RetentionDays.THREE_MONTHS\)\) is invalid: it was configured already",
    ),
    (
        "configure twice with other options",
        _twice,
        r"OtaUpdateProvider.configure\(memory_size = 1024 \(now 512\)\) is invalid: it was "
        r"configured already with other options: configure the provider once per stack",
    ),
    (
        "configure twice with another timeout and VPC",
        lambda s: [
            OtaUpdateProvider.configure(s, timeout=cdk.Duration.minutes(4)),
            OtaUpdateProvider.configure(s, timeout=cdk.Duration.minutes(6), vpc=isolated_vpc(s)),
        ],
        r"OtaUpdateProvider.configure\(timeout = 6 minutes \(now 4 minutes\), vpc = Test/Vpc "
        r"\(now None\)\) is invalid: it was configured already",
    ),
    (
        "the provider's id taken by another construct",
        lambda s: [
            cdk.CfnOutput(s, "OtaUpdateProvider", value="x"),
            OtaUpdateProvider.configure(s, memory_size=512),
        ],
        r"the id 'OtaUpdateProvider' is taken by another construct of the stack",
    ),
    (
        "timeout shorter than the handler's margin allows",
        _configure(timeout=cdk.Duration.seconds(179)),
        r"timeout = 2 minutes 59 seconds is invalid: it must be a Duration of whole seconds from "
        r"3 minutes \(each invocation stops waiting 57 s before its end.*\) to 15 minutes",
    ),
    (
        "timeout above Lambda's limit",
        _configure(timeout=cdk.Duration.minutes(16)),
        r"timeout = 16 minutes is invalid: .* to 15 minutes \(Lambda's limit\)",
    ),
    (
        "timeout not in whole seconds",
        _configure(timeout=cdk.Duration.millis(200_500)),
        r"timeout = 200\.5 seconds is invalid: it must be a Duration of whole seconds",
    ),
    (
        "timeout as a number",
        _configure(timeout=300),
        r"timeout = 300 is invalid: it must be a Duration",
    ),
    (
        "timeout as a token",
        lambda s: OtaUpdateProvider.configure(
            s,
            timeout=cdk.Duration.seconds(
                cdk.CfnParameter(s, "Seconds", type="Number").value_as_number
            ),
        ),
        r"timeout = .* is invalid: it must be a Duration of whole seconds .*known at synth",
    ),
    (
        "subnets without a VPC",
        _subnets_without_vpc,
        r"vpc_subnets = SubnetSelection\(.*\) is invalid: it needs vpc: pass the VPC",
    ),
    (
        "security groups without a VPC",
        _groups_without_vpc,
        r"security_groups = \[Test/Group\] is invalid: it needs vpc: pass the VPC",
    ),
    (
        "reserved concurrency 0",
        _configure(reserved_concurrent_executions=0),
        r"reserved_concurrent_executions = 0 is invalid: it must be a whole number of at least 1 "
        r"\(with 0 the handler could never run.*\): leave it out for no reservation$",
    ),
    (
        "memory below Lambda's range",
        _configure(memory_size=64),
        r"memory_size = 64 is invalid: it must be a whole number of MB from 128 to 10240",
    ),
    (
        "memory above Lambda's range",
        _configure(memory_size=10_241),
        r"memory_size = 10241 is invalid: .*from 128 to 10240 \(Lambda's range\)$",
    ),
    (
        "an architecture Lambda has not",
        _configure(architecture=lambda_.Architecture.custom("riscv64")),
        r"architecture = Architecture\('riscv64'\) is invalid: it must be Architecture.ARM_64 "
        r"\(the default\) or Architecture.X86_64$",
    ),
    (
        "a log group snapshot",
        _configure(log_removal_policy=cdk.RemovalPolicy.SNAPSHOT),
        r"log_removal_policy = RemovalPolicy.SNAPSHOT is invalid: it must be "
        r"RemovalPolicy.DESTROY or RemovalPolicy.RETAIN \(a log group has no snapshot\)$",
    ),
]


@pytest.mark.parametrize(
    ("build", "message"), [(b, m) for _, b, m in REFUSED], ids=[c for c, _, _ in REFUSED]
)
def test_invalid_options_are_refused_naming_path_option_value_and_fix(
    build: Callable[[cdk.Stack], object], message: str
) -> None:
    with pytest.raises(OtaUpdateValidationError, match=re.compile(PATH + message, re.DOTALL)):
        build(stack())


# Each row of provider.OPTION_RULES: a value it refuses (with the row's own text) and one it
# allows, as configure's keyword arguments made in the stack.
Options = Callable[[cdk.Stack], dict[str, Any]]
SUBNETS = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)


def _group(s: cdk.Stack) -> ec2.ISecurityGroup:
    return ec2.SecurityGroup.from_security_group_id(s, "Group", "sg-12345678")


def _number_parameter(s: cdk.Stack) -> float:
    return cdk.CfnParameter(s, "Number", type="Number").value_as_number


RULE_CASES: dict[str, tuple[Options, Options]] = {
    "memory_size": (lambda _: {"memory_size": 127.5}, lambda _: {"memory_size": 10_240}),
    "timeout": (
        lambda _: {"timeout": cdk.Duration.seconds(901)},
        lambda _: {"timeout": cdk.Duration.seconds(180)},
    ),
    "vpc_subnets": (
        lambda _: {"vpc_subnets": SUBNETS},
        lambda s: {"vpc": isolated_vpc(s), "vpc_subnets": SUBNETS},
    ),
    "security_groups": (
        lambda s: {"security_groups": [_group(s)]},
        lambda s: {"vpc": isolated_vpc(s), "security_groups": [_group(s)]},
    ),
    "log_removal_policy": (
        lambda _: {"log_removal_policy": cdk.RemovalPolicy.SNAPSHOT},
        lambda _: {"log_removal_policy": cdk.RemovalPolicy.RETAIN},
    ),
    "reserved_concurrent_executions": (
        lambda _: {"reserved_concurrent_executions": 1.5},
        lambda _: {"reserved_concurrent_executions": 1},
    ),
    "architecture": (
        lambda _: {"architecture": lambda_.Architecture.custom("arm32")},
        lambda _: {"architecture": lambda_.Architecture.X86_64},
    ),
}


def test_every_rule_of_the_options_table_has_a_case() -> None:
    assert [rule.option for rule in provider.OPTION_RULES] == list(RULE_CASES)


@pytest.mark.parametrize("rule", provider.OPTION_RULES, ids=lambda r: r.option)
def test_each_rule_refuses_with_its_own_text_and_allows_what_it_allows(
    rule: provider.OptionRule,
) -> None:
    refused, allowed = RULE_CASES[rule.option]
    s = stack()
    given = refused(s)
    with pytest.raises(OtaUpdateValidationError) as raised:
        OtaUpdateProvider.configure(s, **given)
    value = given[rule.option]
    shown = provider._option(tuple(value) if isinstance(value, list) else value)
    assert str(raised.value) == f"Test/OtaUpdateProvider: {rule.option} = {shown} is invalid: " + (
        rule.rule
    )
    s = stack()
    assert OtaUpdateProvider.configure(s, **allowed(s)).configured


# The options a CloudFormation parameter can stand for, and such a value.
TOKENS: dict[str, Callable[[cdk.Stack], Any]] = {
    "memory_size": _number_parameter,
    "timeout": lambda s: cdk.Duration.seconds(_number_parameter(s)),
    "reserved_concurrent_executions": _number_parameter,
}


@pytest.mark.parametrize("option", list(TOKENS))
def test_a_token_is_left_to_deploy_time_only_where_the_rule_says_so(option: str) -> None:
    (rule,) = [r for r in provider.OPTION_RULES if r.option == option]
    s = stack()
    value = TOKENS[option](s)
    if rule.tokens:
        assert OtaUpdateProvider.configure(s, **{option: value}).configured
    else:
        with pytest.raises(OtaUpdateValidationError, match=f"{option} = .* is invalid"):
            OtaUpdateProvider.configure(s, **{option: value})
    assert {r.option for r in provider.OPTION_RULES if r.tokens} == {
        "memory_size",
        "reserved_concurrent_executions",
    }


def test_the_first_rule_broken_in_the_tables_order_is_the_one_refused() -> None:
    with pytest.raises(OtaUpdateValidationError, match="memory_size = 64 is invalid"):
        OtaUpdateProvider.configure(
            stack(), memory_size=64, timeout=cdk.Duration.minutes(1), architecture=None
        )


@pytest.mark.parametrize("taken", ["OtaUpdateProvider", "OtaUpdateServiceRole"])
def test_an_id_the_library_needs_taken_by_a_construct_of_the_app_is_named(taken: str) -> None:
    s = stack()
    cdk.CfnOutput(s, taken, value="x")
    with pytest.raises(
        OtaUpdateValidationError,
        match=rf"^Test/{taken}: the id '{taken}' is taken by another construct of the stack: "
        r"the library needs it; give that construct another id$",
    ):
        ota(s)
