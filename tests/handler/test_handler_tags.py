"""Tag changes through CloudFormation-shaped events: in place (TagResource / UntagResource), the
ownership tags kept, the OTA update and its job untouched; rollbacks, replacements and faults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from emulation_support import World
from handler_support import ID, LOGICAL_ID, exists, job, properties
from harness import CloudFormation, Response

from cdk_ota_update import api, testing

ORIGINAL = {"team": "firmware", "stage": "beta", "cost-center": "41"}
# team changed, stage removed, cost-center kept, owner added
RETAGGED = {"team": "platform", "cost-center": "41", "owner": "release-pipeline"}
CHANGING_CALLS = ("CreateOTAUpdate", "DeleteOTAUpdate")


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tagged(
    world: World, tags: Mapping[str, str], ota_update_id: str = ID, **members: Any
) -> dict[str, Any]:
    return properties(world, ota_update_id, tags=tag_list(tags), **members)


def service_tags(world: World, ota_update_id: str = ID) -> dict[str, str]:
    arn = world.info(ota_update_id)["otaUpdateArn"]
    return {t["Key"]: t["Value"] for t in world.iot.list_tags_for_resource(resourceArn=arn)["tags"]}


def ownership(tags: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if k in api.OWNER_TAGS}


def counts() -> dict[str, int]:
    return {op: testing.calls(op) for op in CHANGING_CALLS}


class Deployed:
    """An OtaUpdate created with ORIGINAL tags, and what the service held right after."""

    def __init__(self, cloudformation: CloudFormation, world: World) -> None:
        self.cloudformation, self.world = cloudformation, world
        self.properties = tagged(world, ORIGINAL)
        self.created = cloudformation.create(LOGICAL_ID, self.properties)
        self.tags = service_tags(world)
        self.job = job(world)

    def update(self, new: dict[str, Any], old: dict[str, Any] | None = None) -> Response:
        return self.cloudformation.update(LOGICAL_ID, ID, new, old or self.properties)


@pytest.fixture
def deployed(cloudformation: CloudFormation, world: World) -> Deployed:
    return Deployed(cloudformation, world)


# ---------------------------------------------------------------------------------------------
# A tag change is an in-place update
# ---------------------------------------------------------------------------------------------
def test_created_ota_update_carries_the_user_and_ownership_tags(
    deployed: Deployed, cloudformation: CloudFormation
) -> None:
    assert deployed.tags == {
        **ORIGINAL,
        api.OWNER_STACK_TAG: cloudformation.stack_id,
        api.OWNER_LOGICAL_ID_TAG: LOGICAL_ID,
        api.REQUEST_HASH_TAG: deployed.tags[api.REQUEST_HASH_TAG],
    }
    assert len(deployed.tags[api.REQUEST_HASH_TAG]) == 64


def test_tag_change_keeps_the_ota_update_and_answers_the_same_data(deployed: Deployed) -> None:
    before = counts()

    updated = deployed.update(tagged(deployed.world, RETAGGED))

    assert (updated.status, updated.physical_id) == ("SUCCESS", ID)
    assert updated.data == deployed.created.data
    assert counts() == before


def test_tag_change_sets_the_new_tags_and_keeps_the_ownership_tags(deployed: Deployed) -> None:
    deployed.update(tagged(deployed.world, RETAGGED))

    assert service_tags(deployed.world) == {**RETAGGED, **ownership(deployed.tags)}


def test_tag_change_leaves_the_job_running(deployed: Deployed) -> None:
    deployed.update(tagged(deployed.world, RETAGGED))

    after = job(deployed.world)
    assert (after["jobArn"], after["createdAt"], after["status"]) == (
        deployed.job["jobArn"],
        deployed.job["createdAt"],
        "IN_PROGRESS",
    )
    assert [j["jobId"] for j in deployed.world.iot.list_jobs()["jobs"]] == [api.job_id(ID)]


def test_tag_change_together_with_a_teardown_flag_retags(deployed: Deployed) -> None:
    updated = deployed.update(tagged(deployed.world, RETAGGED, deleteStream=False))

    assert (updated.status, updated.physical_id) == ("SUCCESS", ID)
    assert service_tags(deployed.world) == {**RETAGGED, **ownership(deployed.tags)}


def test_removing_every_user_tag_keeps_the_ownership_tags(deployed: Deployed) -> None:
    updated = deployed.update(tagged(deployed.world, {}))

    assert updated.status == "SUCCESS"
    assert service_tags(deployed.world) == ownership(deployed.tags)


def test_replacing_many_tags_stays_within_the_services_tag_limit(
    cloudformation: CloudFormation, world: World
) -> None:
    many = {f"old-{i}": "v" for i in range(30)}  # + 3 ownership tags: 33, and 63 if tagged first
    old = tagged(world, many)
    cloudformation.create(LOGICAL_ID, old)
    owner_tags = ownership(service_tags(world))
    new_tags = {f"new-{i}": "v" for i in range(30)}

    updated = cloudformation.update(LOGICAL_ID, ID, tagged(world, new_tags), old)

    assert updated.status == "SUCCESS"
    assert service_tags(world) == {**new_tags, **owner_tags}


# ---------------------------------------------------------------------------------------------
# Rollback and delete after a retag
# ---------------------------------------------------------------------------------------------
def test_rollback_of_a_tag_change_restores_the_old_tags(deployed: Deployed) -> None:
    retagged = tagged(deployed.world, RETAGGED)
    deployed.update(retagged)
    before = counts()

    rolled_back = deployed.update(deployed.properties, retagged)

    assert (rolled_back.status, rolled_back.physical_id) == ("SUCCESS", ID)
    assert rolled_back.data == deployed.created.data
    assert service_tags(deployed.world) == deployed.tags
    assert counts() == before


def test_delete_after_a_retag_and_its_rollback_deletes_everything(deployed: Deployed) -> None:
    retagged = tagged(deployed.world, RETAGGED)
    deployed.update(retagged)
    deployed.update(deployed.properties, retagged)

    deleted = deployed.cloudformation.delete(LOGICAL_ID, ID, deployed.properties)

    assert deleted.status == "SUCCESS"
    assert not exists(deployed.world.iot)
    assert deployed.world.iot.list_jobs()["jobs"] == []
    assert deployed.world.stream_ids() == []


def test_delete_after_a_retag_deletes_the_ota_update(deployed: Deployed) -> None:
    retagged = tagged(deployed.world, RETAGGED)
    deployed.update(retagged)

    deleted = deployed.cloudformation.delete(LOGICAL_ID, ID, retagged)

    assert deleted.status == "SUCCESS"
    assert not exists(deployed.world.iot)
    assert deployed.world.iot.list_jobs()["jobs"] == []


def test_fixed_id_rollback_after_a_retag_is_still_recognised(deployed: Deployed) -> None:
    retagged = tagged(deployed.world, RETAGGED)
    deployed.update(retagged)
    attempted = tagged(deployed.world, RETAGGED, description="Firmware 2.0")
    failed = deployed.update(attempted, retagged)

    rolled_back = deployed.update(retagged, attempted)

    assert failed.status == "FAILED"
    assert (rolled_back.status, rolled_back.physical_id) == ("SUCCESS", ID)
    assert service_tags(deployed.world) == {**RETAGGED, **ownership(deployed.tags)}


def test_repeated_create_with_other_tags_claims_and_retags_the_ota_update(
    deployed: Deployed,
) -> None:
    again = deployed.cloudformation.create(LOGICAL_ID, tagged(deployed.world, RETAGGED))

    assert (again.status, again.data) == ("SUCCESS", deployed.created.data)
    assert service_tags(deployed.world) == {**RETAGGED, **ownership(deployed.tags)}
    assert testing.calls("CreateOTAUpdate") == 2  # the second one: ResourceAlreadyExists


# ---------------------------------------------------------------------------------------------
# A request change is still a replacement, or a failure under a fixed id
# ---------------------------------------------------------------------------------------------
def test_request_and_tag_change_creates_a_new_ota_update_with_the_new_tags(
    deployed: Deployed,
) -> None:
    new = tagged(deployed.world, RETAGGED, "fw-2", description="Firmware 2.0")

    updated = deployed.update(new)
    cleanup = deployed.cloudformation.delete(LOGICAL_ID, ID, deployed.properties)

    assert (updated.status, updated.physical_id) == ("SUCCESS", "fw-2")
    assert {
        k: v for k, v in service_tags(deployed.world, "fw-2").items() if k not in api.OWNER_TAGS
    } == RETAGGED
    assert cleanup.status == "SUCCESS"
    assert not exists(deployed.world.iot, ID)


def test_request_and_tag_change_under_a_fixed_id_fails_and_keeps_the_tags(
    deployed: Deployed,
) -> None:
    updated = deployed.update(tagged(deployed.world, RETAGGED, description="Firmware 2.0"))

    assert updated.status == "FAILED"
    assert updated.reason.startswith("otaUpdateId fw-1 is unchanged but the request changed")
    assert service_tags(deployed.world) == deployed.tags
    assert testing.calls("TagResource") == 0


# ---------------------------------------------------------------------------------------------
# Faults and foreign OTA updates
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("operation", "code"),
    [
        (operation, code)
        for operation in ("GetOTAUpdate", "ListTagsForResource", "TagResource", "UntagResource")
        for code in (
            "UnauthorizedException",
            "InvalidRequestException",
            "ResourceNotFoundException",
            "ConflictException",  # a code the lifecycle does not know for these calls
        )
    ],
)
def test_retag_refused_for_good_at_any_call_fails_and_the_rollback_keeps_everything(
    deployed: Deployed, operation: str, code: str
) -> None:
    retagged = tagged(deployed.world, RETAGGED)
    testing.fail(operation, code=code)
    before = testing.calls(operation)

    updated = deployed.update(retagged)
    calls = testing.calls(operation) - before
    rolled_back = deployed.update(deployed.properties, retagged)

    assert (updated.status, updated.physical_id, calls) == ("FAILED", ID, 1)  # not retried
    if (operation, code) == ("GetOTAUpdate", "ResourceNotFoundException"):
        assert updated.reason == (
            "OTA update fw-1 does not exist (deleted outside CloudFormation?): give the OtaUpdate "
            "a new otaUpdateId to have it created again"
        )
    else:
        assert updated.reason.startswith(f"{code}: ")
        assert updated.reason.endswith(f" ({operation} of OTA update fw-1)")
    assert rolled_back.status == "SUCCESS"
    assert service_tags(deployed.world) == deployed.tags
    assert (deployed.world.status(ID), job(deployed.world)["status"]) == (
        "CREATE_COMPLETE",
        deployed.job["status"],
    )


@pytest.mark.parametrize("operation", ["TagResource", "UntagResource"])
def test_throttled_retag_is_retried(deployed: Deployed, operation: str) -> None:
    testing.throttle(operation, times=2)

    updated = deployed.update(tagged(deployed.world, RETAGGED))

    assert updated.status == "SUCCESS"
    assert service_tags(deployed.world) == {**RETAGGED, **ownership(deployed.tags)}
    assert testing.calls(operation) == 3


def test_retag_that_keeps_failing_fails_with_a_clear_reason(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTA_RETRY_SECONDS", "1")  # failing for good within seconds
    testing.fail("TagResource", times=1000, code="ServiceUnavailableException")

    updated = deployed.update(tagged(deployed.world, RETAGGED))

    assert updated.status == "FAILED"
    assert updated.reason.startswith("ServiceUnavailableException: ")
    assert "(TagResource of OTA update fw-1 still failing after" in updated.reason
    assert service_tags(deployed.world) == deployed.tags


def test_retag_of_an_ota_update_of_someone_else_is_refused(
    cloudformation: CloudFormation, world: World
) -> None:
    world.create(ID, tags=[{"Key": "owner", "Value": "someone-else"}])

    updated = cloudformation.update(
        LOGICAL_ID, ID, tagged(world, RETAGGED), tagged(world, ORIGINAL)
    )

    assert updated.status == "FAILED"
    assert updated.reason.startswith(
        f"OTA update fw-1 was not created by this resource ({LOGICAL_ID} of stack "
    )
    assert service_tags(world) == {"owner": "someone-else"}
    assert (testing.calls("TagResource"), testing.calls("UntagResource")) == (0, 0)


def test_retag_of_an_ota_update_that_is_gone_fails_saying_so(deployed: Deployed) -> None:
    deployed.world.iot.delete_ota_update(otaUpdateId=ID, forceDeleteAWSJob=True)
    deployed.world.iot.list_ota_updates()  # the emulation settles the deletion on a call

    updated = deployed.update(tagged(deployed.world, RETAGGED))

    assert updated.status == "FAILED"
    assert updated.reason.startswith("OTA update fw-1 does not exist")
