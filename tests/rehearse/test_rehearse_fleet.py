"""``cdk-ota-update rehearse --fleet`` (issue 21 item 3): the targets of the OTA updates rehearsed
are simulated devices, so that a rollout gate passes or fails and an abort configuration cancels a
job as on such a fleet, in simulated time.

One app, one synth (module fixture); each fleet is one rehearsal through the console script, its
report read as JSON and as the table. The rollout gates of the Slow and Bounded stacks outlast an
invocation of their provider (its shortest timeout): they are rehearsed on their own, slowly.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iot as iot
from cdk_support import ROOT

from cdk_ota_update import (
    AwsJobAbortConfig,
    AwsJobAbortCriteria,
    AwsJobExecutionsRolloutConfig,
    FileLocation,
    OtaTarget,
    OtaUpdate,
    OtaUpdateFile,
    OtaUpdateProvider,
    RolloutGate,
    api,
)
from cdk_ota_update.rehearse import cli
from cdk_ota_update.rehearse.bringup import devices, parse_exists

ACCOUNT = "123456789012"
FIRMWARE = str(ROOT / "firmware" / "sensor-fw.bin")
DEVICES = 10  # things per OTA update
HEALTHY = ["--fleet", "succeeded=100%"]
FAILING = ["--fleet", "succeeded=60%,failed=40%", "--fleet-seed", "3"]
GATED, AFTER_GATED, ABORTING = "Gated/Release", "Gated/Fleet", "Aborting/Release"
GROUP_CANARY, GROUP_FLEET = "Grouped/Canary", "Grouped/Fleet"  # thing groups given by --exists
SLOW, BOUNDED = "Slow/Release", "Bounded/Release"
FIRST_STACKS = ["--stack", "Gated", "--stack", "Aborting"]
# Devices that take 11 minutes: the provider's 3-minute invocations wait about 2 minutes each.
SLOW_FLEET = ["--fleet", "succeeded=100%", "--fleet-pace", "start=60,finish=600"]
BOUND = 1  # the Bounded provider's OTA_MAX_HANDOVERS


def _devices(stack: cdk.Stack, prefix: str, count: int = DEVICES) -> list[str]:
    """Things the stack declares, as the OTA update's targets."""
    for index in range(count):
        iot.CfnThing(stack, f"{prefix}{index}", thing_name=f"{prefix}-{index}")
    return [OtaTarget.thing(f"{prefix}-{index}") for index in range(count)]


def build(outdir: Path) -> None:
    app = cdk.App(outdir=str(outdir), context={"aws:cdk:enable-path-metadata": True})
    files = [OtaUpdateFile(file_name="fw.bin", file_location=FileLocation.from_asset(FIRMWARE))]
    gated = cdk.Stack(app, "Gated")
    canary = OtaUpdate(
        gated,
        "Release",
        targets=_devices(gated, "gated"),
        files=files,
        rollout_gate=RolloutGate(
            min_succeeded_percentage=90, max_failed_percentage=10, timeout=cdk.Duration.minutes(30)
        ),
    )
    after = OtaUpdate(gated, "Fleet", targets=_devices(gated, "fleet", 2), files=files)
    after.node.add_dependency(canary)  # created once the canary's gate passed
    aborting = cdk.Stack(app, "Aborting")
    OtaUpdate(
        aborting,
        "Release",
        targets=_devices(aborting, "aborting"),
        files=files,
        aws_job_executions_rollout_config=AwsJobExecutionsRolloutConfig(maximum_per_minute=2),
        aws_job_abort_config=AwsJobAbortConfig(
            abort_criteria_list=[
                AwsJobAbortCriteria(
                    failure_type="FAILED",
                    action="CANCEL",
                    threshold_percentage=20,
                    min_number_of_executed_things=5,
                )
            ]
        ),
    )
    grouped = cdk.Stack(app, "Grouped")  # the devices are registered: no stack declares them
    group_canary = OtaUpdate(
        grouped,
        "Canary",
        targets=[OtaTarget.thing_group("canary")],
        files=files,
        rollout_gate=RolloutGate(min_succeeded_percentage=90, min_executions=3),
    )
    OtaUpdate(
        grouped, "Fleet", targets=[OtaTarget.thing_group("fleet")], files=files
    ).node.add_dependency(group_canary)
    for name, bound in (("Slow", None), ("Bounded", BOUND)):
        stack = cdk.Stack(app, name)
        OtaUpdateProvider.configure(stack, timeout=cdk.Duration.minutes(3))
        OtaUpdate(
            stack,
            "Release",
            targets=_devices(stack, name.lower(), 2),
            files=files,
            rollout_gate=RolloutGate(min_succeeded_percentage=90, timeout=cdk.Duration.minutes(30)),
        )
        if bound is not None:
            OtaUpdateProvider.of(stack).function.add_environment(api.MAX_HANDOVERS_ENV, str(bound))
    app.synth()


