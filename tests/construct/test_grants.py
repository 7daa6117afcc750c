"""What each OTA update request is granted, read from the request alone (``grants``): the
service role's and the provider's statements, each resource with the wider ARNs it may be
grouped into, and the reason each wildcard gives cdk-nag.

ARNs are shown with their pseudo parameters as ``<P>``, ``<R>`` and ``<A>``; a resource as its
levels, finest first (what :mod:`cdk_ota_update.policy` groups to when the exact list is too long).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from cdk_ota_update._cdk import iot_arn, pseudo
from cdk_ota_update.grants import (
    provider_grants,
    rollout_gate_grants,
    s3_object,
    service_role_grants,
    target,
)
from cdk_ota_update.policy import THING_NAME, Grant, Resource, longest

IOT = "arn:<P>:iot:<R>:<A>:"
SIGNER = "arn:<P>:signer:<R>:<A>:/"

STREAM_REASON = (
    "The service creates the stream AFR_OTA-<uuid> for MQTT delivery, named at run time; "
    "limited to that name prefix."
)
SIGNING_JOB_REASON = (
    "The service starts the signing job and reads its status; the job id is only known at run "
    "time. Limited to this account and region."
)
SIGNED_REASON = (
    "AWS Signer writes the signed file under the destination prefix with a name chosen at run "
    "time; limited to that bucket and prefix."
)
pytestmark = pytest.mark.fast  # the loop on every change (CONTRIBUTING.md)

LIST_TOKEN_REASON = (
    "The targets are only known at deploy time (a list token); limited to things and thing "
    "groups of this account and region."
)


def _shown(text: str) -> str:
    """``text`` with the pseudo parameters' tokens as ``<P>``, ``<R>`` and ``<A>``."""
    p = pseudo()
    return text.replace(p.partition, "<P>").replace(p.region, "<R>").replace(p.account_id, "<A>")


def _levels(resource: Resource) -> list[str]:
    return [_shown(arn.text) for arn in resource.levels]


def _shown_grants(grants: list[Grant]) -> list[tuple[tuple[str, ...], list[list[str]], Any]]:
    return [
        (grant.actions, [_levels(r) for r in grant.resources], grant.reason) for grant in grants
    ]


SIGNED_S3_FILE = {
    "fileName": "image.bin",
    "fileLocation": {"s3Location": {"bucket": "firmware", "key": "releases/v2/image.bin"}},
    "codeSigning": {
        "startSigningJobParameter": {
            "signingProfileName": "fleet_profile",
            "destination": {"s3Destination": {"bucket": "signed", "prefix": "out/"}},
        }
    },
}
STREAMED_FILE = {
    "fileName": "boot.bin",
    "fileLocation": {"stream": {"streamId": "boot-stream", "fileId": 0}},
    "codeSigning": {"awsSignerJobId": "signing-job-1"},
}
REQUEST = {
    "otaUpdateId": "release-2",
    "targets": [f"{IOT}thing/dev-1", f"{IOT}thinggroup/canary"],
    "files": [SIGNED_S3_FILE, STREAMED_FILE],
}

OBJECT = [
    "arn:<P>:s3:::firmware/releases/v2/image.bin",
    "arn:<P>:s3:::firmware/releases/v2/*",
    "arn:<P>:s3:::firmware/releases/*",
    "arn:<P>:s3:::firmware/*",
]
PROFILE = [f"{SIGNER}signing-profiles/fleet_profile", f"{SIGNER}signing-profiles/*"]
JOB = [f"{IOT}job/AFR_OTA-release-2", f"{IOT}job/AFR_OTA-*"]


def test_a_request_is_granted_what_the_service_does_with_each_of_its_resources() -> None:
    """Each grant, its resources' levels and its reason, for a request with a signed S3 file,
    a streamed file signed beforehand, a thing and a thing group."""
    assert _shown_grants(list(service_role_grants(REQUEST))) == [
        (
            ("iot:CreateJob",),
            [
                JOB,
                [f"{IOT}thing/dev-1", f"{IOT}thing/*"],
                [f"{IOT}thinggroup/canary", f"{IOT}thinggroup/*"],
            ],
            None,
        ),
        (("iot:DescribeJob", "iot:DeleteJob"), [JOB], None),
        (("s3:GetObject", "s3:GetObjectVersion"), [OBJECT], None),
        (
            ("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketVersions"),
            [["arn:<P>:s3:::firmware"], ["arn:<P>:s3:::signed"]],
            None,
        ),
        (
            ("iot:CreateStream", "iot:DeleteStream"),
            [[f"{IOT}stream/AFR_OTA-*"]],
            STREAM_REASON,
        ),
        (
            ("iot:DescribeStream",),
            [[f"{IOT}stream/boot-stream", f"{IOT}stream/*"]],
            None,
        ),
        (
            ("signer:DescribeSigningJob",),
            [[f"{SIGNER}signing-jobs/signing-job-1", f"{SIGNER}signing-jobs/*"]],
            None,
        ),
        (("signer:StartSigningJob", "signer:GetSigningProfile"), [PROFILE], None),
        (
            ("signer:DescribeSigningJob",),
            [[f"{SIGNER}signing-jobs/*"]],
            SIGNING_JOB_REASON,
        ),
        (
            ("s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"),
            [["arn:<P>:s3:::signed/out/*", "arn:<P>:s3:::signed/out/*", "arn:<P>:s3:::signed/*"]],
            SIGNED_REASON,
        ),
    ]


