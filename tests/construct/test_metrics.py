"""The AWS IoT Jobs metrics of an OTA update's job, the alarms on them and RolloutDashboard."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk.assertions import Match, Template
from cdk_support import firmware, ota
from constructs import Construct

from cdk_ota_update import (
    IOtaUpdate,
    OtaTarget,
    OtaUpdate,
    OtaUpdateValidationError,
    RolloutDashboard,
)
from cdk_ota_update.metrics import JOB_METRICS, JobMetrics

pytestmark = pytest.mark.fast  # the loop on every change (CONTRIBUTING.md)

ENV = cdk.Environment(account="111111111111", region="eu-west-1")
OTHER_ARN = "arn:aws:iot:us-east-1:222222222222:otaupdate/release-3"

# Each method, the metric AWS IoT publishes for it (AWS IoT Core Developer Guide, "AWS IoT metrics
# and dimensions", "Jobs metrics"; "Succeded" is AWS's spelling) and its default statistic.
METHODS = [
    ("metric_queued", "QueuedJobExecutionCount", "Sum"),
    ("metric_queued_total", "QueuedJobExecutionTotalCount", "Maximum"),
    ("metric_in_progress", "InProgressJobExecutionCount", "Sum"),
    ("metric_in_progress_total", "InProgressJobExecutionTotalCount", "Maximum"),
    ("metric_succeeded", "SuccededJobExecutionCount", "Sum"),
    ("metric_succeeded_total", "SuccededJobExecutionTotalCount", "Maximum"),
    ("metric_failed", "FailedJobExecutionCount", "Sum"),
    ("metric_failed_total", "FailedJobExecutionTotalCount", "Maximum"),
    ("metric_rejected", "RejectedJobExecutionCount", "Sum"),
    ("metric_rejected_total", "RejectedJobExecutionTotalCount", "Maximum"),
    ("metric_canceled", "CanceledJobExecutionCount", "Sum"),
    ("metric_canceled_total", "CanceledJobExecutionTotalCount", "Maximum"),
    ("metric_removed", "RemovedJobExecutionCount", "Sum"),
    ("metric_removed_total", "RemovedJobExecutionTotalCount", "Maximum"),
]
TOTALS = [name for _, name, _ in METHODS if name.endswith("TotalCount")]


@dataclass
class Release:
    """One app, synthesized once for the module: OtaUpdates in two stacks, imported ones, alarms,
    and two dashboards in a third stack."""

    app: cdk.App
    fleet: cdk.Stack
    canary: cdk.Stack
    watch: cdk.Stack
    derived: OtaUpdate
    explicit: OtaUpdate
    canary_ota: OtaUpdate
    by_id: IOtaUpdate
    by_arn: IOtaUpdate
    everything: RolloutDashboard
    chosen: RolloutDashboard
    templates: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def release() -> Release:
    app = cdk.App()
    fleet = cdk.Stack(app, "Fleet", env=ENV)
    canary = cdk.Stack(app, "Canary", env=ENV)
    watch = cdk.Stack(app, "Watch", env=ENV)
    derived = ota(fleet, "Derived")
    explicit = ota(
        fleet,
        "Explicit",
        ota_update_id="release-7",
        targets=[OtaTarget.thing_group("beta")],
        files=[firmware(fleet, "fw/v7/firmware.bin")],
    )
    canary_ota = ota(
        canary,
        "Canary",
        targets=[OtaTarget.thing_group("canary")],
        files=[firmware(canary, "fw/v8/firmware.bin")],
    )
    by_id = OtaUpdate.from_ota_update_id(fleet, "ById", "release-6")
    by_arn = OtaUpdate.from_ota_update_arn(fleet, "ByArn", OTHER_ARN)
    derived.alarm_failure_rate(
        threshold_percent=5,
        min_finished_executions=10,
        evaluation_periods=3,
        datapoints_to_alarm=2,
        period=cdk.Duration.minutes(10),
        alarm_name="release-failures",
    )
    derived.alarm_no_success(within=cdk.Duration.hours(2))
    explicit.alarm_failure_rate(threshold_percent=20)
    by_id.alarm_failure_rate(threshold_percent=10)
    everything = RolloutDashboard(watch, "Everything")
    chosen = RolloutDashboard(
        watch,
        "Chosen",
        ota_updates=[explicit, by_arn, explicit],
        dashboard_name="release-7",
        start="-P7D",
        period=cdk.Duration.minutes(1),
    )
    assembly = app.synth()
    templates = {s.stack_name: s.template for s in assembly.stacks}
    return Release(
        app, fleet, canary, watch, derived, explicit, canary_ota, by_id, by_arn, everything,
        chosen, templates,
    )  # fmt: skip


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _ota_update_id(template: dict[str, Any], construct_id: str) -> str:
    (found,) = [
        r["Properties"]["otaUpdateId"]
        for k, r in _resources(template, "Custom::OtaUpdate").items()
        if k.startswith(construct_id)
    ]
    return str(found)


def _alarm(template: dict[str, Any], logical_id_prefix: str) -> dict[str, Any]:
    (found,) = [
        r["Properties"]
        for k, r in _resources(template, "AWS::CloudWatch::Alarm").items()
        if k.startswith(logical_id_prefix)
    ]
    return dict(found)


def _body(template: dict[str, Any], logical_id_prefix: str) -> dict[str, Any]:
    """A dashboard's DashboardBody (a Fn::Join around the deploy Region), parsed."""
    (body,) = [
        r["Properties"]["DashboardBody"]
        for k, r in _resources(template, "AWS::CloudWatch::Dashboard").items()
        if k.startswith(logical_id_prefix)
    ]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    assert all(isinstance(p, str) or p == {"Ref": "AWS::Region"} for p in parts)
    parsed: dict[str, Any] = json.loads(
        "".join(p if isinstance(p, str) else "<region>" for p in parts)
    )
    return parsed


