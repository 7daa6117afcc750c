"""The test controls over HTTP (``POST /moto-api/cdk-ota-update/<control>``), and the stand-alone
server's simulated fleet (``python -m cdk_ota_update.testing --fleet ...``): a release tested from
another process, or another language, than the emulation's, as the in-process tests do."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from emulation_support import (
    FAKE_CREDENTIALS,
    MOTO_API,
    Aws,
    World,
    error,
    make_world,
    serve,
    things,
)

from cdk_ota_update.testing import __main__ as server_main

JOB = "AFR_OTA-ota-1"


@pytest.fixture(params=["mock_aws", "server"])
def aws(request: pytest.FixtureRequest) -> Aws:
    """moto in-process (moto's own API at motoapi.amazonaws.com), and a ThreadedMotoServer."""
    name = "emulated_in_process" if request.param == "mock_aws" else "emulated_server"
    found: Aws = request.getfixturevalue(name)
    return found


def control(aws: Aws, name: str, body: Any = None, method: str = "POST") -> requests.Response:
    return requests.request(
        method,
        f"{aws.endpoint or MOTO_API}/moto-api/cdk-ota-update/{name}",
        data=None if body is None else json.dumps(body),
        timeout=30,
    )


def released(world: World, count: int) -> None:
    """An OTA update of ``count`` things (the group "fleet"), CREATE_COMPLETE."""
    things(world, count)
    world.create(targets=[world.group_arn])
    assert world.status() == "CREATE_COMPLETE"


def counts(world: World) -> dict[str, int]:
    details = world.iot.describe_job(jobId=JOB)["job"]["jobProcessDetails"]
    return {k: v for k, v in details.items() if k.startswith("numberOf") and v}


def test_a_fleet_simulated_and_advanced_over_http_works_the_jobs_through(aws: Aws) -> None:
    world = make_world(aws)
    simulated = control(
        aws,
        "simulate_fleet",
        {"script": {"thing-02": "FAILED"}, "seed": 3, "pace": {"start_after": 30}},
    )
    released(world, 4)
    before = counts(world)

    advanced = control(aws, "advance_fleet", {"seconds": 3600})

    assert (simulated.status_code, simulated.json()) == (200, {"result": None})
    assert (advanced.status_code, advanced.json()) == (200, {"result": None})
    assert before == {"numberOfQueuedThings": 4}
    assert counts(world) == {"numberOfSucceededThings": 3, "numberOfFailedThings": 1}
    assert world.iot.describe_job(jobId=JOB)["job"]["status"] == "COMPLETED"


def test_fleet_time_is_answered_as_an_iso_time_that_advance_fleet_moves(aws: Aws) -> None:
    first = control(aws, "fleet_time").json()["result"]
    control(aws, "advance_fleet", {"seconds": 90})
    second = control(aws, "fleet_time").json()["result"]

    assert (datetime.fromisoformat(second) - datetime.fromisoformat(first)).total_seconds() == 90


def test_a_fault_asked_for_over_http_fails_the_next_call_and_is_counted(aws: Aws) -> None:
    world = make_world(aws)
    world.create()

    throttled = control(aws, "throttle", {"operation": "GetOTAUpdate"})
    with pytest.raises(ClientError) as caught:
        world.info()
    world.info()

    assert throttled.status_code == 200
    assert error(caught.value) == ("ThrottlingException", 400)
    assert control(aws, "calls", {"operation": "GetOTAUpdate"}).json() == {"result": 2}


@pytest.mark.parametrize(
    ("name", "body", "status", "answer"),
    [
        (
            "advance_fleet",
            {"seconds": -1},
            400,
            {"error": "advance_fleet: the fleet's clock moves 0 or more seconds on, not -1"},
        ),
        (
            "advance_fleet",
            {"secs": 1},
            400,
            {"error": "advance_fleet: advance_fleet() got an unexpected keyword argument 'secs'"},
        ),
        (
            "advance_fleet",
            [60],
            400,
            {"error": "advance_fleet: the body is a JSON object of keyword arguments, not [60]"},
        ),
        (
            "throttle",
            {"operation": "CreateOtaUpdate"},
            400,
            {"error": "throttle: 'CreateOtaUpdate' is not an operation of AWS IoT"},
        ),
        (
            "simulate_fleet",
            {"pace": {"jitter": 2}},
            400,
            {"error": "simulate_fleet: Pace.jitter must be from 0 to 1, not 2"},
        ),
        (
            "simulate_fleet",
            {"job_id": "AFR_OTA-nothing"},
            404,
            {
                "error": "simulate_fleet: Job AFR_OTA-nothing does not exist",
                "code": "ResourceNotFoundException",
            },
        ),
    ],
    ids=["negative", "unknown-argument", "not-an-object", "not-an-operation", "bad-pace", "iot"],
)
def test_a_bad_control_request_is_answered_with_what_is_wrong(
    aws: Aws, name: str, body: Any, status: int, answer: dict[str, str]
) -> None:
    answered = control(aws, name, body)

    assert (answered.status_code, answered.json()) == (status, answer)
    assert control(aws, "fleet_time").status_code == 200  # nothing else changed


def test_a_control_is_posted_not_read(aws: Aws) -> None:
    answered = control(aws, "advance_fleet", method="GET")

    assert (answered.status_code, answered.json()) == (
        405,
        {"error": "advance_fleet: POST a JSON object of its arguments"},
    )


def test_a_control_that_does_not_exist_is_not_found(aws: Aws) -> None:
    assert control(aws, "advance_fleets", {"seconds": 1}).status_code == 404


# ---------------------------------------------------------------------------------------------
# python -m cdk_ota_update.testing --fleet ...: a server of its own process
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def held_fleet(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """A server whose fleet moves only when told to (``--fleet-speed 0``)."""
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with serve(
        "--fleet", "succeeded=75%,failed=25%", "--fleet-seed", "5", "--fleet-speed", "0"
    ) as aws:
        yield aws


@pytest.fixture
def running_fleet(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """A server whose fleet lives 10 simulated minutes a real second."""
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with serve("--fleet", "succeeded=100%", "--fleet-speed", "600") as aws:
        yield aws


def test_the_servers_fleet_works_a_job_through_when_its_clock_is_advanced(held_fleet: Aws) -> None:
    world = make_world(held_fleet)
    released(world, 8)
    held = counts(world)

    control(held_fleet, "advance_fleet", {"seconds": 3600})

    assert held == {"numberOfQueuedThings": 8}  # its clock moves only when told
    done = counts(world)
    assert sum(done.values()) == 8
    assert set(done) == {"numberOfSucceededThings", "numberOfFailedThings"}


def test_the_servers_fleet_outlives_motos_reset(held_fleet: Aws) -> None:
    held_fleet.reset()
    world = make_world(held_fleet)
    released(world, 3)

    control(held_fleet, "advance_fleet", {"seconds": 3600})

    assert sum(counts(world).values()) == 3
    assert "numberOfQueuedThings" not in counts(world)


def test_status_watches_a_rollout_on_the_servers_fleet_until_it_succeeds(
    running_fleet: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pipeline step, against a server of another process: ``status --watch --until``
    ends once the devices, in real time at the server's speed, took the firmware."""
    from cdk_ota_update.status import main

    world = make_world(running_fleet)
    released(world, 5)
    started = time.monotonic()

    status = main(
        [
            *("--ota-update-id", "ota-1", "--endpoint-url", str(running_fleet.endpoint)),
            *("--region", "us-east-1", "--until", "succeeded>=100%", "--watch"),
            *("--interval", "1", "--timeout", "60s", "--json"),
        ]
    )

    report = json.loads(capsys.readouterr().out)
    assert status == 0, report
    assert report["otaUpdates"][0]["executions"]["succeeded"] == 5
    assert time.monotonic() - started < 30  # 5 simulated minutes at 600 a second


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--fleet-seed", "3"], "--fleet-seed needs --fleet"),
        (["--fleet-speed", "60"], "--fleet-speed needs --fleet"),
        (
            ["--fleet", "succeeded=90%"],
            "argument --fleet: 'succeeded=90%': the shares add up to 90%, not 100%",
        ),
        (
            ["--fleet", "succeeded=100%", "--fleet-speed", "-1"],
            "--fleet-speed: -1 is not 0 or more simulated seconds",
        ),
        (
            ["--fleet", "succeeded=100%", "--fleet-pace", "jitter=2"],
            "--fleet-pace: Pace.jitter must be from 0 to 1, not 2.0",
        ),
    ],
)
def test_a_bad_fleet_option_stops_the_server_before_it_starts(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        server_main.main(options)

    assert exited.value.code == 2
    assert f"python -m cdk_ota_update.testing: error: {message}" in capsys.readouterr().err
