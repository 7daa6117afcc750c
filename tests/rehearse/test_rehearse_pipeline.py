"""The rehearsal as the gate of a two-Region CDK Pipelines release (tests/pipeline_support.py).

Two releases synthesized once (3.4.0 with a pilot group, 3.5.0 without); the first rehearsed
alone, then the second from the first with a teardown, as the pipeline's gate would run them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_support import ACCOUNT, PIPELINE, REGIONS, SIGNER, Release, left_in, synth

from cdk_ota_update.rehearse import Fleet, Outcome, Report, cli, rehearse

EXISTS = [f"signing-profile/{SIGNER}"]  # a name: given in both Regions
UNUSED = "thinggroup/legacy-fleet"
RELEASES = {"Eu-Release": "eu-west-1", "Us-Release": "us-east-1"}
STACKS = ("Fleet", "Release")  # of each stage
Leftovers = dict[str, dict[str, list[str]]]


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("pipeline")
    return (
        synth(root / "v1", Release("3.4.0", pilot=True)),
        synth(root / "v2", Release("3.5.0", pilot=False)),
    )


@pytest.fixture(scope="module")
def first(assemblies: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Report:
    return rehearse(
        assemblies[0], exists=[*EXISTS, UNUSED], workdir=tmp_path_factory.mktemp("first")
    )


@pytest.fixture(scope="module")
def update(
    assemblies: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Report, Leftovers]:
    """3.5.0 from 3.4.0, torn down; and what is left in each Region afterwards."""
    report = rehearse(
        assemblies[1],
        previous=assemblies[0],
        exists=EXISTS,
        teardown=True,
        workdir=tmp_path_factory.mktemp("update"),
    )
    return report, {region: left_in(ACCOUNT, region) for region in REGIONS.values()}


def by_logical_name(report: Report, name: str) -> list[Outcome]:
    """The outcomes of the OtaUpdates of that construct id, one per Region."""
    return [o for o in report.outcomes if o.logical_id.startswith(name)]


def test_every_ota_update_is_created_in_its_own_region(first: Report) -> None:
    created = sorted((o.stack, o.account, o.region, o.status) for o in first.outcomes)

    assert first.exit_status == 0, first.table()
    assert created == sorted(
        (stack, ACCOUNT, region, "CREATE_COMPLETE")
        for stack, region in RELEASES.items()
        for _ in range(4)
    )
    assert all(o.job_id == f"AFR_OTA-{o.ota_update_id}" for o in first.outcomes)


def test_a_signing_profile_given_by_name_exists_in_both_regions(first: Report) -> None:
    assert first.must_exist == {}
    assert {o.region for o in first.outcomes if o.change == "created"} == set(REGIONS.values())


def test_an_exists_no_stack_refers_to_is_warned(first: Report) -> None:
    warning = f"--exists {UNUSED}: no OTA update of the stacks rehearsed refers to it"

    assert first.warnings == [warning]
    assert f"warning: {warning}" in first.table().splitlines()


def test_the_next_release_replaces_each_ota_update(
    first: Report, update: tuple[Report, Leftovers]
) -> None:
    report, _ = update
    before = {(o.stack, o.logical_id): o.ota_update_id for o in first.outcomes}
    replaced = by_logical_name(report, "Firmware") + by_logical_name(report, "Bootloader")

    assert report.exit_status == 0, report.table()
    assert len(replaced) == 4
    for outcome in replaced:
        old = before[(outcome.stack, outcome.logical_id)]
        assert (outcome.change, outcome.replaced) == ("replaced", old)
        assert outcome.ota_update_id not in (None, old)
        assert [(s.request, s.purpose, s.physical_id) for s in outcome.steps] == [
            ("Create", "", old),
            ("Update", "", outcome.ota_update_id),
            ("Delete", "replaced", old),
            ("Delete", "teardown", outcome.ota_update_id),
        ]
        assert f"replaced {old} -> {outcome.ota_update_id}" in report.table()


def test_an_ota_update_whose_tags_alone_change_is_updated_in_place(
    first: Report, update: tuple[Report, Leftovers]
) -> None:
    report, _ = update
    before = {(o.stack, o.logical_id): o.ota_update_id for o in first.outcomes}
    recoveries = by_logical_name(report, "Recovery")

    assert len(recoveries) == 2
    for outcome in recoveries:
        kept = before[(outcome.stack, outcome.logical_id)]
        assert (outcome.change, outcome.replaced, outcome.ota_update_id) == ("updated", None, kept)
        assert [(s.request, s.purpose, s.physical_id) for s in outcome.steps] == [
            ("Create", "", kept),
            ("Update", "", kept),
            ("Delete", "teardown", kept),
        ]


def test_the_ota_update_the_next_release_removes_is_deleted(
    update: tuple[Report, Leftovers],
) -> None:
    report, _ = update
    pilots = by_logical_name(report, "Pilot")

    assert sorted(o.region for o in pilots) == sorted(REGIONS.values())
    assert {(o.change, o.status) for o in pilots} == {("deleted", "DELETE_COMPLETE")}


def test_after_the_teardown_only_the_fleets_groups_are_left(
    update: tuple[Report, Leftovers],
) -> None:
    """The replaced OTA updates, their jobs and streams, and the removed pilot group are gone."""
    _, left = update
    iot = {
        region: {k: v for k, v in things.items() if k != "buckets"}
        for region, things in left.items()
    }
    assert iot == {
        region: {
            "otaUpdates": [],
            "streams": [],
            "jobs": [],
            "thingGroups": [f"fleet-{region}-gateways"],
        }
        for region in REGIONS.values()
    }


def test_a_removed_bucket_is_kept_as_its_removal_policy_says(
    update: tuple[Report, Leftovers],
) -> None:
    """CDK's buckets are retained by default (DeletionPolicy Retain): the cleanup leaves them."""
    _, left = update
    for region, things in left.items():
        assert f"fleet-{region}-pilot-reports" in things["buckets"]


