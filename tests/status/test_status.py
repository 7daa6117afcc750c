"""``cdk-ota-update status`` against the emulation and its simulated fleet: the OTA updates of a
stack or given by id, the table (plain text, rich on a terminal), the JSON document, ``--until``'s
exit statuses once and with ``--watch`` on a simulated clock, usage and AWS errors, the API calls
per poll; in-process (moto's ``mock_aws``) and over HTTP (``--endpoint-url`` to a moto server)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from emulation_support import Aws, World, make_world, things
from moto.cloudformation.custom_model import CustomModel

from cdk_ota_update import testing
from cdk_ota_update.rehearse import cli as console_script
from cdk_ota_update.rollout import (
    Condition,
    Executions,
    Rollout,
    judge,
    parse_condition,
    parse_conditions,
)
from cdk_ota_update.status import CALLS_PER_SECOND, Environment, main, view
from cdk_ota_update.status import cli as status_cli
from cdk_ota_update.status.aws import Aws as StatusAws
from cdk_ota_update.status.aws import Pacer
from cdk_ota_update.status.view import Row, plain_table

# The fast loop (CONTRIBUTING.md) takes the rules, the usage errors, the README's figures and one
# table and one --watch against the emulation (`fast` below); the rest (~6 s) runs with the suite.
fast = pytest.mark.fast

JOB = "AFR_OTA-ota-1"
ROOT = Path(__file__).resolve().parents[2]
PROVIDER = "arn:aws:lambda:us-east-1:123456789012:function:provider"
TERMINAL_ENV = ("TTY_COMPATIBLE", "TTY_INTERACTIVE", "FORCE_COLOR", "NO_COLOR", "COLUMNS")
HEADER = (
    "OTA update  OTA update status  job status   executions  succeeded  failed     rejected  "
    "timed out  in progress  queued     canceled  removed"
)


# ---------------------------------------------------------------------------------------------
# The emulated AWS, a simulated clock, and the command
# ---------------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the environment running the tests says about terminals and colours."""
    for name in TERMINAL_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def aws(emulated_in_process: Aws) -> Aws:
    return emulated_in_process


@pytest.fixture
def world(aws: Aws) -> World:
    return make_world(aws)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's CloudFormation makes a ``Custom::OtaUpdate`` as the provider answers it: its
    physical id is the ``otaUpdateId`` property (the provider's Lambda is not run: moto would need
    Docker for it)."""

    def create(_cls: Any, _name: str, template: Any, _account: str, region: str, **kw: Any) -> Any:
        model: Any = CustomModel  # moto's stubs call it abstract: it is not
        return model(region, "request", kw["LogicalId"], template["Properties"]["otaUpdateId"])

    maker: Any = create
    monkeypatch.setattr(CustomModel, "create_from_cloudformation_json", classmethod(maker))


@dataclass
class FleetClock:
    """A simulated clock whose sleeps move the simulated fleet on."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        testing.advance_fleet(seconds)


@dataclass(frozen=True)
class Ran:
    status: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


def status(*argv: str, clock: FleetClock | None = None) -> Ran:
    """``cdk-ota-update status ARGV`` writing into strings (not a terminal)."""
    clock = clock or FleetClock()
    out, err = io.StringIO(), io.StringIO()
    exit_status = main(list(argv), Environment(out, err, clock.clock, clock.sleep))
    return Ran(exit_status, out.getvalue(), err.getvalue())


def release(world: World, ota_update_id: str = "ota-1", **members: Any) -> None:
    """An OTA update of the thing group "fleet", its job created."""
    world.create(ota_update_id, targets=[world.group_arn], **members)
    assert world.status(ota_update_id) == "CREATE_COMPLETE"


def half_rolled_out(world: World) -> None:
    """ota-1 on 4 things, 2 notified a minute, 45 s in: thing-01 SUCCEEDED, thing-02 FAILED, the
    other two still QUEUED (not notified yet: the job is rolling out)."""
    things(world, 4)
    testing.simulate_fleet(script={"thing-02": "FAILED"}, pace=testing.Pace(10, 30))
    release(world, awsJobExecutionsRolloutConfig={"maximumPerMinute": 2})
    testing.advance_fleet(45)


