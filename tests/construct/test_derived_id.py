"""The derived otaUpdateId: a public contract.

Same app, same id, on any machine; a new id (a replacement) exactly when the request changes, and
never for a tag change. The table below pins the derivation itself: a library upgrade that changes
any of these ids would replace every user's OTA updates on their next deploy (a breaking change).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_signer as signer
from cdk_support import ROOT, ota_properties

from cdk_ota_update import (
    AwsJobAbortConfig,
    AwsJobAbortCriteria,
    AwsJobExecutionsRolloutConfig,
    AwsJobExponentialRolloutRate,
    AwsJobPresignedUrlConfig,
    AwsJobRateIncreaseCriteria,
    AwsJobTimeoutConfig,
    CodeSigning,
    CodeSigningCertificateChain,
    CodeSigningSignature,
    CustomCodeSigning,
    Destination,
    FileLocation,
    OtaTarget,
    OtaUpdate,
    OtaUpdateFile,
    S3Destination,
    S3Location,
    SigningProfileParameter,
    StartSigningJobParameter,
)

pytestmark = pytest.mark.fast  # the loop on every change (CONTRIBUTING.md)

FIRMWARE = str(ROOT / "firmware" / "sensor-fw.bin")
SIGNATURE = b"\x30\x45\x02\x21\x00\xffsignature"
DERIVED = re.compile(r"^[a-zA-Z0-9_-]{1,39}-[0-9a-f]{16}$")


class Fleet(cdk.Stack):
    """What the OtaUpdates of these tests use: a bucket, a Signer profile, a role of the app."""

    def __init__(self, scope: cdk.App, id: str) -> None:
        super().__init__(scope, id)
        self.bucket = s3.Bucket.from_bucket_name(self, "Firmware", "firmware-releases")
        self.signed = s3.Bucket.from_bucket_name(self, "Signed", "signed-firmware")
        self.profile = signer.SigningProfile.from_signing_profile_attributes(
            self, "Profile", signing_profile_name="fleetSigner", signing_profile_version="v1"
        )
        self.own_role = iam.Role(
            self, "OwnRole", assumed_by=iam.ServicePrincipal("iot.amazonaws.com")
        )
        self.imported_role = iam.Role.from_role_arn(
            self, "ImportedRole", "arn:aws:iam::123456789012:role/ota-service", mutable=False
        )


def _file(location: FileLocation, signing: CodeSigning | None = None) -> OtaUpdateFile:
    return OtaUpdateFile(file_name="fw.bin", file_location=location, code_signing=signing)


def _new_profile_signing(name: str, destination: S3Destination) -> CodeSigning:
    """A signing job with a Signer profile made for it (signingProfileParameter)."""
    return CodeSigning(
        start_signing_job_parameter=StartSigningJobParameter(
            signing_profile_parameter=SigningProfileParameter(
                certificate_arn="arn:aws:acm:eu-west-1:123456789012:certificate/abc",
                platform="AmazonFreeRTOS-Default",
                certificate_path_on_device="/cert.pem",
            ),
            signing_profile_name=name,
            destination=Destination(destination),
        )
    )


def _custom_signing() -> CodeSigning:
    return CodeSigning(
        custom_code_signing=CustomCodeSigning(
            signature=CodeSigningSignature(inline_document=SIGNATURE),
            certificate_chain=CodeSigningCertificateChain("ota.pem", "Q0VSVA=="),
            hash_algorithm="SHA256",
            signature_algorithm="ECDSA",
        )
    )


# (construct id, props given the stack) -> the id derived for it, computed once and committed.
PINNED: list[tuple[str, Callable[[Fleet], dict[str, Any]], str]] = [
    (
        "Minimal",
        lambda f: {
            "targets": [OtaTarget.thing_group("fleet")],
            "files": [_file(FileLocation.from_bucket(f.bucket, "fw-1.bin"))],
        },
        "Minimal-e58017b6707d4bb2",
    ),
    (
        "Described",
        lambda f: {
            "targets": [OtaTarget.thing_group("fleet")],
            "files": [_file(FileLocation.from_bucket(f.bucket, "fw-1.bin"))],
            "description": "Release 1.0",
        },
        "Described-7b5cbc653ad6c81d",
    ),
    (
        "Versioned",
        lambda f: {
            "targets": [OtaTarget.thing("device-1"), OtaTarget.thing_group("canary")],
            "files": [
                _file(
                    FileLocation.from_bucket(
                        f.bucket, "releases/1.2.0/fw.bin", version="3HL4kqtJlcpXroDTDmJ"
                    )
                )
            ],
            "protocols": ["MQTT", "HTTP"],
            "target_selection": "CONTINUOUS",
        },
        "Versioned-a810a6cd833ed38b",
    ),
    (
        "Asset",
        lambda f: {
            "targets": [OtaTarget.thing_group("sensors")],
            "files": [_file(FileLocation.from_asset(FIRMWARE))],
        },
        "Asset-4c25ce1d58798ab7",
    ),
    (
        "Stream",
        lambda f: {
            "targets": [OtaTarget.thing_group("sensors")],
            "files": [
                _file(
                    FileLocation.from_stream("boot-stream", 3),
                    CodeSigning(aws_signer_job_id="signer-job-1"),
                )
            ],
        },
        "Stream-3b98f07105590416",
    ),
    (
        "SignerProfile",
        lambda f: {
            "targets": [OtaTarget.thing_group("sensors")],
            "files": [
                _file(
                    FileLocation.from_bucket(f.bucket, "fw-2.bin"),
                    CodeSigning.from_signing_profile(
                        f.profile, destination=f.signed, prefix="signed/"
                    ),
                )
            ],
        },
        "SignerProfile-e2ae088b53a3200a",
    ),
    (
        "CustomSignature",
        lambda f: {
            "targets": [OtaTarget.thing_group("sensors")],
            "files": [_file(FileLocation.from_bucket(f.bucket, "fw-3.bin"), _custom_signing())],
            "role": f.own_role,
        },
        "CustomSignature-00993eb607d66f08",
    ),
    (
        "EveryMember",
        lambda f: {
            "description": "Every member",
            "targets": [OtaTarget.thing_group("sensors")],
            "protocols": ["HTTP"],
            "target_selection": "SNAPSHOT",
            "aws_job_executions_rollout_config": AwsJobExecutionsRolloutConfig(
                maximum_per_minute=100,
                exponential_rate=AwsJobExponentialRolloutRate(
                    base_rate_per_minute=5,
                    increment_factor=1.5,
                    rate_increase_criteria=AwsJobRateIncreaseCriteria(
                        number_of_succeeded_things=10
                    ),
                ),
            ),
            "aws_job_presigned_url_config": AwsJobPresignedUrlConfig(expires_in_sec=600),
            "aws_job_abort_config": AwsJobAbortConfig(
                abort_criteria_list=[AwsJobAbortCriteria("FAILED", "CANCEL", 10.5, 20)]
            ),
            "aws_job_timeout_config": AwsJobTimeoutConfig(in_progress_timeout_in_minutes=60),
            "files": [
                OtaUpdateFile(
                    file_name="app.bin",
                    file_type=7,
                    file_version="2.0",
                    file_location=FileLocation.from_bucket(f.bucket, "app.bin", version="v3"),
                    code_signing=_custom_signing(),
                    attributes={"slot": "b"},
                ),
                _file(
                    FileLocation(s3_location=S3Location("boot-bucket", "boot.bin")),
                    _new_profile_signing("bootSigner", S3Destination("signed-boot", "out/")),
                ),
            ],
            "role": f.imported_role,
            "additional_parameters": {"release": "2.0"},
            "tags": {"team": "firmware"},
        },
        "EveryMember-4eee574c56b141ca",
    ),
]


def _pinned_app(app_tags: dict[str, str] | None = None, **changes: Any) -> dict[str, str]:
    """The derived ids of the PINNED OtaUpdates (``changes`` merged into each one's props)."""
    app = cdk.App()
    fleet = Fleet(app, "Pinned")
    for construct_id, props, _ in PINNED:
        OtaUpdate(fleet, construct_id, **{**props(fleet), **changes})
    for key, value in (app_tags or {}).items():
        cdk.Tags.of(app).add(key, value)
    return {
        construct_id: properties["otaUpdateId"]
        for (construct_id, _, _), properties in zip(PINNED, ota_properties(fleet), strict=True)
    }


@pytest.fixture(scope="module")
def pinned() -> dict[str, str]:
    return _pinned_app()


@pytest.mark.parametrize(
    ("construct_id", "expected"), [(p[0], p[2]) for p in PINNED], ids=[p[0] for p in PINNED]
)
def test_the_derivation_is_pinned(pinned: dict[str, str], construct_id: str, expected: str) -> None:
    assert pinned[construct_id] == expected


def test_tags_of_the_app_added_changed_or_removed_keep_every_id(pinned: dict[str, str]) -> None:
    tagged = _pinned_app({"cost-center": "42"})
    retagged = _pinned_app({"cost-center": "43", "owner": "platform"})
    assert tagged == retagged == pinned


def test_tags_prop_changes_keep_every_id(pinned: dict[str, str]) -> None:
    retagged = _pinned_app(tags={"team": "platform"})
    assert retagged == pinned


def test_a_description_change_changes_every_id(pinned: dict[str, str]) -> None:
    changed = _pinned_app(description="Another release")
    assert all(changed[k] != pinned[k] for k in pinned)
    assert all(DERIVED.match(v) for v in changed.values())


# ---------------------------------------------------------------------------------------------
# Every signing method x location x role choice, with a derived id, in one stack
# ---------------------------------------------------------------------------------------------
SIGNING: dict[str, Callable[[Fleet], CodeSigning | None]] = {
    "Unsigned": lambda f: None,
    "SignerJob": lambda f: CodeSigning(aws_signer_job_id="signer-job-1"),
    "Profile": lambda f: CodeSigning.from_signing_profile(
        f.profile, destination=f.signed, prefix="signed/"
    ),
    "NewProfile": lambda f: _new_profile_signing("newSigner", S3Destination(f.signed.bucket_name)),
    "Custom": lambda f: _custom_signing(),
}
LOCATION: dict[str, Callable[[Fleet, int], FileLocation]] = {
    "Bucket": lambda f, i: FileLocation.from_bucket(f.bucket, f"releases/{i}/fw.bin"),
    "Versioned": lambda f, i: FileLocation.from_bucket(f.bucket, f"fw-{i}.bin", version=f"v{i}"),
    "Asset": lambda f, i: FileLocation.from_asset(FIRMWARE),
    "Stream": lambda f, i: FileLocation.from_stream(f"stream-{i}", i % 256),
}
ROLE: dict[str, Callable[[Fleet], iam.IRole | None]] = {
    "Shared": lambda f: None,
    "Own": lambda f: f.own_role,
    "Imported": lambda f: f.imported_role,
}


def test_every_signing_method_location_and_role_synthesizes_with_a_derived_id() -> None:
    app = cdk.App()
    fleet = Fleet(app, "Combinations")
    combinations = list(itertools.product(SIGNING, LOCATION, ROLE))
    for index, (signing, location, role) in enumerate(combinations):
        OtaUpdate(
            fleet,
            f"{signing}{location}{role}",
            targets=[OtaTarget.thing_group(f"group-{index}")],
            files=[_file(LOCATION[location](fleet, index), SIGNING[signing](fleet))],
            role=ROLE[role](fleet),
        )
    ids = [p["otaUpdateId"] for p in ota_properties(fleet)]
    assert len(ids) == len(set(ids)) == len(SIGNING) * len(LOCATION) * len(ROLE)
    assert all(DERIVED.match(i) for i in ids), ids
    assert [i.rsplit("-", 1)[0] for i in ids] == [f"{s}{loc}{r}" for s, loc, r in combinations]


def test_the_same_app_derives_the_same_ids_in_another_directory(
    pinned: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _pinned_app() == pinned
