"""The emulation's simulated fleet (cdk_ota_update.testing.fleet), through plain boto3: the
executions' state machine against the job's rollout, abort and timeout configurations, what
DescribeJob, ListJobExecutionsForJob, DescribeJobExecution and CloudWatch's job metrics report,
determinism, resets, and moto unchanged without a fleet."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from emulation_support import Aws, World, make_world, things
from moto.iot.exceptions import InvalidRequestException, ResourceNotFoundException

from cdk_ota_update import testing
from cdk_ota_update.job_metrics import JOB_METRICS
from cdk_ota_update.testing.backend import PROCESS_COUNTS as COUNTS

pytestmark = pytest.mark.fast  # the loop on every change (CONTRIBUTING.md)

JOB = "AFR_OTA-ota-1"


@pytest.fixture
def aws(emulated_in_process: Aws) -> Aws:
    return emulated_in_process


@pytest.fixture(params=["mock_aws", "server"])
def either_aws(request: pytest.FixtureRequest) -> Aws:
    """moto in-process, and a ThreadedMotoServer of this process (the controls reach both)."""
    name = "emulated_in_process" if request.param == "mock_aws" else "emulated_server"
    aws: Aws = request.getfixturevalue(name)
    return aws


def release(world: World, count: int, **members: Any) -> list[str]:
    """An OTA update of ``count`` things (the group "fleet"), its job created."""
    names = things(world, count)
    world.create(targets=[world.group_arn], **members)
    assert world.status() == "CREATE_COMPLETE"
    return names


def job(world: World, job_id: str = JOB) -> dict[str, Any]:
    found: dict[str, Any] = world.iot.describe_job(jobId=job_id)["job"]
    return found


def statuses(world: World, job_id: str = JOB) -> dict[str, str]:
    """Each thing's execution status, from ListJobExecutionsForJob."""
    summaries = world.iot.list_job_executions_for_job(jobId=job_id, maxResults=250)
    return {
        s["thingArn"].split("/")[-1]: s["jobExecutionSummary"]["status"]
        for s in summaries["executionSummaries"]
    }


def counted(world: World, job_id: str = JOB) -> Counter[str]:
    return Counter(statuses(world, job_id).values())


def execution(world: World, thing: str, job_id: str = JOB) -> dict[str, Any]:
    found: dict[str, Any] = world.iot.describe_job_execution(jobId=job_id, thingName=thing)[
        "execution"
    ]
    return found


def advance_to(seconds: float, since: datetime) -> None:
    """The fleet's clock to ``seconds`` after ``since`` (a fleet_time())."""
    testing.advance_fleet(seconds - (testing.fleet_time() - since).total_seconds())


@pytest.fixture
def world(aws: Aws) -> World:
    return make_world(aws)


# ---------------------------------------------------------------------------------------------
# The things that receive the job's executions
# ---------------------------------------------------------------------------------------------
def test_the_ota_jobs_executions_are_the_targeted_things_and_the_groups_things(
    world: World,
) -> None:
    things(world, 3)

    world.create(targets=[world.thing_arn, world.group_arn])

    assert statuses(world) == dict.fromkeys(
        ["device-1", "thing-01", "thing-02", "thing-03"], "QUEUED"
    )
    assert job(world)["jobProcessDetails"]["numberOfQueuedThings"] == 4


def test_a_thing_groups_job_runs_on_the_things_of_its_child_groups_at_every_depth(
    world: World,
) -> None:
    """AWS sends a thing group's job to every thing in the group and in its child groups."""
    things(world, 1)
    for group, parent in (("eu", "fleet"), ("eu-west", "eu"), ("us", "fleet"), ("other", None)):
        world.iot.create_thing_group(
            thingGroupName=group, **({"parentGroupName": parent} if parent else {})
        )
        world.iot.create_thing(thingName=f"in-{group}")
        world.iot.add_thing_to_thing_group(thingGroupName=group, thingName=f"in-{group}")

    world.create(targets=[world.group_arn])

    assert statuses(world) == dict.fromkeys(["thing-01", "in-eu", "in-eu-west", "in-us"], "QUEUED")
    assert job(world)["jobProcessDetails"]["numberOfQueuedThings"] == 4