def rolled_out(world: World, count: int, script: dict[str, str]) -> None:
    """ota-1 on ``count`` things, an hour on: every device reported, ``script``'s things their
    outcome, the others SUCCEEDED; the job COMPLETED."""
    things(world, count)
    testing.simulate_fleet(script=script, pace=testing.Pace(10, 30))
    release(world)
    testing.advance_fleet(3600)


def stack(aws: Aws, name: str, ota_update_ids: list[str]) -> None:
    """A deployed stack with a ``Custom::OtaUpdate`` per id, and a bucket."""
    resources: dict[str, Any] = {"Firmware": {"Type": "AWS::S3::Bucket"}}
    for index, ota_update_id in enumerate(ota_update_ids):
        properties = {"ServiceToken": PROVIDER, "otaUpdateId": ota_update_id}
        resources[f"Release{index}"] = {"Type": "Custom::OtaUpdate", "Properties": properties}
    aws.client("cloudformation").create_stack(
        StackName=name, TemplateBody=json.dumps({"Resources": resources})
    )


# ---------------------------------------------------------------------------------------------
# What it shows
# ---------------------------------------------------------------------------------------------
@fast
def test_the_table_gives_each_status_its_count_and_share_in_plain_text(world: World) -> None:
    half_rolled_out(world)

    ran = status("--ota-update-id", "ota-1")

    assert ran.lines == [
        HEADER,
        "ota-1       CREATE_COMPLETE    IN_PROGRESS  4           1 (25.0%)  1 (25.0%)  0         "
        "0          0            2 (50.0%)  0         0",
        "1 OTA update(s): 1 rolling out, 0 ended (exit status 0)",
    ]
    assert (ran.status, ran.err) == (0, "")
    assert "\x1b" not in ran.out  # not a terminal: no ANSI, whether rich is installed or not


def test_json_is_the_documented_document(world: World) -> None:
    half_rolled_out(world)

    ran = status("--ota-update-id", "ota-1", "--until", "succeeded>=75%,failed>30%", "--json")

    counts = {"queued": 2, "inProgress": 0, "succeeded": 1, "failed": 1, "rejected": 0}
    counts |= {"timedOut": 0, "canceled": 0, "removed": 0}
    assert json.loads(ran.out) == {
        "otaUpdates": [
            {
                "otaUpdateId": "ota-1",
                "stack": None,
                "logicalId": None,
                "otaUpdateStatus": "CREATE_COMPLETE",
                "awsIotJobId": JOB,
                "jobStatus": "IN_PROGRESS",
                "rollingOut": True,
                "ended": False,
                "executions": {"total": 4, **counts},
                "percentages": {name: count * 25.0 for name, count in counts.items()},
                "problem": None,
                "verdict": "pending",
                "reason": "not yet: succeeded>=75% does not hold: 1 of 4 executions (25.0%)",
            }
        ],
        "until": ["succeeded>=75%", "failed>30%"],
        "verdict": "pending",
        "summary": "--until succeeded>=75%,failed>30%: not met yet by ota-1; --watch waits for "
        "it (exit status 1)",
        "exitStatus": 1,
    }
    assert ran.status == 1


@pytest.mark.usefixtures("provider")
def test_the_ota_updates_of_a_stack_are_its_custom_ota_update_resources(
    aws: Aws, world: World
) -> None:
    things(world, 2)
    release(world, "ota-1")
    release(world, "ota-2")
    stack(aws, "Release", ["ota-1", "ota-2"])

    ran = status("--stack", "Release", "--ota-update-id", "ota-2", "ota-3")

    assert ran.lines == [
        "OTA update  stack resource    OTA update status  job status   executions  succeeded  "
        "failed  rejected  timed out  in progress  queued      canceled  removed",
        "ota-1       Release/Release0  CREATE_COMPLETE    IN_PROGRESS  2           0          "
        "0       0         0          0            2 (100.0%)  0         0",
        "ota-2       Release/Release1  CREATE_COMPLETE    IN_PROGRESS  2           0          "
        "0       0         0          0            2 (100.0%)  0         0",
        "ota-3       -                 NOT FOUND          -            -           -          "
        "-       -         -          -            -           -         -",
        "ota-3: no such OTA update",
        "3 OTA update(s): 2 rolling out, 1 ended, 1 not found or not created (exit status 1)",
    ]
    assert ran.status == 1  # ota-3 does not exist