def _metric_rows(widget: dict[str, Any]) -> list[list[Any]]:
    """The widget's metric rows (not its expressions): [namespace, name, "JobId", id, {...}]."""
    return [row for row in widget["properties"]["metrics"] if isinstance(row[0], str)]


# -- the metrics ----------------------------------------------------------------------------------


def test_one_table_names_every_jobs_metric_aws_publishes() -> None:
    assert sorted(n for pair in JOB_METRICS.values() for n in pair) == sorted(
        name for _, name, _ in METHODS
    )


@pytest.mark.parametrize(("method", "name", "statistic"), METHODS, ids=[m for m, _, _ in METHODS])
def test_each_metric_method_is_the_jobs_metric_of_the_ota_updates_job(
    release: Release, method: str, name: str, statistic: str
) -> None:
    metric = getattr(release.explicit, method)()
    assert isinstance(metric, cloudwatch.Metric)
    assert (metric.namespace, metric.metric_name, metric.statistic) == ("AWS/IoT", name, statistic)
    assert metric.dimensions == {"JobId": "AFR_OTA-release-7"}
    assert metric.period.to_seconds() == 300


def test_a_derived_id_is_the_job_id_of_the_resource_known_at_synth(release: Release) -> None:
    job_id = (release.derived.metric_failed().dimensions or {})["JobId"]
    assert cdk.Token.is_unresolved(job_id)  # derived at synth, from the whole request
    derived = _ota_update_id(release.templates["Fleet"], "Derived")
    assert release.fleet.resolve(job_id) == f"AFR_OTA-{derived}"
    assert re.fullmatch(r"AFR_OTA-Derived-[0-9a-f]{16}", release.fleet.resolve(job_id))


def test_an_explicit_id_is_a_literal_job_id(release: Release) -> None:
    assert release.explicit.metric("ClientErrorCount").dimensions == {"JobId": "AFR_OTA-release-7"}


def test_imported_ota_updates_have_the_same_metrics(release: Release) -> None:
    by_id = release.by_id.metric_succeeded_total()
    assert (by_id.namespace, by_id.metric_name, by_id.dimensions) == (
        "AWS/IoT",
        "SuccededJobExecutionTotalCount",
        {"JobId": "AFR_OTA-release-6"},
    )
    assert (by_id.account, by_id.region) == (ENV.account, ENV.region)  # the stack's own


def test_an_ota_update_imported_by_arn_has_its_metrics_in_the_arns_account_and_region(
    release: Release,
) -> None:
    metric = release.by_arn.metric_rejected()
    assert metric.dimensions == {"JobId": "AFR_OTA-release-3"}
    assert (metric.account, metric.region) == ("222222222222", "us-east-1")