def test_a_fleet_gives_a_moto_job_of_a_thing_group_an_execution_per_thing(world: World) -> None:
    things(world, 2)
    testing.simulate_fleet()

    world.iot.create_job(jobId="plain", targets=[world.group_arn], document="{}")

    assert statuses(world, "plain") == {"thing-01": "QUEUED", "thing-02": "QUEUED"}
    assert job(world, "plain")["status"] == "IN_PROGRESS"


# ---------------------------------------------------------------------------------------------
# The state machine and the rollout
# ---------------------------------------------------------------------------------------------
def test_executions_go_queued_in_progress_then_their_outcome(either_aws: Aws) -> None:
    world = make_world(either_aws)
    testing.simulate_fleet(pace=testing.Pace(start_after=10, finish_after=30))
    release(world, 2)

    seen = []
    for seconds in (9, 1, 29, 1):
        testing.advance_fleet(seconds)
        seen.append((job(world)["status"], sorted(statuses(world).values())))

    assert seen == [
        ("IN_PROGRESS", ["QUEUED", "QUEUED"]),
        ("IN_PROGRESS", ["IN_PROGRESS", "IN_PROGRESS"]),
        ("IN_PROGRESS", ["IN_PROGRESS", "IN_PROGRESS"]),
        ("COMPLETED", ["SUCCEEDED", "SUCCEEDED"]),
    ]


def test_maximum_per_minute_notifies_that_many_things_each_minute(world: World) -> None:
    testing.simulate_fleet(pace=testing.Pace(start_after=10, finish_after=3600))
    release(world, 7, awsJobExecutionsRolloutConfig={"maximumPerMinute": 2})
    start = testing.fleet_time()

    left_queued = []
    for minute in range(5):
        advance_to(minute * 60 + 59, start)
        left_queued.append(7 - counted(world)["QUEUED"])

    assert left_queued == [2, 4, 6, 7, 7]


def test_an_exponential_rate_grows_by_its_factor_up_to_the_maximum(world: World) -> None:
    testing.simulate_fleet(pace=testing.Pace(start_after=0, finish_after=3600))
    rate = {
        "maximumPerMinute": 4,
        "exponentialRate": {
            "baseRatePerMinute": 1,
            "incrementFactor": 2,
            "rateIncreaseCriteria": {"numberOfNotifiedThings": 2},
        },
    }
    release(world, 16, awsJobExecutionsRolloutConfig=rate)
    start = testing.fleet_time()

    notified = []
    for minute in range(6):
        advance_to(minute * 60 + 1, start)
        notified.append(16 - counted(world)["QUEUED"])

    # 1 per minute until 2 were notified, then 2 until 4, 4 until 8, then capped at 4
    assert notified == [1, 2, 4, 8, 12, 16]


def test_processing_targets_are_reported_until_every_target_was_notified(world: World) -> None:
    testing.simulate_fleet(pace=testing.Pace(start_after=0, finish_after=3600))
    release(world, 3, awsJobExecutionsRolloutConfig={"maximumPerMinute": 2})

    rolling = job(world)["jobProcessDetails"].get("processingTargets")
    testing.advance_fleet(60)

    assert (rolling, job(world)["jobProcessDetails"].get("processingTargets")) == (
        [world.group_arn],
        None,
    )


# ---------------------------------------------------------------------------------------------
# Abort
# ---------------------------------------------------------------------------------------------
FAILED_10_PERCENT_AFTER_10 = {
    "abortCriteriaList": [
        {
            "failureType": "FAILED",
            "action": "CANCEL",
            "thresholdPercentage": 10,
            "minNumberOfExecutedThings": 10,
        }
    ]
}


def failing_third(world: World, count: int) -> None:
    """A release of ``count`` things notified one a minute, each executed 90 s after that; the
    third fails; aborted at 10 % FAILED after 10 executed things."""
    testing.simulate_fleet(
        script={"thing-03": "FAILED"}, pace=testing.Pace(start_after=0, finish_after=90)
    )
    release(
        world,
        count,
        awsJobExecutionsRolloutConfig={"maximumPerMinute": 1},
        awsJobAbortConfig=FAILED_10_PERCENT_AFTER_10,
    )


