"""Fixtures' helpers for the emulation tests: plain boto3 against moto in either mode."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

REGION = "us-east-1"
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
MOTO_API = "http://motoapi.amazonaws.com"  # answered by mock_aws() in-process


@cache
def _session() -> boto3.Session:
    """One session for all clients: it loads each service model once (moto is imported first)."""
    return boto3.Session()


@dataclass(frozen=True)
class Aws:
    """Where boto3 talks to: moto in-process (no endpoint) or a moto server."""

    endpoint: str | None

    def client(self, service: str, *, parameter_validation: bool = True) -> Any:
        """A client; without ``parameter_validation`` it sends what botocore would refuse."""
        return _session().client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint,
            config=NO_RETRIES.merge(Config(parameter_validation=parameter_validation)),
        )

    def reset(self) -> None:
        """moto's own reset, as a test or a moto server client does it."""
        requests.post(f"{self.endpoint or MOTO_API}/moto-api/reset", timeout=10)


@dataclass
class World:
    """A role, a firmware object, a thing and a thing group to aim OTA updates at."""

    aws: Aws
    iot: Any
    role_arn: str
    bucket: str
    key: str
    thing_arn: str
    group_arn: str

    def request(self, ota_update_id: str = "ota-1", **members: Any) -> dict[str, Any]:
        """A valid CreateOTAUpdate request (``members`` replace its defaults)."""
        return {
            "otaUpdateId": ota_update_id,
            "targets": [self.thing_arn],
            "roleArn": self.role_arn,
            "files": [self.s3_file()],
            **members,
        }

    def s3_file(self, **location: Any) -> dict[str, Any]:
        return {
            "fileName": "firmware.bin",
            "fileLocation": {"s3Location": {"bucket": self.bucket, "key": self.key, **location}},
        }

    def create(self, ota_update_id: str = "ota-1", **members: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.iot.create_ota_update(
            **self.request(ota_update_id, **members)
        )
        return answer

    def info(self, ota_update_id: str = "ota-1") -> dict[str, Any]:
        info: dict[str, Any] = self.iot.get_ota_update(otaUpdateId=ota_update_id)["otaUpdateInfo"]
        return info

    def status(self, ota_update_id: str = "ota-1") -> str:
        status: str = self.info(ota_update_id)["otaUpdateStatus"]
        return status

    def user_stream(self, stream_id: str = "user-stream") -> None:
        self.iot.create_stream(
            streamId=stream_id,
            files=[{"fileId": 7, "s3Location": {"bucket": self.bucket, "key": self.key}}],
            roleArn=self.role_arn,
        )

    def stream_ids(self) -> list[str]:
        return [s["streamId"] for s in self.iot.list_streams()["streams"]]


FAKE_CREDENTIALS = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}  # what moto needs in the environment of boto3 clients made without arguments


def make_world(aws: Aws) -> World:
    iam, s3, iot = aws.client("iam"), aws.client("s3"), aws.client("iot")
    role_arn = iam.create_role(RoleName="ota-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    s3.create_bucket(Bucket="firmware-bucket")
    s3.put_object(Bucket="firmware-bucket", Key="v1/firmware.bin", Body=b"\x7fELF" * 4)
    thing_arn = iot.create_thing(thingName="device-1")["thingArn"]
    group_arn = iot.create_thing_group(thingGroupName="fleet")["thingGroupArn"]
    return World(aws, iot, role_arn, "firmware-bucket", "v1/firmware.bin", thing_arn, group_arn)


def things(world: World, count: int) -> list[str]:
    """``count`` things, thing-01, thing-02, ..., in the thing group "fleet"."""
    names = [f"thing-{index:02}" for index in range(1, count + 1)]
    for name in names:
        world.iot.create_thing(thingName=name)
        world.iot.add_thing_to_thing_group(thingGroupName="fleet", thingName=name)
    return names


def error(caught: ClientError) -> tuple[str, int]:
    """The error code and HTTP status of a failed call."""
    response = caught.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@contextlib.contextmanager
def serve(*options: str) -> Iterator[Aws]:
    """``python -m cdk_ota_update.testing`` with ``options``, on a free port, up; stopped after."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    constructs = Path(__file__).resolve().parent.parent / "constructs"
    server = subprocess.Popen(
        [sys.executable, "-m", "cdk_ota_update.testing", "-p", str(port), *options],
        env={**os.environ, "PYTHONPATH": str(constructs)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    aws = Aws(endpoint=f"http://127.0.0.1:{port}")
    try:
        when_up(lambda: aws.client("iot").list_streams())
        yield aws
    finally:
        server.terminate()
        server.wait(timeout=30)


def when_up(call: Any, timeout: float = 60) -> Any:
    """``call()`` once the server accepts connections (polled)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except EndpointConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