def test_metric_options_are_passed_through(release: Release) -> None:
    metric = release.explicit.metric_failed(
        period=cdk.Duration.minutes(1),
        statistic="Average",
        label="Failures",
        unit=cloudwatch.Unit.COUNT,
        color=cloudwatch.Color.RED,
        dimensions_map={"Fleet": "beta"},
        region="us-west-2",
    )
    assert metric.period.to_seconds() == 60
    assert (metric.statistic, metric.label, metric.unit, metric.color, metric.region) == (
        "Average",
        "Failures",
        cloudwatch.Unit.COUNT,
        cloudwatch.Color.RED,
        "us-west-2",
    )
    assert metric.dimensions == {"Fleet": "beta", "JobId": "AFR_OTA-release-7"}


def test_dimensions_map_cannot_move_the_metric_off_the_job(release: Release) -> None:
    metric = release.explicit.metric_failed(dimensions_map={"JobId": "someone-else"})
    assert metric.dimensions == {"JobId": "AFR_OTA-release-7"}


def test_an_unknown_option_is_refused(release: Release) -> None:
    with pytest.raises(TypeError, match="perio"):
        release.explicit.metric_failed(perio=cdk.Duration.minutes(1))  # type: ignore[call-arg]


def test_the_protocol_lists_every_metric_and_alarm_method() -> None:
    offered = {n for n in dir(JobMetrics) if n.startswith(("metric", "alarm_"))}
    assert offered == {m for m, _, _ in METHODS} | {
        "metric",
        "alarm_failure_rate",
        "alarm_no_success",
    }
    assert offered <= set(dir(IOtaUpdate))


# -- the alarms -----------------------------------------------------------------------------------


def test_the_failure_rate_alarm_in_the_template(release: Release) -> None:
    alarm = _alarm(release.templates["Fleet"], "DerivedFailureRateAlarm")
    derived = "AFR_OTA-" + _ota_update_id(release.templates["Fleet"], "Derived")
    assert {k: v for k, v in alarm.items() if k != "Metrics"} == {
        "AlarmName": "release-failures",
        "AlarmDescription": "More than 5% of the finished executions of Fleet/Derived's job "
        "failed or were rejected",
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 5,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "TreatMissingData": "notBreaching",
    }
    (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
    finished = "FILL(succeeded, 0) + FILL(failed, 0) + FILL(rejected, 0)"
    assert expression["Expression"] == (
        f"IF({finished} >= 10, 100 * (FILL(failed, 0) + FILL(rejected, 0)) / ({finished}), 0)"
    )
    assert expression["ReturnData"] is True
    stats = {m["Id"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert stats == {
        key: {
            "Metric": {
                "Namespace": "AWS/IoT",
                "MetricName": name,
                "Dimensions": [{"Name": "JobId", "Value": derived}],
            },
            "Period": 600,
            "Stat": "Maximum",
        }
        for key, name in (
            ("succeeded", "SuccededJobExecutionTotalCount"),
            ("failed", "FailedJobExecutionTotalCount"),
            ("rejected", "RejectedJobExecutionTotalCount"),
        )
    }


def test_the_failure_rate_alarm_defaults(release: Release) -> None:
    template = Template.from_stack(release.fleet)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Threshold": 20,
            "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching",
            "Metrics": Match.array_with(
                [
                    Match.object_like({"Expression": Match.string_like_regexp(r" >= 1, 100 \* ")}),
                    Match.object_like(
                        {
                            "MetricStat": Match.object_like(
                                {
                                    "Period": 300,
                                    "Metric": Match.object_like(
                                        {
                                            "Dimensions": [
                                                {"Name": "JobId", "Value": "AFR_OTA-release-7"}
                                            ]
                                        }
                                    ),
                                }
                            )
                        }
                    ),
                ]
            ),
        },
    )
    assert "AlarmName" not in _alarm(release.templates["Fleet"], "ExplicitFailureRateAlarm")


def test_an_imported_ota_update_has_the_same_alarms(release: Release) -> None:
    alarm = _alarm(release.templates["Fleet"], "ByIdFailureRateAlarm")
    dimensions = {
        m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]
        for m in alarm["Metrics"]
        if "MetricStat" in m
    }
    assert (alarm["Threshold"], dimensions) == (10, {"AFR_OTA-release-6"})