@dataclass(frozen=True)
class Run:
    """A rehearsal through the console script: its exit status, report and table."""

    exit_status: int
    report: dict[str, Any]
    table: str

    def ota_update(self, path: str) -> dict[str, Any]:
        """The OTA update whose path (Stack/LogicalId) starts with ``path``."""
        [found] = [
            o
            for o in self.report["otaUpdates"]
            if f"{o['stack']}/{o['logicalId']}".startswith(path)
        ]
        return dict(found)

    def row(self, path: str) -> str:
        [found] = [line for line in self.table.splitlines() if line.startswith(path)]
        return found


Rehearse = Callable[..., Run]


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("fleet") / "cdk.out"
    build(outdir)
    return outdir


@pytest.fixture(scope="module")
def rehearsal(assembly: Path) -> Rehearse:
    def run(*options: str) -> Run:
        outputs = []
        for output in ([], ["--json"]):
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
                status = cli.main(["rehearse", str(assembly), *options, *output])
            outputs.append((status, printed.getvalue()))
        (status, table), (_, document) = outputs
        return Run(status, json.loads(document), table)

    return run


@pytest.fixture(scope="module")
def healthy(rehearsal: Rehearse) -> Run:
    return rehearsal(*FIRST_STACKS, *HEALTHY, "--teardown")


@pytest.fixture(scope="module")
def failing(rehearsal: Rehearse) -> Run:
    return rehearsal(*FIRST_STACKS, *FAILING, "--fleet-pace", "start=30,finish=120")


@pytest.fixture(scope="module")
def slow(rehearsal: Rehearse) -> Run:
    """(A rehearsal of its own: another gate waiting meanwhile would move the one clock on.)"""
    return rehearsal("--stack", "Slow", *SLOW_FLEET, "--teardown")


@pytest.fixture(scope="module")
def bounded(rehearsal: Rehearse) -> Run:
    return rehearsal("--stack", "Bounded", *SLOW_FLEET)


def test_a_gated_ota_update_passes_its_gate_on_a_healthy_fleet(healthy: Run) -> None:
    gated = healthy.ota_update(GATED)

    assert healthy.exit_status == 0
    assert [(s["request"], s["status"], s["purpose"]) for s in gated["steps"]] == [
        ("Create", "SUCCESS", ""),
        ("Delete", "SUCCESS", "teardown"),
    ]
    assert gated["rollout"] == (
        "gate passed; job COMPLETED: succeeded 10 of 10 executions (100.0%)"
    )
    assert healthy.row(GATED).endswith(gated["rollout"])
    assert healthy.report["fleet"] == "succeeded=100% (seed 0)"
    assert "fleet: succeeded=100% (seed 0)" in healthy.table.splitlines()


def test_a_gated_ota_update_fails_its_gate_on_a_failing_fleet_and_is_rolled_back(
    failing: Run,
) -> None:
    gated = failing.ota_update(GATED)
    ota_id = gated["otaUpdateId"]

    assert failing.exit_status == 1
    assert gated["status"] == "CREATE_FAILED"
    assert gated["reason"] == (
        f"failed>10% holds: 3 of 10 executions (30.0%) (rollout gate of OTA update {ota_id} "
        "failed; CloudFormation's rollback deletes it with its job)"
    )
    # CloudFormation's rollback deleted the OTA update and its job: nothing left to roll out.
    assert [(s["request"], s["status"], s["purpose"]) for s in gated["steps"]] == [
        ("Create", "FAILED", ""),
        ("Delete", "SUCCESS", "rollback"),
    ]
    assert gated["rollout"] is None
    assert failing.row(GATED).split()[4] == "CREATE_FAILED"


