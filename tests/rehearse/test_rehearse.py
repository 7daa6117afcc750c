"""``cdk-ota-update rehearse``: the example app (app.py) from a real synth, end to end; an update
between two releases; the CLI's exit statuses, table and JSON; the pytest fixture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cdk_support import ROOT

from cdk_ota_update.rehearse import Report, cli

pytest_plugins = ["cdk_ota_update.rehearse.fixture"]

STACK = "FirmwareRelease"
EXISTS = ["--exists", "thinggroup/sensor-fleet", "--exists", "signing-profile/sensorFirmwareSigner"]


def synth(outdir: Path, **context: str) -> Path:
    """``python app.py`` as the CDK CLI runs it (CDK_OUTDIR, CDK_CONTEXT_JSON)."""
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(context)}
    subprocess.run(
        [sys.executable, str(ROOT / "app.py")], env=env, check=True, capture_output=True, cwd=ROOT
    )
    return outdir


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """app.py synthesized for firmware 1.2.0, then for 1.3.0."""
    return (
        synth(tmp_path_factory.mktemp("v120") / "cdk.out", firmwareVersion="1.2.0"),
        synth(tmp_path_factory.mktemp("v130") / "cdk.out", firmwareVersion="1.3.0"),
    )


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    """The CLI's exit status, stdout and stderr."""
    status = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def template(outdir: Path) -> dict[str, Any]:
    return json.loads((outdir / f"{STACK}.template.json").read_text())  # type: ignore[no-any-return]


def ota_update_id(outdir: Path) -> str:
    [properties] = [
        r["Properties"]
        for r in template(outdir)["Resources"].values()
        if r["Type"] == "Custom::OtaUpdate"
    ]
    return str(properties["otaUpdateId"])


def test_the_example_app_is_created_and_torn_down(
    releases: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "rehearse", releases[0], *EXISTS, "--teardown", "--json")
    report = json.loads(out)

    [ota] = report["otaUpdates"]
    expected_id = ota_update_id(releases[0])
    assert status == 0, out
    assert report["exitStatus"] == 0
    assert (ota["stack"], ota["otaUpdateId"]) == (STACK, expected_id)
    assert (ota["logicalId"], ota["jobId"]) == ("SensorFirmware497D9507", f"AFR_OTA-{expected_id}")
    assert ota["stream"].startswith("AFR_OTA-")
    assert [(s["request"], s["status"], s["purpose"]) for s in ota["steps"]] == [
        ("Create", "SUCCESS", ""),
        ("Delete", "SUCCESS", "teardown"),
    ]
    assert (ota["status"], ota["change"]) == ("DELETE_COMPLETE", "created")
    assert (ota["account"], ota["region"]) == ("123456789012", "us-east-1")
    assert report["mustExistAtDeploy"] == {}
    assert "rehearse: 2 step(s) done, 0 failed" in err
    # The assembly is left as synth made it: no bytecode in the handler's asset.
    assert not list(releases[0].rglob("__pycache__"))