def test_the_no_success_alarm_in_the_template(release: Release) -> None:
    alarm = _alarm(release.templates["Fleet"], "DerivedNoSuccessAlarm")
    assert {k: v for k, v in alarm.items() if k not in ("Metrics", "AlarmDescription")} == {
        "ComparisonOperator": "LessThanThreshold",
        "Threshold": 1,
        "EvaluationPeriods": 1,
        "TreatMissingData": "notBreaching",
    }
    assert "within 2 hours" in alarm["AlarmDescription"]
    (expression,) = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]
    assert expression == "IF(FILL(queued, 0) + FILL(in_progress, 0) > 0, FILL(succeeded, 0), 1)"
    stats = {
        m["Id"]: (m["MetricStat"]["Metric"]["MetricName"], m["MetricStat"]["Stat"])
        for m in alarm["Metrics"]
        if "MetricStat" in m
    }
    assert stats == {
        "queued": ("QueuedJobExecutionTotalCount", "Maximum"),
        "in_progress": ("InProgressJobExecutionTotalCount", "Maximum"),
        "succeeded": ("SuccededJobExecutionCount", "Sum"),
    }
    assert {m["MetricStat"]["Period"] for m in alarm["Metrics"] if "MetricStat" in m} == {7200}


@pytest.fixture(scope="module")
def bad() -> OtaUpdate:
    """An OtaUpdate the refused alarms are asked of (a refused call adds nothing to it)."""
    return ota(cdk.Stack(cdk.App(), "Bad"), "Ota")


def _minutes(n: float) -> cdk.Duration:
    return cdk.Duration.seconds(n * 60)


# Each bad input, and what the error must say after the construct path.
BAD_ALARMS: list[tuple[str, Callable[[OtaUpdate], object], str]] = [
    (
        "threshold above 100",
        lambda o: o.alarm_failure_rate(threshold_percent=150),
        r"alarm_failure_rate\(threshold_percent\) = 150 is invalid: it must be a number from 0 "
        r"to below 100: give for example threshold_percent=5",
    ),
    (
        "threshold 100",
        lambda o: o.alarm_failure_rate(threshold_percent=100),
        r"alarm_failure_rate\(threshold_percent\) = 100 is invalid",
    ),
    (
        "negative threshold",
        lambda o: o.alarm_failure_rate(threshold_percent=-1),
        r"alarm_failure_rate\(threshold_percent\) = -1 is invalid",
    ),
    (
        "threshold as text",
        lambda o: o.alarm_failure_rate(threshold_percent="5"),  # type: ignore[arg-type]
        r"alarm_failure_rate\(threshold_percent\) = '5' is invalid: it must be a number",
    ),
    (
        "threshold as bool",
        lambda o: o.alarm_failure_rate(threshold_percent=True),
        r"alarm_failure_rate\(threshold_percent\) = True is invalid",
    ),
    (
        "no evaluation period",
        lambda o: o.alarm_failure_rate(threshold_percent=5, evaluation_periods=0),
        r"alarm_failure_rate\(evaluation_periods\) = 0 is invalid: it must be a whole number, "
        r"1 or more",
    ),
    (
        "fractional evaluation periods",
        lambda o: o.alarm_failure_rate(threshold_percent=5, evaluation_periods=1.5),  # type: ignore[arg-type]
        r"alarm_failure_rate\(evaluation_periods\) = 1.5 is invalid",
    ),
    (
        "more datapoints than periods",
        lambda o: o.alarm_failure_rate(
            threshold_percent=5, evaluation_periods=2, datapoints_to_alarm=3
        ),
        r"alarm_failure_rate\(datapoints_to_alarm\) = 3 is invalid: it must be at most "
        r"evaluation_periods \(2\): give for example datapoints_to_alarm=2",
    ),
    (
        "no finished execution",
        lambda o: o.alarm_failure_rate(threshold_percent=5, min_finished_executions=0),
        r"alarm_failure_rate\(min_finished_executions\) = 0 is invalid",
    ),
    (
        "period not whole minutes",
        lambda o: o.alarm_failure_rate(threshold_percent=5, period=_minutes(1.5)),
        r"alarm_failure_rate\(period\) = 1 minute 30 seconds is invalid: it must be whole "
        r"minutes, 1 or more",
    ),
    (
        "period under a minute",
        lambda o: o.alarm_failure_rate(threshold_percent=5, period=cdk.Duration.seconds(30)),
        r"alarm_failure_rate\(period\) = 30 seconds is invalid",
    ),
    (
        "period as a number",
        lambda o: o.alarm_failure_rate(threshold_percent=5, period=300),  # type: ignore[arg-type]
        r"alarm_failure_rate\(period\) = 300 is invalid: it must be a Duration",
    ),
    (
        "over a day below an hour",
        lambda o: o.alarm_failure_rate(
            threshold_percent=5, period=cdk.Duration.minutes(30), evaluation_periods=49
        ),
        r"alarm_failure_rate\(period\) = 30 minutes is invalid: it must be at most 1 day "
        r"\(7 days from a 1-hour period on\) times evaluation_periods \(49\)",
    ),
    (
        "over a week",
        lambda o: o.alarm_failure_rate(
            threshold_percent=5, period=cdk.Duration.hours(2), evaluation_periods=85
        ),
        r"alarm_failure_rate\(period\) = 2 hours is invalid: it must be at most 7 days times "
        r"evaluation_periods",
    ),
    (
        "no success within 8 days",
        lambda o: o.alarm_no_success(within=cdk.Duration.days(8)),
        r"alarm_no_success\(within\) = 8 days is invalid: it must be at most 7 days",
    ),
    (
        "no success within seconds",
        lambda o: o.alarm_no_success(within=cdk.Duration.seconds(45)),
        r"alarm_no_success\(within\) = 45 seconds is invalid: it must be whole minutes",
    ),
]