@pytest.mark.parametrize(
    "pattern", [f"{PIPELINE}/Us/Release", "*/Us/*", "Us-*"], ids=["id", "path-glob", "name-glob"]
)
def test_stacks_in_a_stage_are_selected_as_cdk_deploy_selects_them(
    assemblies: tuple[Path, Path], tmp_path: Path, pattern: str
) -> None:
    report = rehearse(assemblies[0], stacks=[pattern], exists=EXISTS, workdir=tmp_path)

    assert report.exit_status == 0, report.table()
    assert {(o.stack, o.region) for o in report.outcomes} == {("Us-Release", "us-east-1")}
    assert len(report.outcomes) == 4


def test_a_pattern_that_selects_no_stack_exits_2_listing_the_stacks(
    assemblies: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["rehearse", str(assemblies[0]), "--stack", "*/Asia/*"])
    error, _, listed = capsys.readouterr().err.strip().partition(": it has ")

    assert status == 2
    assert error.endswith(f"no stack '*/Asia/*' in {assemblies[0]}")
    assert sorted(listed.split(", ")) == [
        PIPELINE,
        *(f"{PIPELINE}/{stage}/{stack} ({stage}-{stack})" for stage in REGIONS for stack in STACKS),
    ]


def test_each_regions_group_gets_its_own_devices_in_the_update_under_a_fleet(
    assemblies: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``--exists`` of a thing group's ARN with ``=N``: N devices in that Region only; the
    release deployed over the previous one rolls out to them, in each Region its own count."""
    devices = {"eu-west-1": 3, "us-east-1": 2}
    report = rehearse(
        assemblies[1],
        previous=assemblies[0],
        exists=[
            *EXISTS,
            *(
                f"arn:aws:iot:{region}:{ACCOUNT}:thinggroup/fleet-{region}-gateways={count}"
                for region, count in devices.items()
            ),
        ],
        fleet=Fleet({"SUCCEEDED": 100}),
        workdir=tmp_path_factory.mktemp("devices"),
    )

    assert report.exit_status == 0, report.table()
    rolled_out = {(o.region, o.rollout) for o in report.outcomes if o.rollout}
    assert rolled_out == {
        (region, f"job COMPLETED: succeeded {count} of {count} executions (100.0%)")
        for region, count in devices.items()
    }
    assert report.warnings == []