def test_a_stack_is_read_page_by_page_keeping_only_its_live_ota_updates() -> None:
    import botocore.session

    client = botocore.session.get_session().create_client(
        "cloudformation", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )

    def resource(logical_id: str, kind: str, status: str, physical_id: str | None) -> Any:
        found = {"LogicalResourceId": logical_id, "ResourceType": kind, "ResourceStatus": status}
        found["LastUpdatedTimestamp"] = "2026-01-01T00:00:00Z"
        return found | ({"PhysicalResourceId": physical_id} if physical_id else {})

    ota = "Custom::OtaUpdate"
    with Stubber(client) as stubbed:
        stubbed.add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    resource("A", ota, "CREATE_COMPLETE", "ota-a"),
                    resource("Bucket", "AWS::S3::Bucket", "CREATE_COMPLETE", "b"),
                ],
                "NextToken": "page-2",
            },
            {"StackName": "Release"},
        )
        stubbed.add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    resource("Old", ota, "DELETE_COMPLETE", "ota-old"),
                    resource("Never", ota, "CREATE_FAILED", None),
                    resource("B", ota, "UPDATE_COMPLETE", "ota-b"),
                ]
            },
            {"StackName": "Release", "NextToken": "page-2"},
        )
        clock = FleetClock()
        pace = Pacer(clock.clock, lambda seconds: None)
        found = StatusAws(None, lambda: client, pace).stack_targets("Release")

    assert [(t.ota_update_id, t.stack, t.logical_id) for t in found] == [
        ("ota-a", "Release", "A"),
        ("ota-b", "Release", "B"),
    ]
    assert pace.calls == {"ListStackResources": 2}


def test_a_stack_that_does_not_exist_is_exit_status_2(aws: Aws) -> None:
    ran = status("--stack", "Nope")

    assert ran.status == 2
    assert ran.err.startswith("cdk-ota-update status: stack Nope: ")
    assert "Stack with id Nope does not exist" in ran.err


def test_a_missing_ota_update_and_a_missing_job_are_rows_saying_so(world: World) -> None:
    things(world, 1)
    release(world, "ota-1")
    world.iot.delete_job(jobId=JOB, force=True)

    ran = status("--ota-update-id", "ota-1", "nope", "--until", "succeeded>=95%")

    assert [line.split()[:4] for line in ran.lines[1:3]] == [
        ["ota-1", "CREATE_COMPLETE", "-", "-"],
        ["nope", "NOT", "FOUND", "-"],
    ]
    assert ran.lines[3:] == [
        f"ota-1: failed: its job {JOB} does not exist",
        "nope: failed: no such OTA update",
        "--until succeeded>=95%: failed by ota-1, nope (exit status 1)",
    ]


# ---------------------------------------------------------------------------------------------
# --until, once
# ---------------------------------------------------------------------------------------------
def test_a_healthy_fleet_meets_succeeded_95_percent(world: World) -> None:
    rolled_out(world, 20, {"thing-07": "FAILED"})

    ran = status("--ota-update-id", "ota-1", "--until", "succeeded=95%")

    assert ran.status == 0
    assert ran.lines[-2:] == [
        "ota-1: met: succeeded>=95% holds: 19 of 20 executions (95.0%)",
        "--until succeeded>=95%: met by every OTA update (exit status 0)",
    ]


def test_a_failing_fleet_fails_failed_above_2_percent(world: World) -> None:
    rolled_out(world, 10, {"thing-03": "FAILED"})

    ran = status("--ota-update-id", "ota-1", "--until", "succeeded>=80%,failed>2%")

    assert ran.status == 1
    assert ran.lines[-2:] == [
        "ota-1: failed: failed>2% holds: 1 of 10 executions (10.0%)",
        "--until succeeded>=80%,failed>2%: failed by ota-1 (exit status 1)",
    ]