def test_the_example_app_without_its_fleet_fails_and_names_what_must_exist(
    releases: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "rehearse", releases[0], "--stack", STACK)

    lines = out.splitlines()
    assert status == 1
    assert lines[0].split() == [
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
    row = lines[1].split(maxsplit=5)
    assert row[:5] == [
        f"{STACK}/SensorFirmware497D9507",
        "123456789012/us-east-1",
        "-",
        ota_update_id(releases[0]),
        "CREATE_FAILED",
    ]
    assert "thinggroup/sensor-fleet does not exist" in lines[1]
    assert (
        f"must exist at deploy: signing-profile/sensorFirmwareSigner (referred to by "
        f"{STACK}/SensorFirmware497D9507)"
    ) in lines
    assert (
        f"must exist at deploy: thinggroup/sensor-fleet (referred to by "
        f"{STACK}/SensorFirmware497D9507)"
    ) in lines
    assert lines[-1].endswith("1 failed, exit status 1")


@pytest.mark.parametrize(
    ("platform", "status"),
    [
        ("AWSLambda-SHA384-ECDSA", 1),
        ("Notation-OCI-SHA384-ECDSA", 1),
        ("AmazonFreeRTOS-TI-CC3220SF", 0),
    ],
)
def test_an_imported_profile_is_judged_by_the_platform_it_is_said_to_have(
    releases: tuple[Path, Path], capsys: pytest.CaptureFixture[str], platform: str, status: int
) -> None:
    given = ["--exists", "thinggroup/sensor-fleet", "--exists"]
    profile = f"signing-profile/sensorFirmwareSigner={platform}"

    exit_status, out, _ = run(capsys, "rehearse", releases[0], *given, profile, "--json")

    [ota] = json.loads(out)["otaUpdates"]
    assert exit_status == status
    if status:
        assert ota["status"] == "CREATE_FAILED"
        assert ota["reason"].startswith(
            f"Signing profile sensorFirmwareSigner is of platform {platform}: that platform signs "
            "Lambda code or container images, not firmware (OTA update "
        ), ota["reason"]
    else:
        assert ota["status"] == "CREATE_COMPLETE"


def test_an_update_between_two_releases_replaces_the_ota_update_and_deletes_the_old_one(
    releases: tuple[Path, Path], rehearsal: Any
) -> None:
    old, new = releases
    report: Report = rehearsal(new, previous=old, exists=EXISTS[1::2])

    [outcome] = report.outcomes
    assert report.exit_status == 0, report.table()
    assert (outcome.status, outcome.change) == ("UPDATE_COMPLETE", "replaced")
    assert (outcome.replaced, outcome.ota_update_id) == (ota_update_id(old), ota_update_id(new))
    assert [(s.request, s.status, s.purpose, s.physical_id) for s in outcome.steps] == [
        ("Create", "SUCCESS", "", ota_update_id(old)),
        ("Update", "SUCCESS", "", ota_update_id(new)),
        ("Delete", "SUCCESS", "replaced", ota_update_id(old)),
    ]
    assert f"replaced {ota_update_id(old)} -> {ota_update_id(new)}" in report.table()


def test_the_teardown_after_a_replacement_deletes_the_new_ota_update(
    releases: tuple[Path, Path], rehearsal: Any
) -> None:
    """The replaced one's cleanup Delete answers with the old id; the live one stays the new."""
    old, new = releases
    report: Report = rehearsal(new, previous=old, exists=EXISTS[1::2], teardown=True)

    [outcome] = report.outcomes
    assert report.exit_status == 0, report.table()
    assert outcome.status == "DELETE_COMPLETE"
    assert [(s.request, s.purpose, s.physical_id) for s in outcome.steps][-1] == (
        "Delete",
        "teardown",
        ota_update_id(new),
    )


def test_the_same_assembly_twice_sends_no_update(
    releases: tuple[Path, Path], rehearsal: Any
) -> None:
    report: Report = rehearsal(releases[0], previous=releases[0], exists=EXISTS[1::2])
    [outcome] = report.outcomes
    assert (outcome.status, outcome.change) == ("UNCHANGED", "unchanged")
    assert [s.request for s in outcome.steps] == ["Create"]


def test_the_rehearsal_that_cannot_run_exits_2(
    releases: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = run(capsys, "rehearse", tmp_path / "nothing")
    bad_exists = run(capsys, "rehearse", releases[0], "--exists", "fleet")
    unknown_stack = run(capsys, "rehearse", releases[0], "--stack", "Nope")

    assert missing[0] == 2
    assert "is not a directory: run `cdk synth` first" in missing[2]
    assert bad_exists[0] == 2
    assert "--exists 'fleet': expected thinggroup/NAME" in bad_exists[2]
    assert unknown_stack[0] == 2
    assert f"no stack 'Nope' in {releases[0]}: it has {STACK}" in unknown_stack[2]


def test_the_readmes_third_command_rehearses_the_example_app() -> None:
    """``bash scripts/rehearse.sh``: synth (unless cdk.out is there), rehearse, tear down."""
    run = subprocess.run(
        ["bash", str(ROOT / "scripts" / "rehearse.sh")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    assert "SensorFirmware497D9507" in run.stdout
    assert "1 OTA update(s) rehearsed" in run.stdout and "0 failed, exit status 0" in run.stdout