def test_abort_cancels_the_job_when_the_tenth_executed_thing_puts_failures_at_ten_percent(
    world: World,
) -> None:
    """One thing a minute, each executed 90 s after its notification: thing-03 fails, so 1 of 9
    executed things is 11 % (below minNumberOfExecutedThings), and 1 of 10 is 10 %: the abort."""
    failing_third(world, 20)
    start = testing.fleet_time()
    tenth_executed = 9 * 60 + 90

    advance_to(tenth_executed - 1, start)
    before = (job(world)["status"], counted(world))
    advance_to(tenth_executed, start)
    aborted, after = job(world), counted(world)

    assert before == ("IN_PROGRESS", {"SUCCEEDED": 8, "FAILED": 1, "IN_PROGRESS": 2, "QUEUED": 9})
    assert (aborted["status"], after) == (
        "CANCELED",
        {"SUCCEEDED": 9, "FAILED": 1, "IN_PROGRESS": 1, "CANCELED": 9},  # QUEUED ones only
    )
    assert aborted["reasonCode"] == "JOB_ABORT_CRITERIA_MET"
    assert "abort configuration" in aborted["comment"]


def test_an_in_progress_execution_finishes_after_the_abort(world: World) -> None:
    failing_third(world, 12)

    testing.advance_fleet(3600)

    assert (job(world)["status"], statuses(world)["thing-11"], statuses(world)["thing-12"]) == (
        "CANCELED",
        "SUCCEEDED",
        "CANCELED",
    )


@pytest.mark.parametrize(
    ("failure_type", "outcome", "aborts"),
    [
        ("ALL", "REJECTED", True),
        ("ALL", "TIMED_OUT", True),
        ("REJECTED", "REJECTED", True),
        ("REJECTED", "FAILED", False),
        ("TIMED_OUT", "TIMED_OUT", True),
        ("FAILED", "TIMED_OUT", False),
    ],
)
def test_the_failure_type_decides_which_failures_count(
    world: World, failure_type: str, outcome: str, aborts: bool
) -> None:
    testing.simulate_fleet(
        script={"thing-01": outcome}, pace=testing.Pace(start_after=0, finish_after=30)
    )
    criterion = {
        "failureType": failure_type,
        "action": "CANCEL",
        "thresholdPercentage": 50,
        "minNumberOfExecutedThings": 2,
    }
    release(
        world,
        4,
        awsJobExecutionsRolloutConfig={"maximumPerMinute": 1},
        awsJobAbortConfig={"abortCriteriaList": [criterion]},
        awsJobTimeoutConfig={"inProgressTimeoutInMinutes": 1},
    )

    testing.advance_fleet(3600)

    assert job(world)["status"] == ("CANCELED" if aborts else "COMPLETED")


# ---------------------------------------------------------------------------------------------
# Timeout
# ---------------------------------------------------------------------------------------------
def test_an_execution_in_progress_past_its_timeout_is_timed_out(world: World) -> None:
    testing.simulate_fleet(
        script={"thing-01": "TIMED_OUT"},  # never reports
        pace=testing.Pace(start_after=0, finish_after=300),  # reports at the timeout: in time
    )
    release(world, 2, awsJobTimeoutConfig={"inProgressTimeoutInMinutes": 5})

    testing.advance_fleet(100)
    waiting = execution(world, "thing-01")
    testing.advance_fleet(200)

    assert (waiting["status"], waiting["approximateSecondsBeforeTimedOut"]) == ("IN_PROGRESS", 200)
    assert statuses(world) == {"thing-01": "TIMED_OUT", "thing-02": "SUCCEEDED"}
    assert job(world)["jobProcessDetails"]["numberOfTimedOutThings"] == 1
    assert "approximateSecondsBeforeTimedOut" not in execution(world, "thing-01")


def test_a_device_that_never_reports_stays_in_progress_without_a_timeout(world: World) -> None:
    testing.simulate_fleet(outcomes={"TIMED_OUT": 1})
    release(world, 1)

    testing.advance_fleet(7 * 86400)

    assert (job(world)["status"], statuses(world)) == ("IN_PROGRESS", {"thing-01": "IN_PROGRESS"})


# ---------------------------------------------------------------------------------------------
# Outcomes: drawn from a seed, scripted per thing
# ---------------------------------------------------------------------------------------------
def mixed_release(world: World, seed: int, count: int) -> None:
    """A release of ``count`` things, 5 notified a minute, of every outcome, with jittered paces
    and a 3-minute timeout."""
    testing.simulate_fleet(
        outcomes={"SUCCEEDED": 0.4, "FAILED": 0.2, "REJECTED": 0.2, "TIMED_OUT": 0.2},
        seed=seed,
        pace=testing.Pace(start_after=30, finish_after=120, jitter=0.9),
    )
    release(
        world,
        count,
        awsJobExecutionsRolloutConfig={"maximumPerMinute": 5},
        awsJobTimeoutConfig={"inProgressTimeoutInMinutes": 3},
    )


