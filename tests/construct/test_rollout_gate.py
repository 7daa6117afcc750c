"""``OtaUpdate(rollout_gate=RolloutGate(...))`` at synth (issue 21 item 5): the gate's property, its
checks, the ServiceTimeout it grows, and the one permission it adds (only with a gate)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_support import ota, ota_properties, stack, template

from cdk_ota_update import OtaUpdateProvider, OtaUpdateValidationError, RolloutGate, api

pytestmark = pytest.mark.fast  # the loop on every change (CONTRIBUTING.md)

PATH = "Test/Ota"
# The creation's part of the default ServiceTimeout, and the longest gate beside it.
DEFAULT_SERVICE_TIMEOUT = 1545
LONGEST_GATE = api.SERVICE_TIMEOUT_MAX - DEFAULT_SERVICE_TIMEOUT  # 2055 s


def _provider_statements(scope: cdk.Stack) -> list[dict[str, Any]]:
    policies = template(scope).find_resources("AWS::IAM::Policy")
    (provider,) = [p for k, p in policies.items() if k.startswith("OtaUpdateProvider")]
    statements: list[dict[str, Any]] = provider["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statements: list[dict[str, Any]]) -> list[str]:
    found = [s["Action"] for s in statements]
    return sorted(a for action in found for a in ([action] if isinstance(action, str) else action))


def test_the_gate_is_rendered_under_its_wire_names_with_the_default_timeout() -> None:
    scope = stack()
    ota(scope, rollout_gate=RolloutGate(min_succeeded_percentage=95, max_failed_percentage=2.5))

    (properties,) = ota_properties(scope)

    assert properties["rolloutGate"] == {
        "minSucceededPercentage": 95,
        "maxFailedPercentage": 2.5,
        "timeoutSeconds": 1200,
    }


def test_a_gate_with_every_member_is_rendered_whole() -> None:
    scope = stack()
    gate = RolloutGate(
        min_succeeded_percentage=100,
        max_failed_percentage=0,
        min_executions=0,
        timeout=cdk.Duration.minutes(30),
    )
    ota(scope, rollout_gate=gate)

    (properties,) = ota_properties(scope)

    assert properties["rolloutGate"] == {
        "minSucceededPercentage": 100,
        "maxFailedPercentage": 0,
        "minExecutions": 0,
        "timeoutSeconds": 1800,
    }


def test_the_gate_is_keyword_only_and_frozen() -> None:
    gate = RolloutGate(min_executions=5)

    with pytest.raises(TypeError):
        RolloutGate(95)  # type: ignore[call-arg]
    with pytest.raises(AttributeError):
        gate.min_executions = 6  # type: ignore[misc]


def test_the_gate_grows_the_service_timeout_by_its_timeout() -> None:
    scope = stack()
    ota(
        scope, "Gated", rollout_gate=RolloutGate(min_executions=1, timeout=cdk.Duration.minutes(30))
    )
    ota(scope, "Plain")

    timeouts = sorted(int(p["ServiceTimeout"]) for p in ota_properties(scope))

    assert timeouts == [DEFAULT_SERVICE_TIMEOUT, DEFAULT_SERVICE_TIMEOUT + 1800]


def test_the_longest_gate_that_fits_reaches_cloudformations_limit() -> None:
    scope = stack()
    ota(scope, rollout_gate=RolloutGate(min_executions=1, timeout=cdk.Duration.seconds(2055)))

    (properties,) = ota_properties(scope)

    assert int(properties["ServiceTimeout"]) == api.SERVICE_TIMEOUT_MAX == 3600
    assert api.TimeBudget().max_gate_seconds == LONGEST_GATE == 2055


@pytest.mark.parametrize(
    ("gate", "error"),
    [
        (
            RolloutGate(),
            "rolloutGate = {'timeoutSeconds': 1200} is invalid: it must be a structure with at "
            "least one of minSucceededPercentage, maxFailedPercentage, minExecutions (a gate "
            "passes or fails on the job's executions)",
        ),
        (
            RolloutGate(timeout=cdk.Duration.minutes(5)),
            "rolloutGate = {'timeoutSeconds': 300} is invalid: it must be a structure with at "
            "least one of minSucceededPercentage, maxFailedPercentage, minExecutions (a gate "
            "passes or fails on the job's executions)",
        ),
        (
            RolloutGate(min_succeeded_percentage=100.5),
            "rolloutGate.minSucceededPercentage = 100.5 is invalid: it must be a number from 0 "
            "to 100",
        ),
        (
            RolloutGate(max_failed_percentage=-1),
            "rolloutGate.maxFailedPercentage = -1 is invalid: it must be a number from 0 to 100",
        ),
        (
            RolloutGate(max_failed_percentage=True),
            "rolloutGate.maxFailedPercentage = True is invalid: it must be a finite number",
        ),
        (
            RolloutGate(min_executions=-1),
            "rolloutGate.minExecutions = -1 is invalid: it must be an integer at least 0",
        ),
        (
            RolloutGate(min_executions=2.5),  # type: ignore[arg-type]
            "rolloutGate.minExecutions = 2.5 is invalid: it must be an integer",
        ),
        (
            RolloutGate(min_executions=1, timeout=cdk.Duration.seconds(2056)),
            "rolloutGate.timeoutSeconds = 2056 is invalid: it must be an integer from 1 to 2055 "
            "(CloudFormation waits at most 3600 s for a custom resource and the creation's wait "
            "takes 1545 s of it: shorten the gate's timeout, or the provider's function timeout "
            "(OtaUpdateProvider.configure(timeout=...)))",
        ),
        (
            RolloutGate(min_executions=1, timeout=cdk.Duration.millis(1500)),
            "rolloutGate.timeoutSeconds = 1.5 is invalid: it must be an integer",
        ),
        (
            RolloutGate(min_executions=1, timeout=cdk.Duration.seconds(0)),
            "rolloutGate.timeoutSeconds = 0 is invalid: it must be an integer from 1 to 2055 "
            "(CloudFormation waits at most 3600 s for a custom resource and the creation's wait "
            "takes 1545 s of it: shorten the gate's timeout, or the provider's function timeout "
            "(OtaUpdateProvider.configure(timeout=...)))",
        ),
    ],
)
def test_a_bad_gate_is_refused_at_synth_naming_path_member_value_and_fix(
    gate: RolloutGate, error: str
) -> None:
    with pytest.raises(OtaUpdateValidationError) as raised:
        ota(stack(), rollout_gate=gate)

    assert str(raised.value) == f"{PATH}: {error}"


@pytest.mark.parametrize(
    ("gate", "error"),
    [
        (
            {"min_succeeded_percentage": 95},
            "rollout_gate = {'min_succeeded_percentage': 95} is invalid: it must be a "
            "RolloutGate(min_succeeded_percentage=..., max_failed_percentage=..., "
            "min_executions=..., timeout=...)",
        ),
        (
            RolloutGate(min_executions=1, timeout=1200),  # type: ignore[arg-type]
            "rollout_gate.timeout = 1200 is invalid: it must be a Duration known at synth (the "
            "resource's ServiceTimeout is derived from it), for example Duration.minutes(20)",
        ),
    ],
)
def test_a_gate_of_the_wrong_kind_is_refused_saying_what_fits(gate: Any, error: str) -> None:
    with pytest.raises(OtaUpdateValidationError) as raised:
        ota(stack(), rollout_gate=gate)

    assert str(raised.value) == f"{PATH}: {error}"


def test_percentages_only_known_at_deploy_time_are_left_to_the_handler() -> None:
    scope = stack()
    threshold = cdk.CfnParameter(scope, "Threshold", type="Number").value_as_number
    ota(scope, rollout_gate=RolloutGate(min_succeeded_percentage=threshold))

    (properties,) = ota_properties(scope)

    assert properties["rolloutGate"]["minSucceededPercentage"] == {"Ref": "Threshold"}


def test_a_longer_function_timeout_leaves_less_for_the_gate() -> None:
    scope = stack()
    OtaUpdateProvider.configure(scope, timeout=cdk.Duration.minutes(15))
    budget = api.TimeBudget(900)

    with pytest.raises(OtaUpdateValidationError) as raised:
        ota(scope, rollout_gate=RolloutGate(min_executions=1, timeout=cdk.Duration.minutes(25)))

    assert budget.max_gate_seconds == 1455
    assert str(raised.value).startswith(
        f"{PATH}: rolloutGate.timeoutSeconds = 1500 is invalid: it must be an integer from 1 to "
        "1455 (CloudFormation waits at most 3600 s for a custom resource and the creation's wait "
        "takes 2145 s of it"
    )


def test_a_timeout_configured_after_the_gate_that_leaves_it_no_room_fails_the_synth() -> None:
    scope = stack()
    ota(scope, rollout_gate=RolloutGate(min_executions=1, timeout=cdk.Duration.minutes(30)))
    OtaUpdateProvider.configure(scope, timeout=cdk.Duration.minutes(15))

    with pytest.raises(RuntimeError) as raised:
        template(scope)

    assert (
        f"{PATH}: rolloutGate.timeoutSeconds = 1800 is invalid: it must be an integer from 1 to "
        "1455"
    ) in str(raised.value)


def test_a_timeout_configured_after_the_gate_sets_its_service_timeout_with_the_gate() -> None:
    scope = stack()
    ota(scope, rollout_gate=RolloutGate(min_executions=1, timeout=cdk.Duration.minutes(10)))
    OtaUpdateProvider.configure(scope, timeout=cdk.Duration.minutes(10))

    (properties,) = ota_properties(scope)

    assert properties["ServiceTimeout"] == str(
        api.TimeBudget(600, gate_seconds=600).service_timeout_seconds
    )
    assert properties["ServiceTimeout"] == str(300 + 900 + 600 + 600 + 15 + 30)


def test_without_a_gate_the_provider_may_not_cancel_jobs_and_the_resource_has_no_gate() -> None:
    scope = stack()
    ota(scope)

    (properties,) = ota_properties(scope)

    assert "rolloutGate" not in properties
    assert "iot:CancelJob" not in _actions(_provider_statements(scope))


def test_with_a_gate_the_provider_may_cancel_the_ota_update_jobs_once() -> None:
    scope = stack()
    plain = stack()
    ota(scope, "Canary", rollout_gate=RolloutGate(max_failed_percentage=2))
    ota(scope, "Fleet", rollout_gate=RolloutGate(min_succeeded_percentage=95))
    ota(plain, "Canary")
    ota(plain, "Fleet")

    statements = _provider_statements(scope)

    (cancel,) = [s for s in statements if s["Action"] == "iot:CancelJob"]
    assert json.dumps(cancel["Resource"]).endswith(':job/AFR_OTA-*"]]}]')
    assert [s for s in statements if s is not cancel] == _provider_statements(plain)
