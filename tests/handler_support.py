"""Helpers of the handler's tests: an OtaUpdate's properties and what the emulation holds."""

from __future__ import annotations

import base64
from typing import Any

from botocore.exceptions import ClientError
from emulation_support import World

from cdk_ota_update import api

SIGNATURE = b"\x30\x45\x02\x21\x00signature-bytes"
ID = "fw-1"
LOGICAL_ID = "FirmwareOta"


def properties(world: World, ota_update_id: str = ID, **members: Any) -> dict[str, Any]:
    """An OtaUpdate's properties, with every kind of scalar the API has."""
    return {
        **world.request(
            ota_update_id,
            description="Firmware 1.0",
            targets=[world.group_arn],
            protocols=["MQTT"],
            targetSelection="SNAPSHOT",
            awsJobExecutionsRolloutConfig={
                "maximumPerMinute": 50,
                "exponentialRate": {
                    "baseRatePerMinute": 5,
                    "incrementFactor": 1.5,
                    "rateIncreaseCriteria": {"numberOfNotifiedThings": 10},
                },
            },
            awsJobPresignedUrlConfig={"expiresInSec": 1800},
            awsJobAbortConfig={
                "abortCriteriaList": [
                    {
                        "failureType": "FAILED",
                        "action": "CANCEL",
                        "thresholdPercentage": 12.5,
                        "minNumberOfExecutedThings": 3,
                    }
                ]
            },
            awsJobTimeoutConfig={"inProgressTimeoutInMinutes": 90},
            files=[
                {
                    **world.s3_file(),
                    "fileType": 2,
                    "fileVersion": "1.0",
                    "codeSigning": {
                        "customCodeSigning": {
                            "signature": {"inlineDocument": base64.b64encode(SIGNATURE).decode()},
                            "certificateChain": {"certificateName": "ota.pem"},
                            "hashAlgorithm": "SHA256",
                            "signatureAlgorithm": "ECDSA",
                        }
                    },
                    "attributes": {"board": "esp32"},
                }
            ],
            additionalParameters={"release": "1.0"},
            tags=[{"Key": "team", "Value": "firmware"}],
        ),
        api.DELETE_STREAM: True,
        api.FORCE_DELETE_AWS_JOB: True,
        **members,
    }


def exists(iot: Any, ota_update_id: str = ID) -> bool:
    """Whether the emulated IoT (a boto3 client) has that OTA update."""
    try:
        iot.get_ota_update(otaUpdateId=ota_update_id)
    except ClientError as caught:
        if caught.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise
    return True


def job(world: World, ota_update_id: str = ID) -> dict[str, Any]:
    found: dict[str, Any] = world.iot.describe_job(jobId=api.job_id(ota_update_id))["job"]
    return found


def leftovers(world: World, ota_update_id: str = ID) -> dict[str, Any]:
    """What an OTA update left in the account: itself (its status), its job, the streams."""
    jobs = [j["jobId"] for j in world.iot.list_jobs()["jobs"]]
    return {
        "ota_update": world.status(ota_update_id) if exists(world.iot, ota_update_id) else None,
        "job": api.job_id(ota_update_id) in jobs,
        "streams": world.stream_ids(),
    }


NOTHING: dict[str, Any] = {"ota_update": None, "job": False, "streams": []}
