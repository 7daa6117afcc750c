#!/usr/bin/env python3
"""Stream delivery: devices fetch the firmware over MQTT from an existing IoT stream.

The build pipeline signs the firmware (AWS Signer job id in ``signerJobId``) and publishes it as
the IoT stream ``streamId`` (``iot:CreateStream``: CloudFormation has no stream resource). This
stack creates the thing group and the OTA update that sends file 0 of that stream to it; the
shared service role may describe exactly that stream.

Context (``-c name=value``): ``streamId``, ``signerJobId``, ``firmwareVersion``.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iot as iot
from constructs import Construct

from cdk_ota_update import (
    CodeSigning,
    FileLocation,
    OtaUpdate,
    OtaUpdateFile,
    Protocol,
    TargetSelection,
)


class StreamDeliveryStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        context = self.node.try_get_context
        version = context("firmwareVersion") or "3.1.0"
        fleet = iot.CfnThingGroup(self, "LampFleet", thing_group_name="lamp-fleet")
        ota = OtaUpdate(
            self,
            "LampFirmware",
            description=f"Lamp firmware {version}, streamed over MQTT",
            targets=[fleet.attr_arn],
            protocols=[Protocol.MQTT],
            target_selection=TargetSelection.CONTINUOUS,  # lamps added later get it too
            files=[
                OtaUpdateFile(
                    file_name="lamp-fw.bin",
                    file_version=version,
                    file_location=FileLocation.from_stream(
                        context("streamId") or "lamp-fw-3-1-0", 0
                    ),
                    code_signing=CodeSigning(
                        aws_signer_job_id=context("signerJobId")
                        or "2f8c1e2a-5b7d-4c1e-9a3f-0e6d2b9c4a71"
                    ),
                )
            ],
        )
        cdk.CfnOutput(self, "OtaUpdateId", value=ota.ota_update_id)


def build(app: cdk.App) -> None:
    StreamDeliveryStack(app, "LampStreamRelease")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