@pytest.mark.parametrize(
    ("call", "message"), [b[1:] for b in BAD_ALARMS], ids=[b[0] for b in BAD_ALARMS]
)
def test_bad_alarm_input_is_refused_naming_the_construct(
    bad: OtaUpdate, call: Callable[[OtaUpdate], object], message: str
) -> None:
    with pytest.raises(OtaUpdateValidationError, match=r"^Bad/Ota: " + message):
        call(bad)


def test_the_longest_alarm_cloudwatch_evaluates_is_accepted(bad: OtaUpdate) -> None:
    week = bad.alarm_failure_rate(
        "Week", threshold_percent=0, period=cdk.Duration.hours(1), evaluation_periods=168
    )
    day = bad.alarm_no_success("Day", within=cdk.Duration.days(1))
    assert [a.node.path for a in (week, day)] == ["Bad/Ota/Week", "Bad/Ota/Day"]


# -- the dashboard --------------------------------------------------------------------------------


def test_the_dashboard_is_the_resource_child(release: Release) -> None:
    child = release.everything.node.find_child("Resource")
    assert child is release.everything.dashboard
    assert isinstance(child, cloudwatch.Dashboard)


def test_without_ota_updates_it_shows_every_ota_update_of_the_app(release: Release) -> None:
    assert list(release.everything.ota_updates) == [
        release.derived,
        release.explicit,
        release.canary_ota,
    ]
    widgets = _body(release.templates["Watch"], "Everything")["widgets"]
    job_ids = [
        "AFR_OTA-" + _ota_update_id(release.templates["Fleet"], "Derived"),
        "AFR_OTA-release-7",
        "AFR_OTA-" + _ota_update_id(release.templates["Canary"], "Canary"),
    ]
    assert len(widgets) == 2 * len(job_ids)
    for job_id, path, graph, rates in zip(
        job_ids,
        ("Fleet/Derived", "Fleet/Explicit", "Canary/Canary"),
        widgets[::2],
        widgets[1::2],
        strict=True,
    ):
        # The executions by status over time: every status's total, of this job only.
        assert graph["properties"]["view"] == "timeSeries"
        assert graph["properties"]["title"] == f"{path}: executions by status"
        rows = _metric_rows(graph)
        assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
            ("AWS/IoT", name, "JobId", job_id) for name in TOTALS
        ]
        assert [r[4]["label"] for r in rows] == list(JOB_METRICS)
        assert {r[4]["stat"] for r in rows} == {"Maximum"}
        # The shares of the finished executions that succeeded and failed.
        assert rates["properties"]["view"] == "singleValue"
        expressions = [r[0] for r in rates["properties"]["metrics"] if isinstance(r[0], dict)]
        assert [e["label"] for e in expressions] == ["Succeeded %", "Failed %"]
        assert {r[3] for r in _metric_rows(rates)} == {job_id}
        assert {r[1] for r in _metric_rows(rates)} == {
            "SuccededJobExecutionTotalCount",
            "FailedJobExecutionTotalCount",
            "RejectedJobExecutionTotalCount",
        }