def test_what_depends_on_a_failed_gate_is_not_created(healthy: Run, failing: Run) -> None:
    """As CloudFormation creates it only once the canary's gate passed."""
    created = healthy.ota_update(AFTER_GATED)
    skipped = failing.ota_update(AFTER_GATED)
    canary = failing.ota_update(GATED)["logicalId"]

    assert created["rollout"] == "job COMPLETED: succeeded 2 of 2 executions (100.0%)"
    assert (skipped["status"], skipped["steps"], skipped["rollout"]) == ("NOT_REHEARSED", [], None)
    assert skipped["reason"] == f"depends on {ACCOUNT}/us-east-1/Gated/{canary}"


def test_an_abort_config_cancels_the_job_once_failures_pass_its_threshold(failing: Run) -> None:
    """2 devices notified a minute, each executed 150 s later: at the 5th executed (at 270 s,
    the 6th with it) failures are over 20%, and the 2 devices notified at 240 s, still QUEUED, are
    cancelled; the 2 at work finish."""
    aborting = failing.ota_update(ABORTING)

    assert aborting["status"] == "CREATE_COMPLETE"
    assert aborting["rollout"] == (
        "job CANCELED (JOB_ABORT_CRITERIA_MET): succeeded 4 of 10 executions (40.0%), "
        "failed 4 of 10 executions (40.0%), canceled 2 of 10 executions (20.0%)"
    )
    assert failing.row(ABORTING).endswith(aborting["rollout"])


def test_a_gate_longer_than_an_invocation_passes_after_hand_overs(slow: Run) -> None:
    """The simulated minutes use up the invocation's time (its monotonic clock) as in Lambda: each
    3-minute invocation waits until the margin before its end, then hands the wait over to the next
    one, which the rehearsal runs. The devices report after 660 simulated seconds; an invocation
    waits at most 180 - 57 = 123 s, and at least 36 s less (its last read may be one gate interval,
    30 s +- 20%, before it stops): 6 to 8 invocations, then the passing read, maybe in one more."""
    gated = slow.ota_update(SLOW)
    create, teardown = gated["steps"]
    window = api.MIN_FUNCTION_TIMEOUT_SECONDS - api.HANDOVER_MARGIN_SECONDS

    assert (api.MIN_FUNCTION_TIMEOUT_SECONDS, window) == (180, 123)
    assert slow.exit_status == 0
    assert (create["request"], create["status"], create["purpose"]) == ("Create", "SUCCESS", "")
    assert 5 <= create["handovers"] <= 8
    assert (teardown["request"], teardown["status"], teardown["purpose"]) == (
        "Delete",
        "SUCCESS",
        "teardown",
    )
    assert "handovers" not in teardown
    assert gated["rollout"] == "gate passed; job COMPLETED: succeeded 2 of 2 executions (100.0%)"
    # Torn down: nothing left.
    assert gated["status"] == "DELETE_COMPLETE"
    assert slow.row(SLOW).split()[4] == "DELETE_COMPLETE"


def test_a_gate_that_outlasts_the_hand_overs_bound_fails_naming_it(bounded: Run) -> None:
    """After 2 invocations (about 4 of the 11 simulated minutes), the wait may not be handed over
    again: the gate fails, naming the bound, and its job is cancelled."""
    gated = bounded.ota_update(BOUNDED)
    ota_id = gated["otaUpdateId"]

    assert bounded.exit_status == 1
    assert gated["status"] == "CREATE_FAILED"
    assert gated["reason"] == (
        "not yet: succeeded>=90% does not hold: 0 of 2 executions (0.0%) (rollout gate of OTA "
        f"update {ota_id} gave up after {BOUND} hand-overs ({api.MAX_HANDOVERS_ENV}={BOUND}); its "
        f"job AFR_OTA-{ota_id} cancelled; CloudFormation's rollback deletes it with its job)"
    )
    # CloudFormation's rollback deleted the OTA update and its job: nothing left to roll out.
    assert [
        (s["request"], s["status"], s["purpose"], s.get("handovers")) for s in gated["steps"]
    ] == [("Create", "FAILED", "", BOUND), ("Delete", "SUCCESS", "rollback", None)]
    assert gated["rollout"] is None
    assert bounded.row(BOUNDED).split()[4] == "CREATE_FAILED"