def history(aws: Aws, seed: int) -> list[list[tuple[str, str, float]]]:
    """Each thing's status and last update (seconds into the run), every 30 s for 15 minutes."""
    aws.reset()
    world = make_world(aws)
    mixed_release(world, seed, 12)
    start = testing.fleet_time().replace(tzinfo=None)
    seen = []
    for _ in range(30):
        testing.advance_fleet(30)
        summaries = world.iot.list_job_executions_for_job(jobId=JOB)["executionSummaries"]
        seen.append(
            [
                (
                    s["thingArn"].split("/")[-1],
                    s["jobExecutionSummary"]["status"],
                    (
                        s["jobExecutionSummary"]["lastUpdatedAt"].replace(tzinfo=None) - start
                    ).total_seconds(),
                )
                for s in summaries
            ]
        )
    return seen


def test_the_same_seed_gives_the_same_history_another_seed_another(aws: Aws) -> None:
    first, again, other = history(aws, 7), history(aws, 7), history(aws, 8)

    assert first == again
    assert first != other
    assert {status for _, status, _ in first[-1]} == {
        "SUCCEEDED",
        "FAILED",
        "REJECTED",
        "TIMED_OUT",
    }


def test_outcomes_are_drawn_in_their_proportions(world: World) -> None:
    testing.simulate_fleet(outcomes={"SUCCEEDED": 3, "FAILED": 1}, seed=1)
    release(world, 80)

    testing.advance_fleet(3600)

    assert 45 <= counted(world)["SUCCEEDED"] <= 75
    assert set(counted(world)) == {"SUCCEEDED", "FAILED"}


def test_a_script_decides_the_named_things_outcome(world: World) -> None:
    testing.simulate_fleet(script={"thing-03": "REJECTED", "thing-05": "FAILED"}, seed=4)
    release(world, 6)

    testing.advance_fleet(3600)

    assert statuses(world) == {
        "thing-01": "SUCCEEDED",
        "thing-02": "SUCCEEDED",
        "thing-03": "REJECTED",
        "thing-04": "SUCCEEDED",
        "thing-05": "FAILED",
        "thing-06": "SUCCEEDED",
    }


def test_a_fleet_for_one_job_leaves_the_others_to_moto(world: World) -> None:
    names = release(world, 2)
    world.iot.create_job(jobId="plain", targets=[world.thing_arn], document="{}")

    testing.simulate_fleet(JOB, script={names[0]: "FAILED"})
    testing.advance_fleet(3600)

    assert statuses(world) == {"thing-01": "FAILED", "thing-02": "SUCCEEDED"}
    assert (job(world, "plain")["status"], statuses(world, "plain")) == (
        "QUEUED",
        {"device-1": "QUEUED"},
    )


# ---------------------------------------------------------------------------------------------
# What the read APIs report
# ---------------------------------------------------------------------------------------------
def test_describe_jobs_counts_are_list_job_executions_counts(world: World) -> None:
    mixed_release(world, 3, 30)

    for _ in range(12):
        testing.advance_fleet(45)
        details = job(world)["jobProcessDetails"]
        listed = {
            status: len(
                world.iot.list_job_executions_for_job(jobId=JOB, status=status)[
                    "executionSummaries"
                ]
            )
            for status in COUNTS
        }

        assert {status: details[name] for status, name in COUNTS.items()} == listed
        assert sum(listed.values()) == 30


def test_describe_job_execution_reports_the_devices_times(world: World) -> None:
    testing.simulate_fleet(pace=testing.Pace(start_after=10, finish_after=30))
    release(world, 1)
    start = testing.fleet_time()

    queued = execution(world, "thing-01")
    testing.advance_fleet(60)
    done = execution(world, "thing-01")

    assert "startedAt" not in queued
    assert (done["status"], done["versionNumber"] - queued["versionNumber"]) == ("SUCCEEDED", 2)
    assert (done["startedAt"] - start, done["lastUpdatedAt"] - start) == (
        timedelta(seconds=10),
        timedelta(seconds=40),
    )