def test_conditions_not_met_yet_exit_1_and_say_why(world: World) -> None:
    things(world, 2)
    testing.simulate_fleet()
    release(world)

    ran = status("--ota-update-id", "ota-1", "--until", "succeeded>=95%")

    assert ran.status == 1
    assert ran.lines[-2:] == [
        "ota-1: pending: not yet: succeeded>=95% does not hold: 0 of 2 executions (0.0%)",
        "--until succeeded>=95%: not met yet by ota-1; --watch waits for it (exit status 1)",
    ]


def test_a_job_that_ended_without_meeting_them_fails(world: World) -> None:
    rolled_out(world, 4, {"thing-04": "REJECTED"})

    ran = status("--ota-update-id", "ota-1", "--until", "succeeded>=95%")

    assert ran.status == 1
    assert ran.lines[-2] == (
        "ota-1: failed: the job is COMPLETED: succeeded>=95% does not hold: 3 of 4 executions "
        "(75.0%)"
    )


def test_success_waits_for_the_rollout_to_reach_every_target(world: World) -> None:
    things(world, 3)
    testing.simulate_fleet(pace=testing.Pace(0, 10))
    release(world, awsJobExecutionsRolloutConfig={"maximumPerMinute": 1})
    testing.advance_fleet(30)  # thing-01 SUCCEEDED, the others not notified yet

    rolling = status("--ota-update-id", "ota-1", "--until", "succeeded>=1")
    testing.advance_fleet(95)  # every thing notified (the last at 120 s), thing-03 IN_PROGRESS
    rolled = status("--ota-update-id", "ota-1", "--until", "succeeded>=1")

    assert (rolling.status, rolling.lines[-2]) == (
        1,
        "ota-1: pending: the job is rolling out to its targets",
    )
    assert (rolled.status, rolled.lines[-2]) == (
        0,
        "ota-1: met: succeeded>=1 holds: 2 of 3 executions (66.7%)",
    )


@fast
@pytest.mark.parametrize(
    ("expression", "executions", "holds"),
    [
        ("succeeded>=95%", {"SUCCEEDED": 95, "QUEUED": 5}, True),
        ("succeeded=95%", {"SUCCEEDED": 95, "QUEUED": 5}, True),
        ("succeeded>95%", {"SUCCEEDED": 95, "QUEUED": 5}, False),
        ("succeeded>=95%", {"SUCCEEDED": 94, "FAILED": 1, "REMOVED": 5}, False),
        ("failed>2%", {"FAILED": 2, "SUCCEEDED": 98}, False),
        ("failed>2%", {"FAILED": 3, "SUCCEEDED": 97}, True),
        ("failed>=10", {"FAILED": 10, "SUCCEEDED": 1000}, True),
        ("timed-out>0", {"TIMED_OUT": 1}, True),
        ("succeeded>=0%", {}, False),  # no executions: no share
        ("succeeded>=33.3%", {"SUCCEEDED": 1, "QUEUED": 2}, True),
    ],
)
def test_a_condition_holds_on_the_share_of_all_the_jobs_executions(
    expression: str, executions: dict[str, int], holds: bool
) -> None:
    counts = {**Executions().counts, **executions}
    assert parse_condition(expression).holds(Executions(counts)) is holds


@fast
def test_a_condition_is_read_as_written_and_normalised() -> None:
    assert parse_condition(" Timed_Out = 2.50 % ") == Condition(
        "TIMED_OUT", ">=", Decimal("2.50"), percent=True
    )
    assert str(parse_condition("succeeded=95%")) == "succeeded>=95%"
    assert str(parse_condition("timed_out>100%")) == "timed-out>100%"