@pytest.mark.parametrize(
    ("canary", "devices"),
    [("thinggroup/canary=12", 12), (f"arn:aws:iot:us-east-1:{ACCOUNT}:thinggroup/canary=3", 3)],
)
def test_a_thing_group_given_with_n_devices_is_rolled_out_to_them(
    rehearsal: Rehearse, canary: str, devices: int
) -> None:
    """``--exists thinggroup/NAME=N``: the thing group of registered devices, which no stack
    declares (CloudFormation cannot put a thing in a thing group), has N simulated ones."""
    run = rehearsal(
        *("--stack", "Grouped", "--exists", canary, "--exists", "thinggroup/fleet=5"),
        *HEALTHY,
    )

    assert run.exit_status == 0, run.table
    assert run.ota_update(GROUP_CANARY)["rollout"] == (
        f"gate passed; job COMPLETED: succeeded {devices} of {devices} executions (100.0%)"
    )
    assert run.ota_update(GROUP_FLEET)["rollout"] == (
        "job COMPLETED: succeeded 5 of 5 executions (100.0%)"
    )
    assert run.report["warnings"] == []


def test_a_gate_on_a_thing_group_without_devices_fails_and_the_group_is_named(
    rehearsal: Rehearse,
) -> None:
    """Without ``=N`` the group has no thing: its job completes with no execution, the gate
    fails on the figures, and a warning names the group and the fix. The OTA update left out
    after the failed gate still refers to its thing group: no "unused --exists" warning."""
    run = rehearsal(
        *("--stack", "Grouped", "--exists", "thinggroup/canary"),
        *("--exists", "thinggroup/fleet=5", *HEALTHY),
    )
    canary = run.ota_update(GROUP_CANARY)

    assert run.exit_status == 1
    assert canary["reason"].startswith(
        "the job is COMPLETED: succeeded>=90% does not hold: 0 of 0 executions (rollout gate of "
    )
    assert run.ota_update(GROUP_FLEET)["status"] == "NOT_REHEARSED"
    assert run.report["warnings"] == [
        f"--fleet: thing group canary ({ACCOUNT}/us-east-1) has no devices, so a job has no "
        f"executions there (targeted by Grouped/{canary['logicalId']}); --exists "
        "thinggroup/canary=N gives it N simulated devices"
    ]


@pytest.mark.parametrize(
    ("exists", "named", "where", "count"),
    [
        ("thinggroup/canary=12", "thinggroup/canary", None, 12),
        (
            f"arn:aws:iot:eu-west-1:{ACCOUNT}:thinggroup/canary=3",
            "thinggroup/canary",
            (ACCOUNT, "eu-west-1"),
            3,
        ),
        ("thinggroup/canary", "thinggroup/canary", None, 0),
        ("s3://firmware/fw/v=1.2/fw.bin", "s3://firmware/fw/v=1.2/fw.bin", None, 0),  # a key's '='
    ],
)
def test_exists_names_the_resource_and_the_devices_of_a_thing_group(
    exists: str, named: str, where: tuple[str, str] | None, count: int
) -> None:
    assert parse_exists(exists) == (named, where)
    assert devices(exists) == count


@pytest.mark.parametrize(
    ("exists", "message"),
    [
        (
            "thinggroup/canary=0",
            "'0' is not a number of devices: expected thinggroup/NAME=N with N from 1 to 1000",
        ),
        ("thinggroup/canary=1001", "'1001' is not a number of devices: expected thinggroup/NAME=N"),
        ("thinggroup/canary=ten", "'ten' is not a number of devices: expected thinggroup/NAME=N"),
        ("thinggroup/canary=", "'' is not a number of devices: expected thinggroup/NAME=N"),
        ("thinggroup/canary=-2", "'-2' is not a number of devices: expected thinggroup/NAME=N"),
        (
            "thing/door=3",
            "only a thing group (=N devices) or a signing profile (=PLATFORM) takes '='",
        ),
    ],
)
def test_a_bad_number_of_devices_stops_the_rehearsal_before_it_starts(
    assembly: Path, exists: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["rehearse", str(assembly), "--stack", "Grouped", "--exists", exists])

    assert status == 2
    assert f"cdk-ota-update rehearse: --exists {exists!r}: {message}" in capsys.readouterr().err