def test_a_completed_release_is_deleted_without_forcing(world: World) -> None:
    testing.simulate_fleet()
    release(world, 2)
    testing.advance_fleet(3600)

    world.iot.delete_ota_update(otaUpdateId="ota-1")

    assert world.iot.list_ota_updates()["otaUpdates"] == []


@pytest.mark.parametrize("joined", ["fleet", "site"])  # the targeted group, or its child group
def test_a_thing_leaving_the_group_is_removed_and_a_continuous_job_takes_newcomers(
    world: World, joined: str
) -> None:
    testing.simulate_fleet(pace=testing.Pace(start_after=60, finish_after=60))
    release(world, 2, targetSelection="CONTINUOUS")
    world.iot.create_thing_group(thingGroupName="site", parentGroupName="fleet")

    world.iot.remove_thing_from_thing_group(thingGroupName="fleet", thingName="thing-01")
    world.iot.create_thing(thingName="late")
    world.iot.add_thing_to_thing_group(thingGroupName=joined, thingName="late")
    testing.advance_fleet(3600)

    assert statuses(world) == {"thing-01": "REMOVED", "thing-02": "SUCCEEDED", "late": "SUCCEEDED"}
    assert job(world)["status"] == "IN_PROGRESS"  # a continuous job does not complete


def test_a_deleted_thing_is_removed_and_the_job_completes_without_it(world: World) -> None:
    testing.simulate_fleet(pace=testing.Pace(start_after=60, finish_after=60))
    release(world, 2)

    world.iot.delete_thing(thingName="thing-02")
    testing.advance_fleet(3600)

    assert statuses(world) == {"thing-01": "SUCCEEDED", "thing-02": "REMOVED"}
    assert (job(world)["status"], job(world)["jobProcessDetails"]["numberOfRemovedThings"]) == (
        "COMPLETED",
        1,
    )


@pytest.mark.parametrize(("force", "in_progress"), [(False, "SUCCEEDED"), (True, "CANCELED")])
def test_cancel_job_cancels_the_queued_executions_and_with_force_those_in_progress(
    world: World, force: bool, in_progress: str
) -> None:
    testing.simulate_fleet(pace=testing.Pace(start_after=0, finish_after=120))
    release(world, 2, awsJobExecutionsRolloutConfig={"maximumPerMinute": 1})
    testing.advance_fleet(30)

    world.iot.cancel_job(jobId=JOB, force=force)
    testing.advance_fleet(3600)

    assert statuses(world) == {"thing-01": in_progress, "thing-02": "CANCELED"}
    assert job(world)["status"] == "CANCELED"


# ---------------------------------------------------------------------------------------------
# CloudWatch job metrics
# ---------------------------------------------------------------------------------------------
def test_get_metric_statistics_returns_the_jobs_counts(either_aws: Aws) -> None:
    world = make_world(either_aws)
    testing.simulate_fleet(
        script={"thing-02": "FAILED", "thing-04": "REJECTED"},
        pace=testing.Pace(start_after=30, finish_after=60),
    )
    release(world, 5, awsJobExecutionsRolloutConfig={"maximumPerMinute": 2})
    start = testing.fleet_time()
    testing.advance_fleet(15 * 60)
    cloudwatch = either_aws.client("cloudwatch")

    def statistic(name: str, stat: str) -> list[tuple[datetime, float]]:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/IoT",
            MetricName=name,
            Dimensions=[{"Name": "JobId", "Value": JOB}],
            StartTime=start - timedelta(hours=1),
            EndTime=start + timedelta(hours=1),
            Period=60,
            Statistics=[stat],
        )["Datapoints"]
        return sorted((p["Timestamp"], p[stat]) for p in points)

    totals = {
        status: sum(v for _, v in statistic(changed, "Sum"))
        for status, (changed, _) in JOB_METRICS.items()
    }
    succeeded_total = statistic("SuccededJobExecutionTotalCount", "Maximum")

    assert totals == {
        "QUEUED": 5,
        "IN_PROGRESS": 5,
        "SUCCEEDED": 3,
        "FAILED": 1,
        "REJECTED": 1,
        "CANCELED": 0,
        "REMOVED": 0,
    }
    assert [value for _, value in succeeded_total][-1] == 3
    assert all(when.second == 0 for when, _ in succeeded_total)  # whole minutes