def test_a_dashboard_in_another_stack_takes_no_reference_from_the_releases(
    release: Release,
) -> None:
    """The job ids are known at synth: no export in the OtaUpdates' stacks, whose value the next
    release (a replacement, a new id) could not change while the dashboard imports it."""
    for name in ("Fleet", "Canary"):
        assert "Outputs" not in release.templates[name], name
    assert "Fn::ImportValue" not in json.dumps(release.templates["Watch"])


def test_the_chosen_ota_updates_with_name_start_and_period(release: Release) -> None:
    assert list(release.chosen.ota_updates) == [release.explicit, release.by_arn]  # each once
    (dashboard,) = [
        r["Properties"]
        for k, r in _resources(release.templates["Watch"], "AWS::CloudWatch::Dashboard").items()
        if k.startswith("Chosen")
    ]
    assert dashboard["DashboardName"] == "release-7"
    body = _body(release.templates["Watch"], "Chosen")
    assert body["start"] == "-P7D"
    assert {w["properties"]["period"] for w in body["widgets"]} == {60}
    explicit_rows, imported_rows = (_metric_rows(w) for w in body["widgets"][::2])
    assert {r[3] for r in explicit_rows} == {"AFR_OTA-release-7"}
    # An OTA update of another account and Region: its metrics are read there.
    assert {r[3] for r in imported_rows} == {"AFR_OTA-release-3"}
    assert {(r[4]["region"], r[4]["accountId"]) for r in imported_rows} == {
        ("us-east-1", "222222222222")
    }


@dataclass
class Early:
    """Dashboards without ota_updates declared before their OtaUpdates, in one app: in the Stage
    "Together", one in the OtaUpdates' stack (and one after them all, to compare); in the Stage
    "Split", one in a stack of its own declared before the OtaUpdates' stacks."""

    before: RolloutDashboard
    after: RolloutDashboard
    first: OtaUpdate
    nested: OtaUpdate  # in a construct of the stack, added after the dashboard
    together: dict[str, Any]  # the template of the stack of both
    own_stack: dict[str, Any]


@pytest.fixture(scope="module")
def early() -> Early:
    app = cdk.App()
    together = cdk.Stack(cdk.Stage(app, "Together", env=ENV), "Same")
    before = RolloutDashboard(together, "Before")
    first = ota(together, "First", ota_update_id="release-1")
    group = Construct(together, "Group")
    nested = OtaUpdate(
        group,
        "Nested",
        ota_update_id="release-2",
        targets=[OtaTarget.thing_group("beta")],
        files=[firmware(together, "fw/v2/firmware.bin")],
    )
    after = RolloutDashboard(together, "After")
    split = cdk.Stage(app, "Split", env=ENV)
    watch = cdk.Stack(split, "Watch")
    RolloutDashboard(watch, "Rollout")  # its stack declared before the OtaUpdates' stacks
    ota(cdk.Stack(split, "Fleet"), "Release", ota_update_id="release-3")
    canary = cdk.Stack(split, "Canary")
    ota(
        canary,
        "Release",
        ota_update_id="release-4",
        targets=[OtaTarget.thing_group("canary")],
        files=[firmware(canary, "fw/v4/firmware.bin")],
    )
    return Early(
        before, after, first, nested,
        dict(Template.from_stack(together).to_json()), dict(Template.from_stack(watch).to_json()),
    )  # fmt: skip


def _rows(template: dict[str, Any], logical_id_prefix: str) -> list[tuple[str, set[str]]]:
    """Each row of a dashboard: its graph's title and the job ids of its widgets' metrics."""
    widgets = _body(template, logical_id_prefix)["widgets"]
    return [
        (graph["properties"]["title"], {r[3] for w in (graph, rates) for r in _metric_rows(w)})
        for graph, rates in zip(widgets[::2], widgets[1::2], strict=True)
    ]