def test_without_a_fleet_the_report_is_unchanged(rehearsal: Rehearse) -> None:
    """(Only the stack without a gate: without a fleet, moto's executions stay QUEUED.)"""
    plain = rehearsal("--stack", "Aborting")

    assert plain.exit_status == 0
    assert "fleet" not in plain.report
    assert list(plain.ota_update(ABORTING)) == [
        "stack",
        "logicalId",
        "account",
        "region",
        "otaUpdateId",
        "status",
        "change",
        "jobId",
        "stream",
        "seconds",
        "reason",
        "replaced",
        "steps",
    ]
    assert plain.table.splitlines()[0].split() == [
        "OTA",
        "update",
        "environment",
        "change",
        "otaUpdateId",
        "status",
        "job",
        "stream",
        "seconds",
        "reason",
    ]
    assert not any(line.startswith("fleet:") for line in plain.table.splitlines())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--fleet", "succeeded>=95%"],
            "argument --fleet: 'succeeded>=95%' is not an outcome's share; ",
        ),
        (
            ["--fleet", "succeeded=95"],
            "argument --fleet: 'succeeded=95' is not an outcome's share; ",
        ),
        (
            ["--fleet", "succeeded=95%,canceled=5%"],
            "argument --fleet: 'canceled=5%' is not an outcome's share; ",
        ),
        (
            ["--fleet", "sucseeded=100%"],
            "argument --fleet: 'sucseeded=100%' is not an outcome's share; ",
        ),
        (
            ["--fleet", "succeeded=50%,succeeded=50%"],
            "argument --fleet: 'succeeded=50%': SUCCEEDED is given twice; ",
        ),
        (
            ["--fleet", "succeeded=90%,failed=5%"],
            "argument --fleet: 'succeeded=90%,failed=5%': the shares add up to 95%, not 100%; ",
        ),
        (
            ["--fleet", "succeeded=100%", "--fleet-pace", "start=ten"],
            "argument --fleet-pace: 'start=ten' is not a pace; accepted form: "
            "start=SECONDS,finish=SECONDS,jitter=FRACTION, any of them (start=30,finish=120)",
        ),
        (
            ["--fleet", "succeeded=100%", "--fleet-seed", "x"],
            "argument --fleet-seed: invalid int value: 'x'",
        ),
    ],
)
def test_a_bad_fleet_is_refused_with_what_is_wrong(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["rehearse", "cdk.out", *options])

    assert exited.value.code == 2
    assert f"cdk-ota-update rehearse: error: {message}" in capsys.readouterr().err


MIX_FORMS = (
    "accepted form: OUTCOME=N%, comma-separated, the shares adding up to 100% "
    "(succeeded=95%,failed=5%); OUTCOME is succeeded, failed, rejected or timed-out (a device "
    "that never reports)"
)


def test_a_bad_share_is_refused_naming_the_accepted_form(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        cli.main(["rehearse", "cdk.out", "--fleet", "failed=x%"])

    assert capsys.readouterr().err.splitlines()[-1] == (
        f"cdk-ota-update rehearse: error: argument --fleet: 'failed=x%' is not an outcome's "
        f"share; {MIX_FORMS}"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--fleet-seed", "1"], "--fleet-seed needs --fleet"),
        (["--fleet-pace", "start=1"], "--fleet-pace needs --fleet"),
        (
            ["--fleet", "succeeded=100%", "--fleet-pace", "jitter=2"],
            "--fleet-pace: Pace.jitter must be from 0 to 1, not 2.0",
        ),
    ],
)
def test_a_fleet_option_that_cannot_apply_stops_the_rehearsal(
    options: list[str], message: str, assembly: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["rehearse", str(assembly), *options]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"cdk-ota-update rehearse: {message}"