def test_the_provider_is_granted_passing_the_role_reading_the_objects_and_signing() -> None:
    role = Resource.fixed("arn:aws:iam::111122223333:role/ota")
    grants = list(provider_grants(REQUEST, role))

    assert _shown_grants(grants) == [
        (("iam:PassRole",), [["arn:aws:iam::111122223333:role/ota"]], None),
        (("s3:GetObject", "s3:GetObjectVersion"), [OBJECT], None),
        (("signer:GetSigningProfile", "signer:StartSigningJob"), [PROFILE], None),
    ]
    assert grants[0].conditions == {"StringEquals": {"iam:PassedToService": "iot.amazonaws.com"}}


def test_a_rollout_gate_may_cancel_the_jobs_of_the_stacks_ota_updates() -> None:
    assert _shown_grants(list(rollout_gate_grants())) == [
        (
            ("iot:CancelJob",),
            [[f"{IOT}job/AFR_OTA-*"]],
            "A failed rollout gate cancels the service's job AFR_OTA-<otaUpdateId>, named at "
            "deploy time; limited to that name prefix.",
        )
    ]


def test_a_profile_given_with_its_parameters_may_also_be_put() -> None:
    file = {
        "fileLocation": SIGNED_S3_FILE["fileLocation"],
        "codeSigning": {
            "startSigningJobParameter": {
                "signingProfileName": "fleet_profile",
                "signingProfileParameter": {"platform": "AmazonFreeRTOS-Default"},
            }
        },
    }
    grants = list(service_role_grants({"otaUpdateId": "u", "targets": [], "files": [file]}))

    (profile,) = (g for g in grants if "signer:StartSigningJob" in g.actions)
    assert profile.actions == (
        "signer:StartSigningJob",
        "signer:GetSigningProfile",
        "signer:PutSigningProfile",
    )


@pytest.mark.parametrize(
    ("protocols", "streamed"),
    [(None, True), ([], True), (["MQTT"], True), (["HTTP", "MQTT"], True), (["HTTP"], False)],
)
def test_the_service_may_create_streams_only_for_s3_files_delivered_over_mqtt(
    protocols: list[str] | None, streamed: bool
) -> None:
    request: dict[str, Any] = {"otaUpdateId": "u", "targets": [], "files": [SIGNED_S3_FILE]}
    if protocols is not None:
        request["protocols"] = protocols
    actions = [g.actions for g in service_role_grants(request)]

    assert (("iot:CreateStream", "iot:DeleteStream") in actions) is streamed


def test_files_already_in_streams_need_no_stream_creation() -> None:
    request = {"otaUpdateId": "u", "targets": [], "files": [STREAMED_FILE]}
    actions = [g.actions for g in service_role_grants(request)]

    assert ("iot:CreateStream", "iot:DeleteStream") not in actions
    assert ("s3:GetObject", "s3:GetObjectVersion") not in actions


def test_targets_known_only_at_deploy_time_may_be_any_thing_or_group_of_the_account() -> None:
    targets = cdk.Fn.split(",", cdk.Fn.import_value("Targets"))
    grants = list(service_role_grants({"otaUpdateId": "u", "targets": targets, "files": []}))

    assert _shown_grants(grants)[0] == (
        ("iot:CreateJob",),
        [[f"{IOT}job/AFR_OTA-u", f"{IOT}job/AFR_OTA-*"], [f"{IOT}thing/*"], [f"{IOT}thinggroup/*"]],
        LIST_TOKEN_REASON,
    )


@pytest.mark.parametrize("kind", ["thing", "thinggroup"])
def test_a_target_is_grouped_to_all_of_its_kind_in_its_account_and_region(kind: str) -> None:
    arn = f"arn:aws:iot:eu-west-1:111122223333:{kind}/name"
    assert _levels(target(arn)) == [arn, f"arn:aws:iot:eu-west-1:111122223333:{kind}/*"]


def test_a_target_token_counts_as_the_longest_thing_group_arn_and_is_never_grouped() -> None:
    arn = cdk.Fn.import_value("TargetArn")
    (level,) = target(arn).levels

    assert level.text == arn
    assert level.size == longest(iot_arn("thinggroup/")) + THING_NAME


@pytest.mark.parametrize(
    ("key", "levels"),
    [
        ("image.bin", ["image.bin", "*"]),
        ("fw/image.bin", ["fw/image.bin", "fw/*", "*"]),
        ("fw/v2/rc1/image.bin", ["fw/v2/rc1/image.bin", "fw/v2/rc1/*", "fw/v2/*", "fw/*", "*"]),
    ],
)
def test_an_object_is_grouped_to_its_folder_then_each_parent_then_the_bucket(
    key: str, levels: list[str]
) -> None:
    assert _levels(s3_object("firmware", key)) == [f"arn:<P>:s3:::firmware/{x}" for x in levels]