def test_a_dashboard_declared_before_its_ota_updates_shows_them_all(early: Early) -> None:
    assert _rows(early.together, "Before") == [
        ("Together/Same/First: executions by status", {"AFR_OTA-release-1"}),
        ("Together/Same/Group/Nested: executions by status", {"AFR_OTA-release-2"}),
    ]
    # What a dashboard declared after them shows.
    assert _body(early.together, "Before") == _body(early.together, "After")


def test_a_dashboard_in_its_own_stack_declared_before_the_ota_updates_stacks_shows_them(
    early: Early,
) -> None:
    assert _rows(early.own_stack, "Rollout") == [
        ("Split/Fleet/Release: executions by status", {"AFR_OTA-release-3"}),
        ("Split/Canary/Release: executions by status", {"AFR_OTA-release-4"}),
    ]


def test_an_ota_update_added_after_the_dashboard_in_a_nested_construct_is_shown(
    early: Early,
) -> None:
    assert list(early.before.ota_updates) == [early.first, early.nested]
    assert ("Together/Same/Group/Nested: executions by status", {"AFR_OTA-release-2"}) in _rows(
        early.together, "Before"
    )


def test_ota_updates_read_after_declaring_them_lists_them_in_order() -> None:
    stack = cdk.Stack(cdk.App(), "Order", env=ENV)
    dashboard = RolloutDashboard(stack, "Rollout")
    first = ota(stack, "First", ota_update_id="release-1")
    group = Construct(stack, "Group")
    last = ota(stack, "Last", ota_update_id="release-3")
    nested = OtaUpdate(
        group,
        "Nested",
        ota_update_id="release-2",
        targets=[OtaTarget.thing_group("beta")],
        files=[firmware(stack, "fw/v2/firmware.bin")],
    )
    assert dashboard.ota_updates == (first, nested, last)  # construct-tree order


def test_no_ota_update_anywhere_fails_synth_naming_the_dashboard() -> None:
    app = cdk.App()
    RolloutDashboard(cdk.Stack(app, "Lonely", env=ENV), "Rollout")  # refused at synth, not here
    with pytest.raises(
        Exception,
        match=r"Lonely/Rollout: ota_updates is omitted and no OtaUpdate is declared under the "
        r"app: give ota_updates=\[\.\.\.\] \(or find_in=",
    ):
        app.synth()


@pytest.fixture(scope="module")
def empty() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Empty", env=ENV)


BAD_DASHBOARDS: list[tuple[str, dict[str, Any], str]] = [
    (
        "empty list",
        {"ota_updates": []},
        r"ota_updates = \[\] is invalid: it must name at least one OTA update",
    ),
    (
        "not an OTA update",
        {"ota_updates": ["release-7"]},
        r"ota_updates\[0\] = 'release-7' is invalid: it must be an OtaUpdate",
    ),
    (
        "a single OTA update",
        {"ota_updates": "release-7"},
        r"ota_updates = 'release-7' is invalid: it must be a list of OTA updates",
    ),
]


@pytest.mark.parametrize(
    ("props", "message"), [b[1:] for b in BAD_DASHBOARDS], ids=[b[0] for b in BAD_DASHBOARDS]
)
def test_bad_dashboard_input_is_refused_naming_the_construct(
    empty: cdk.Stack, props: dict[str, Any], message: str
) -> None:
    with pytest.raises(OtaUpdateValidationError, match=r"^Empty/Dashboard: " + message):
        RolloutDashboard(empty, "Dashboard", find_in=empty, **props)
    empty.node.try_remove_child("Dashboard")  # what the refused constructor had begun


def test_a_bad_dashboard_name_is_refused(release: Release, empty: cdk.Stack) -> None:
    with pytest.raises(
        OtaUpdateValidationError,
        match=r"^Empty/Named: dashboard_name = 'release 7!' is invalid: it must be 1 to 255 "
        r"letters, digits, '-' or '_'",
    ):
        RolloutDashboard(
            empty, "Named", ota_updates=[release.explicit], dashboard_name="release 7!"
        )
    empty.node.try_remove_child("Named")