@fast
@pytest.mark.parametrize(
    ("expression", "error"),
    [
        ("succeeded<95%", "'succeeded<95%' is not a rollout condition"),
        ("succeeded>=95%,", "'' is not a rollout condition"),
        ("queued>=5%", "'queued>=5%': no condition on 'queued'"),
        ("success>=95%", "'success>=95%': no condition on 'success'"),
        ("failed>200%", "'failed>200%': a percentage is at most 100"),
        ("succeeded>=9.5", "'succeeded>=9.5': a count is a whole number"),
    ],
)
def test_a_bad_expression_is_refused_naming_it_and_the_accepted_forms(
    expression: str, error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--ota-update-id", "ota-1", "--until", expression])

    assert exited.value.code == 2
    assert (
        f"cdk-ota-update status: error: argument --until: {error}; accepted forms: STATUS>=N% or "
        "STATUS=N% (at least N percent of the job's executions)"
    ) in capsys.readouterr().err


@fast
@pytest.mark.parametrize(
    ("argv", "error"),
    [
        ([], "give --stack NAME or --ota-update-id ID (or both)"),
        (["--ota-update-id", "a", "--timeout", "5m"], "--timeout needs --watch"),
    ],
)
def test_a_usage_error_is_exit_status_2(argv: list[str], error: str) -> None:
    ran = status(*argv)

    assert (ran.status, ran.err) == (2, f"cdk-ota-update status: error: {error}\n")


@fast
@pytest.mark.parametrize(
    ("option", "error"),
    [
        (["--interval", "0.5"], "argument --interval: '0.5': at least 1 second"),
        (["--timeout", "soon"], "argument --timeout: 'soon' is not a duration: 90, 90s, 30m or 2h"),
    ],
)
def test_a_bad_duration_is_refused_by_argparse(
    option: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--ota-update-id", "a", "--watch", *option])

    assert exited.value.code == 2
    assert error in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# --watch, on the fleet's simulated clock
# ---------------------------------------------------------------------------------------------
@fast
def test_watch_polls_until_the_conditions_are_met_one_describe_job_a_poll(world: World) -> None:
    things(world, 20)
    testing.simulate_fleet(pace=testing.Pace(60, 240))
    release(world)
    clock = FleetClock()
    before = {op: testing.calls(op) for op in ("GetOTAUpdate", "DescribeJob")}

    ran = status(
        "--ota-update-id", "ota-1", "--until", "succeeded>=95%", "--watch", "--interval", "60",
        clock=clock,
    )  # fmt: skip

    calls = {op: testing.calls(op) - before[op] for op in before}
    assert ran.status == 0
    assert clock.sleeps == [60.0] * 5  # devices start at 60 s and report at 300 s
    assert calls == {"GetOTAUpdate": 1, "DescribeJob": 6}  # 6 polls
    tables = ran.out.split("\n\n")
    assert (
        len(tables) == 3
    )  # printed again only when the figures changed: queued, in progress, done
    assert tables[-1].splitlines()[-1] == (
        "--until succeeded>=95%: met by every OTA update (exit status 0)"
    )


def test_watch_stops_as_soon_as_a_failure_condition_holds(world: World) -> None:
    things(world, 10)
    script = {"thing-01": "FAILED"}
    testing.simulate_fleet(script=script, pace=testing.Pace(0, 30, jitter=0.5), seed=3)
    release(world)
    clock = FleetClock()

    ran = status(
        "--ota-update-id", "ota-1", "--until", "succeeded>=95%,failed>2%", "--watch",
        "--interval", "5", clock=clock,
    )  # fmt: skip

    assert ran.status == 1
    assert ran.lines[-2] == "ota-1: failed: failed>2% holds: 1 of 10 executions (10.0%)"
    assert world.iot.describe_job(jobId=JOB)["job"]["status"] == "IN_PROGRESS"  # not waited for


def test_watch_gives_up_at_the_timeout_with_the_figures(world: World) -> None:
    things(world, 2)
    testing.simulate_fleet(pace=testing.Pace(10, 3600))
    release(world)
    clock = FleetClock()

    ran = status(
        "--ota-update-id", "ota-1", "--until", "succeeded>=95%", "--watch", "--interval", "50",
        "--timeout", "2m", clock=clock,
    )  # fmt: skip

    assert (ran.status, clock.sleeps) == (1, [50.0, 50.0, 20.0])
    assert ran.lines[-4:] == [
        "OTA update  OTA update status  job status   executions  succeeded  failed  rejected  "
        "timed out  in progress  queued  canceled  removed  until",
        "ota-1       CREATE_COMPLETE    IN_PROGRESS  2           0          0       0         "
        "0          2 (100.0%)   0       0         0        pending",
        "ota-1: pending: not yet: succeeded>=95% does not hold: 0 of 2 executions (0.0%)",
        "--until succeeded>=95%: not met yet by ota-1 after --timeout 120 s (exit status 1)",
    ]


def test_watch_without_until_ends_with_the_rollouts(world: World) -> None:
    things(world, 2)
    testing.simulate_fleet(pace=testing.Pace(10, 30))
    release(world)
    clock = FleetClock()

    ran = status(
        "--ota-update-id", "ota-1", "--watch", "--interval", "20", "--timeout", "40", clock=clock
    )  # fmt: skip

    assert (ran.status, clock.sleeps) == (0, [20.0, 20.0])  # ended at 40 s: in time
    assert ran.lines[-1] == "1 OTA update(s): 0 rolling out, 1 ended (exit status 0)"


@fast
def test_the_calls_of_each_operation_are_paced() -> None:
    clock = FleetClock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    pace = Pacer(clock.clock, sleep, per_second=2)
    for operation in ("DescribeJob", "GetOTAUpdate", "DescribeJob", "DescribeJob"):
        pace(operation)
    clock.now += 5
    pace("DescribeJob")

    assert slept == [0.5, 0.5]
    assert pace.calls == {"DescribeJob": 4, "GetOTAUpdate": 1}


# ---------------------------------------------------------------------------------------------
# rich, or not
# ---------------------------------------------------------------------------------------------
def test_on_a_terminal_the_table_has_progress_bars(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    rolled_out(world, 4, {"thing-02": "FAILED"})
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich takes the output for a terminal
    monkeypatch.setenv("COLUMNS", "100")

    ran = status("--ota-update-id", "ota-1", "--until", "succeeded>=70%")

    assert ran.status == 0
    assert "\x1b[" in ran.out  # styled
    assert "━" in ran.out  # rich's progress bar
    assert "75.0%" in ran.out
    assert "4: 3 succeeded, 1 failed" in ran.out
    assert ran.out.rstrip().endswith(
        "--until succeeded>=70%: met by every OTA update (exit status 0)"
    )


def test_watch_on_a_terminal_refreshes_one_live_table(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    things(world, 2)
    testing.simulate_fleet(pace=testing.Pace(10, 30))
    release(world)
    monkeypatch.setenv("FORCE_COLOR", "1")

    ran = status("--ota-update-id", "ota-1", "--watch", "--interval", "20")

    assert ran.status == 0
    assert ran.out.count("OTA update") >= 2  # each refresh redraws it ...
    assert "\x1b[2K" in ran.out  # ... over the previous one (rich's Live erases its lines)


def test_without_rich_the_table_is_plain_text_even_on_a_terminal(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    half_rolled_out(world)
    monkeypatch.setenv("FORCE_COLOR", "1")
    for name in [m for m in sys.modules if m == "rich" or m.startswith("rich.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "rich", None)  # import rich: ImportError

    ran = status("--ota-update-id", "ota-1")

    assert ran.lines[0] == HEADER
    assert "\x1b" not in ran.out


# ---------------------------------------------------------------------------------------------
# AWS errors, the console script, and the emulation's server over HTTP
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No credentials anywhere (nor an instance's metadata to ask), one attempt per call."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.mark.usefixtures("no_aws")
def test_no_credentials_is_exit_status_2_saying_so() -> None:
    ran = status("--ota-update-id", "ota-1", "--endpoint-url", "http://127.0.0.1:9")

    assert ran.status == 2
    assert ran.err == (
        "cdk-ota-update status: GetOTAUpdate ota-1: Unable to locate credentials (configure "
        "credentials, or give --profile)\n"
    )


@pytest.mark.usefixtures("no_aws")
def test_an_unreachable_endpoint_is_exit_status_2_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")

    ran = status("--ota-update-id", "ota-1", "--endpoint-url", "http://127.0.0.1:9")

    assert ran.status == 2
    assert ran.err.startswith(
        'cdk-ota-update status: GetOTAUpdate ota-1: Could not connect to the endpoint URL: "http://127.0.0.1:9/'
    )


@pytest.mark.usefixtures("no_aws")
def test_an_unknown_profile_is_exit_status_2() -> None:
    ran = status("--ota-update-id", "ota-1", "--profile", "nope")

    assert (ran.status, ran.err) == (
        2,
        "cdk-ota-update status: AWS: The config profile (nope) could not be found\n",
    )


def test_the_command_starts_without_moto_boto3_rich_or_the_cdk() -> None:
    code = (
        "import sys\n"
        "from cdk_ota_update.rehearse import cli\n"
        "from cdk_ota_update import status, rollout\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'moto', 'boto3', 'rich', 'aws_cdk', 'jsii'}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT / "constructs")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    assert loaded == "[]"  # rich once it draws a table on a terminal


@fast
def test_the_readme_shows_what_the_command_prints() -> None:
    """README's "Watch a rollout from a pipeline": its table and its JSON document, as printed."""
    executions = {"QUEUED": 20, "IN_PROGRESS": 30, "SUCCEEDED": 930, "FAILED": 15, "REJECTED": 5}
    rollout = Rollout(
        "release-2",
        "FirmwareRelease",
        "SensorFirmware497D9507",
        "CREATE_COMPLETE",
        "AFR_OTA-release-2",
        "IN_PROGRESS",
        Executions({**Executions().counts, **executions}),
    )
    conditions = parse_conditions(["succeeded>=95%,failed>2%"])
    row = Row(rollout, judge(rollout, conditions))
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Watch a rollout from a pipeline")[1].split("\n## ")[0]
    text = section.split("```text\n")[1].split("\n```")[0]
    document = section.split("```json\n")[1].split("\n```")[0]

    summary = "--until succeeded>=95%,failed>2%: not met yet by release-2; --watch waits for it"
    summary += " (exit status 1)"
    assert text.splitlines() == [*plain_table([row]), summary]
    assert json.loads(document) == view.document([row], conditions, "pending", 1, summary)


@fast
def test_the_readme_states_the_calls_the_command_makes() -> None:
    readme = " ".join((ROOT / "README.md").read_text().split())
    per_minute = 60 / status_cli.DEFAULT_INTERVAL

    assert (
        f"never more than {CALLS_PER_SECOND:g} calls a second of any operation: with the default "
        f"interval, {per_minute:g} DescribeJob calls a minute per OTA update, at most "
        f"{60 * CALLS_PER_SECOND:g} a minute in all"
    ) in readme
    assert f"every `--interval` seconds (default {status_cli.DEFAULT_INTERVAL:g})" in readme


def test_the_console_script_has_the_status_command(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    things(world, 1)
    release(world)

    exit_status = console_script.main(["status", "--ota-update-id", "ota-1", "--json"])

    assert exit_status == 0
    assert json.loads(capsys.readouterr().out)["otaUpdates"][0]["jobStatus"] == "IN_PROGRESS"


@pytest.mark.usefixtures("provider")
def test_over_http_a_stack_is_watched_until_its_fleet_meets_the_conditions(
    emulated_server: Aws,
) -> None:
    world = make_world(emulated_server)
    things(world, 30)
    testing.simulate_fleet(
        outcomes={"SUCCEEDED": 0.97, "FAILED": 0.03}, seed=11, pace=testing.Pace(30, 120, 0.5)
    )
    release(world, "ota-1")
    release(world, "ota-2")
    stack(emulated_server, "Release", ["ota-1", "ota-2"])
    clock = FleetClock()

    ran = status(
        "--stack", "Release", "--until", "succeeded>=90%,failed>10%", "--watch",
        "--interval", "30", "--json", "--endpoint-url", str(emulated_server.endpoint),
        clock=clock,
    )  # fmt: skip

    document = json.loads(ran.out)
    assert (ran.status, document["verdict"], document["exitStatus"]) == (0, "met", 0)
    assert [(o["otaUpdateId"], o["logicalId"], o["verdict"]) for o in document["otaUpdates"]] == [
        ("ota-1", "Release0", "met"),
        ("ota-2", "Release1", "met"),
    ]
    assert all(o["executions"]["total"] == 30 for o in document["otaUpdates"])
    assert 0 < clock.now <= 300
