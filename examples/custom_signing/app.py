#!/usr/bin/env python3
"""Custom code signing: the firmware is signed outside AWS (an HSM, a build server).

The signature (``doorlock-fw.bin.sig``, ECDSA over SHA-256) and the signer's certificate travel
in the request itself (``customCodeSigning``); the firmware is uploaded as a CDK asset. No
``ota_update_id`` is given: the derived id changes with the signature, so a new signature
(a new build) is a new OTA update, and the old one is deleted after the new one is created.

The files in ``firmware/`` were made with a throwaway key, for the example only.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from constructs import Construct

from cdk_ota_update import (
    CodeSigning,
    CodeSigningCertificateChain,
    CodeSigningSignature,
    CustomCodeSigning,
    FileLocation,
    OtaTarget,
    OtaUpdate,
    OtaUpdateFile,
)

FIRMWARE = Path(__file__).resolve().parent / "firmware"


class CustomSigningStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        ota = OtaUpdate(
            self,
            "DoorLockFirmware",
            description="Door lock firmware 4.0.1, signed by the build's HSM",
            targets=[OtaTarget.thing("doorlock-bench-1"), OtaTarget.thing("doorlock-bench-2")],
            files=[
                OtaUpdateFile(
                    file_name="doorlock-fw.bin",
                    file_version="4.0.1",
                    file_location=FileLocation.from_asset(str(FIRMWARE / "doorlock-fw.bin")),
                    code_signing=CodeSigning(
                        custom_code_signing=CustomCodeSigning(
                            signature=CodeSigningSignature(
                                inline_document=(FIRMWARE / "doorlock-fw.bin.sig").read_bytes()
                            ),
                            certificate_chain=CodeSigningCertificateChain(
                                certificate_name="/certs/firmware-signer.pem",
                                inline_document=(FIRMWARE / "signer-cert.pem").read_text(),
                            ),
                            hash_algorithm="SHA256",
                            signature_algorithm="ECDSA",
                        )
                    ),
                )
            ],
        )
        cdk.CfnOutput(self, "OtaUpdateId", value=ota.ota_update_id)


def build(app: cdk.App) -> None:
    CustomSigningStack(app, "DoorLockRelease")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
