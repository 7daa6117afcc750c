#!/usr/bin/env python3
"""Your own service role: the OTA updates run under a role the platform team defines.

The role is trusted by ``iot.amazonaws.com`` (for this account only) and passed as ``role=``;
the library adds exactly what each OTA update needs to it (read of the firmware object, use of
the signing profile, the jobs on the targets), as it would to its shared role. Two OTA updates
share it: a canary group first (SNAPSHOT), then the whole fleet (CONTINUOUS).

Context: ``firmwareBucket``, ``signedBucket``, ``signingProfileName``, ``signingProfileVersion``.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_signer as signer
from constructs import Construct

from cdk_ota_update import (
    CodeSigning,
    FileLocation,
    OtaTarget,
    OtaUpdate,
    OtaUpdateFile,
    TargetSelection,
)


class OwnRoleStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        context = self.node.try_get_context
        role = iam.Role(
            self,
            "OtaServiceRole",
            description="Runs the gateway firmware OTA updates",
            assumed_by=iam.ServicePrincipal(
                "iot.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
        )
        firmware = s3.Bucket.from_bucket_name(
            self, "Firmware", context("firmwareBucket") or "acme-gateway-firmware"
        )
        signed = s3.Bucket.from_bucket_name(
            self, "Signed", context("signedBucket") or "acme-gateway-signed-firmware"
        )
        profile = signer.SigningProfile.from_signing_profile_attributes(
            self,
            "Profile",
            signing_profile_name=context("signingProfileName") or "acmeGatewaySigner",
            signing_profile_version=context("signingProfileVersion") or "v7Xk2pQ9",
        )
        gateway = OtaUpdateFile(
            file_name="gateway-fw.bin",
            file_version="2.0.0",
            file_location=FileLocation.from_bucket(firmware, "gateway/2.0.0/gateway-fw.bin"),
            code_signing=CodeSigning.from_signing_profile(
                profile, destination=signed, prefix="gateway/2.0.0/"
            ),
        )
        for name, group, selection in (
            ("Canary", "gateway-canary", TargetSelection.SNAPSHOT),
            ("Fleet", "gateway-fleet", TargetSelection.CONTINUOUS),
        ):
            OtaUpdate(
                self,
                f"Gateway{name}",
                targets=[OtaTarget.thing_group(group)],
                target_selection=selection,
                files=[gateway],
                role=role,
            )


def build(app: cdk.App) -> None:
    OwnRoleStack(app, "GatewayRelease")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