def test_get_metric_data_returns_the_jobs_totals_per_minute(world: World) -> None:
    testing.simulate_fleet(pace=testing.Pace(start_after=0, finish_after=60))
    release(world, 4, awsJobExecutionsRolloutConfig={"maximumPerMinute": 2})
    start = testing.fleet_time().replace(second=0)
    testing.advance_fleet(5 * 60)

    answer = world.aws.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "succeeded",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/IoT",
                        "MetricName": "SuccededJobExecutionTotalCount",
                        "Dimensions": [{"Name": "JobId", "Value": JOB}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=start,
        EndTime=start + timedelta(minutes=5),
        ScanBy="TimestampAscending",
    )["MetricDataResults"][0]

    assert answer["Values"][:3] == [0, 2, 4]


# ---------------------------------------------------------------------------------------------
# Resets, moto without a fleet, bad input
# ---------------------------------------------------------------------------------------------
def test_reset_controls_stops_the_fleet(world: World) -> None:
    testing.simulate_fleet(pace=testing.Pace(start_after=10, finish_after=3600))
    release(world, 2)
    testing.advance_fleet(30)

    testing.reset_controls()
    testing.advance_fleet(7200)

    assert counted(world) == {"IN_PROGRESS": 2}


def test_moto_reset_drops_the_fleet_and_its_jobs(world: World) -> None:
    testing.simulate_fleet()
    release(world, 2)
    testing.advance_fleet(60)

    world.aws.reset()
    world = make_world(world.aws)
    things(world, 1)
    world.iot.create_job(jobId="plain", targets=[world.group_arn], document="{}")
    testing.advance_fleet(3600)

    assert world.iot.list_jobs()["jobs"][0]["jobId"] == "plain"
    assert statuses(world, "plain") == {"fleet": "QUEUED"}  # moto's own, no fleet any more


def test_without_a_fleet_moto_jobs_are_moto_s(world: World) -> None:
    things(world, 2)
    world.iot.create_job(jobId="plain", targets=[world.group_arn], document="{}")

    testing.advance_fleet(3600)
    described = job(world, "plain")

    assert (described["status"], described["jobProcessDetails"]["numberOfQueuedThings"]) == (
        "QUEUED",
        1,
    )
    assert statuses(world, "plain") == {"fleet": "QUEUED"}  # moto names the group a thing


def test_a_fleet_for_a_job_that_does_not_exist_is_not_found(world: World) -> None:
    with pytest.raises(ResourceNotFoundException) as caught:
        testing.simulate_fleet("AFR_OTA-nope")

    assert (caught.value.code, caught.value.message) == (404, "Job AFR_OTA-nope does not exist")


def test_a_second_fleet_for_a_job_is_invalid(world: World) -> None:
    release(world, 1)
    testing.simulate_fleet(JOB)

    with pytest.raises(InvalidRequestException) as caught:
        testing.simulate_fleet(JOB)

    assert caught.value.message == f"A simulated fleet already works on job {JOB}"


def test_a_script_naming_no_thing_of_the_job_is_not_found(world: World) -> None:
    release(world, 1)

    with pytest.raises(ResourceNotFoundException) as caught:
        testing.simulate_fleet(JOB, script={"thing-9": "FAILED"})

    assert caught.value.message == f"Job {JOB} has no execution for the thing(s) thing-9"
    assert job(world)["status"] == "IN_PROGRESS"  # and no fleet took it
    assert counted(world) == {"QUEUED": 1}


@pytest.mark.parametrize(
    "arguments",
    [
        {"outcomes": {"SUCCEEDED": 1, "EXPLODED": 1}},
        {"outcomes": {"SUCCEEDED": -1}},
        {"outcomes": {"SUCCEEDED": 0}},
        {"script": {"thing-01": "QUEUED"}},
    ],
)
def test_outcomes_that_are_no_execution_end_are_refused(arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        testing.simulate_fleet(**arguments)


@pytest.mark.parametrize(
    "pace", [{"start_after": -1}, {"finish_after": float("nan")}, {"jitter": 1.5}]
)
def test_a_pace_out_of_range_is_refused(pace: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        testing.Pace(**pace)


def test_the_clock_does_not_go_back() -> None:
    with pytest.raises(ValueError, match="0 or more seconds"):
        testing.advance_fleet(-1)
