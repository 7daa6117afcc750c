"""A CDK Pipelines-shaped app for the rehearsal's tests, and what a rehearsal leaves in moto.

The app: a pipeline stack and, under it, one Stage per Region (eu-west-1, us-east-1) of account
111111111111, each with a fleet stack (a named thing group, the bucket of signed firmware, the
imported Signer profile) and a release stack whose OTA updates target the fleet's group across
stacks, firmware from an asset: one with the user's role, one with the library's, and the
recovery image, whose release tag alone changes between releases. The first release also pilots
the firmware on a group of its own, with a bucket for the pilot's reports, which the next release
removes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_signer as signer
from cdk_support import ROOT
from constructs import Construct
from moto.iot.models import iot_backends
from moto.s3.models import s3_backends

from cdk_ota_update import CodeSigning, FileLocation, OtaUpdate, OtaUpdateFile
from cdk_ota_update.testing.backend import ota_backend

FIRMWARE = str(ROOT / "firmware" / "sensor-fw.bin")
PIPELINE = "FleetFirmwarePipeline"
ACCOUNT = "111111111111"
REGIONS = {"Eu": "eu-west-1", "Us": "us-east-1"}  # the stages
SIGNER = "gatewayFirmwareSigner"  # imported: it exists before the pipeline runs


@dataclass(frozen=True)
class Release:
    version: str
    pilot: bool  # the first release pilots the firmware on a group of its own


class FleetStack(cdk.Stack):
    """What outlives a release in one Region: the thing group, signing and its bucket."""

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.gateways = iot.CfnThingGroup(
            self, "Gateways", thing_group_name=f"fleet-{self.region}-gateways"
        )
        self.signed = s3.Bucket(self, "Signed", versioned=True)
        self.profile = signer.SigningProfile.from_signing_profile_attributes(
            self, "Signer", signing_profile_name=SIGNER, signing_profile_version="Q1v2Xy"
        )

    def firmware(self, version: str, name: str = "gateway-fw.bin") -> OtaUpdateFile:
        """The gateway firmware of ``version``, signed by the fleet's profile."""
        return OtaUpdateFile(
            file_name=name,
            file_version=version,
            file_location=FileLocation.from_asset(FIRMWARE),
            code_signing=CodeSigning.from_signing_profile(
                self.profile, destination=self.signed, prefix=f"gateway/{version}/"
            ),
        )


class ReleaseStack(cdk.Stack):
    """One firmware release to the Region's fleet."""

    def __init__(
        self, scope: Construct, id: str, *, fleet: FleetStack, release: Release, **kwargs: Any
    ) -> None:
        super().__init__(scope, id, **kwargs)
        role = iam.Role(self, "OtaRole", assumed_by=iam.ServicePrincipal("iot.amazonaws.com"))
        firmware = fleet.firmware(release.version)
        gateways = [fleet.gateways.attr_arn]
        OtaUpdate(self, "Firmware", targets=gateways, files=[firmware], role=role)
        OtaUpdate(self, "Bootloader", targets=gateways, files=[firmware])
        recovery = fleet.firmware("1.0.0", "recovery.bin")
        tags = {"release": release.version}
        OtaUpdate(self, "Recovery", targets=gateways, files=[recovery], tags=tags)
        if release.pilot:
            group = iot.CfnThingGroup(self, "Pilots", thing_group_name=f"fleet-{self.region}-pilot")
            OtaUpdate(self, "Pilot", targets=[group.attr_arn], files=[firmware])
            s3.Bucket(self, "PilotReports", bucket_name=f"fleet-{self.region}-pilot-reports")


class RegionStage(cdk.Stage):
    def __init__(self, scope: Construct, id: str, *, release: Release, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        fleet = FleetStack(self, "Fleet")
        ReleaseStack(self, "Release", fleet=fleet, release=release)


def synth(outdir: Path, release: Release) -> Path:
    """The app's cloud assembly, as the pipeline's synth step makes it."""
    app = cdk.App(outdir=str(outdir))
    pipeline = cdk.Stack(app, PIPELINE, env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))
    for stage, region in REGIONS.items():
        environment = cdk.Environment(account=ACCOUNT, region=region)
        RegionStage(pipeline, stage, release=release, env=environment)
    app.synth()
    return outdir


def left_in(account: str, region: str) -> dict[str, list[str]]:
    """What moto holds in ``account`` and ``region`` (its state outlives a rehearsal's server):
    OTA updates, streams, jobs, thing groups and buckets, by name."""
    backend = iot_backends[account][region]
    ota = ota_backend(backend)
    buckets = s3_backends[account]["aws"].buckets.values()
    return {
        "otaUpdates": sorted(ota.ota_updates),
        "streams": sorted(ota.streams),
        "jobs": sorted(backend.jobs),
        "thingGroups": sorted(g.thing_group_name for g in backend.thing_groups.values()),
        "buckets": sorted(b.name for b in buckets if b.region_name == region),
    }
