"""End to end: ``app.py`` synthesized, its ``Custom::OtaUpdate`` created, updated (new firmware)
and deleted through the CloudFormation harness, by the handler of the synthesized Lambda asset
running in a separate process whose path holds only that asset and boto3 (as in AWS Lambda)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from emulation_support import Aws
from handler_support import exists
from harness import (
    ACCOUNT,
    REGION,
    CloudFormation,
    LambdaProcess,
    ResponseServer,
    StackService,
    boto3_runtime,
    stack_id,
)

from cdk_ota_update import api

ROOT = Path(__file__).resolve().parents[2]
STACK = "FirmwareRelease"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
}


@dataclass(frozen=True)
class Assembly:
    """A synthesized cloud assembly of app.py."""

    outdir: Path
    template: dict[str, Any]

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}

    def ota_update(self) -> tuple[str, dict[str, Any]]:
        [(logical_id, resource)] = self.resources(api.RESOURCE_TYPE).items()
        return logical_id, resource["Properties"]

    def file_asset(self, s3_key: str) -> Path:
        """The cdk.out folder or file an asset's S3 object key is made from."""
        manifest = json.loads((self.outdir / f"{STACK}.assets.json").read_text())
        source = manifest["files"][s3_key.split(".")[0]]["source"]["path"]
        return self.outdir / str(source)

    def handler_asset(self) -> Path:
        [function] = [
            f
            for f in self.resources("AWS::Lambda::Function").values()
            if f["Properties"].get("Handler") == "index.handler"
        ]
        return self.file_asset(function["Properties"]["Code"]["S3Key"])


def synth(outdir: Path, **context: str) -> Assembly:
    """``python app.py`` into ``outdir``, as the CDK CLI runs it (without the CLI)."""
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(context)}
    subprocess.run(
        [sys.executable, str(ROOT / "app.py")], env=env, check=True, capture_output=True, cwd=ROOT
    )
    return Assembly(outdir, json.loads((outdir / f"{STACK}.template.json").read_text()))


def resolve(value: Any, names: Mapping[str, str]) -> Any:
    """``value`` with CloudFormation's intrinsic functions resolved: ``names`` holds what each
    ``Ref`` (logical id or pseudo parameter) and ``Fn::GetAtt`` (``Logical.Attribute``) gives."""
    if isinstance(value, list):
        return [resolve(v, names) for v in value]
    if not isinstance(value, dict):
        return value
    if value.keys() == {"Ref"}:
        return names[value["Ref"]]
    if value.keys() == {"Fn::GetAtt"}:
        return names[".".join(value["Fn::GetAtt"])]
    if value.keys() == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(resolve(parts, names))
    if value.keys() == {"Fn::Sub"}:
        return re.sub(r"\$\{([^}]+)\}", lambda m: names[m.group(1)], value["Fn::Sub"])
    return {k: resolve(v, names) for k, v in value.items()}


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Assembly, Assembly]:
    """app.py synthesized for firmware 1.2.0, then for 1.3.0."""
    return (
        synth(tmp_path_factory.mktemp("cdk.out"), firmwareVersion="1.2.0"),
        synth(tmp_path_factory.mktemp("cdk.out"), firmwareVersion="1.3.0"),
    )


class Deployment:
    """The emulated AWS resources app.py's stack refers to, and what its references resolve to."""

    def __init__(self, aws: Aws, cloudformation: CloudFormation) -> None:
        self.aws = aws
        self.iot = aws.client("iot")
        self.names: dict[str, str] = dict(PSEUDO)
        self.cloudformation = cloudformation

    def prepare(self, assembly: Assembly) -> None:
        """Create what the template refers to: role, buckets, firmware object, thing group."""
        template = assembly.template["Resources"]
        [function] = [k for k, v in template.items() if v["Type"] == "AWS::Lambda::Function"]
        self.names[f"{function}.Arn"] = self.cloudformation.service_token
        for logical_id, resource in template.items():
            if resource["Type"] == "AWS::IAM::Role" and "OtaUpdateServiceRole" in logical_id:
                role = self.aws.client("iam").create_role(
                    RoleName=logical_id, AssumeRolePolicyDocument="{}"
                )["Role"]
                self.names[f"{logical_id}.Arn"] = role["Arn"]
            if resource["Type"] == "AWS::S3::Bucket":
                self.names[logical_id] = logical_id.lower()
                self.aws.client("s3").create_bucket(Bucket=logical_id.lower())
        _, properties = assembly.ota_update()
        group = resolve(properties["targets"][0], self.names).rsplit("/", 1)[1]
        self.iot.create_thing_group(thingGroupName=group)

    def upload(self, assembly: Assembly) -> None:
        """Publish the firmware file asset, as ``cdk deploy`` would."""
        _, properties = assembly.ota_update()
        location = resolve(properties["files"][0]["fileLocation"]["s3Location"], self.names)
        self.aws.client("s3").create_bucket(Bucket=location["bucket"])
        self.aws.client("s3").put_object(
            Bucket=location["bucket"],
            Key=location["key"],
            Body=assembly.file_asset(location["key"]).read_bytes(),
        )

    def properties(self, assembly: Assembly) -> dict[str, Any]:
        self.upload(assembly)
        _, properties = assembly.ota_update()
        resolved: dict[str, Any] = resolve(properties, self.names)
        return resolved

    def stream_of(self, ota_update_id: str) -> str:
        """The stream the service made for an OTA update's S3 file."""
        info = self.iot.get_ota_update(otaUpdateId=ota_update_id)["otaUpdateInfo"]
        document = json.loads(self.iot.get_job_document(jobId=info["awsIotJobId"])["document"])
        stream: str = document["afr_ota"]["streamname"]
        return stream

    def streams(self) -> list[str]:
        return [s["streamId"] for s in self.iot.list_streams()["streams"]]

    def job_exists(self, ota_update_id: str) -> bool:
        jobs = self.iot.list_jobs()["jobs"]
        return api.job_id(ota_update_id) in [j["jobId"] for j in jobs]


@pytest.fixture
def lambda_process(
    releases: tuple[Assembly, Assembly], lambda_env: dict[str, str], tmp_path: Path
) -> Iterator[LambdaProcess]:
    """The handler of the first release's asset, in a Lambda-like process."""
    process = LambdaProcess(
        releases[0].handler_asset(),
        boto3_runtime(tmp_path / "runtime"),
        {**lambda_env, api.STACK_ID_ENV: stack_id(STACK)},
    )
    yield process
    process.close()


@pytest.fixture
def deployment(
    releases: tuple[Assembly, Assembly],
    lambda_process: LambdaProcess,
    response_server: ResponseServer,
    stack_service: StackService,
    moto_server: Aws,
) -> Deployment:
    cloudformation = CloudFormation(
        lambda_process, response_server, stack_name=STACK, stack_service=stack_service
    )
    deployment = Deployment(moto_server, cloudformation)
    deployment.prepare(releases[0])
    return deployment


def test_release_is_created_updated_and_deleted(
    releases: tuple[Assembly, Assembly], deployment: Deployment
) -> None:
    cloudformation = deployment.cloudformation
    logical_id, _ = releases[0].ota_update()
    first, second = (deployment.properties(release) for release in releases)

    created = cloudformation.create(logical_id, first)
    first_id = created.physical_id
    first_stream = deployment.stream_of(first_id)
    updated = cloudformation.update(logical_id, first_id, second, first)
    second_id = updated.physical_id
    # The old release's job still runs (CONTINUOUS): forceDeleteAWSJob (the default) ends it.
    cleaned_up = cloudformation.delete(logical_id, first_id, first)
    first_gone = (
        exists(deployment.iot, first_id),
        deployment.job_exists(first_id),
        first_stream in deployment.streams(),
    )
    deleted = cloudformation.delete(logical_id, second_id, second)

    assert (created.status, first_id) == ("SUCCESS", first["otaUpdateId"])
    assert (updated.status, second_id) == ("SUCCESS", second["otaUpdateId"])
    assert second_id != first_id
    assert updated.data["awsIotJobId"] == api.job_id(second_id)
    assert (cleaned_up.status, deleted.status) == ("SUCCESS", "SUCCESS")
    assert first_gone == (False, False, False)
    assert not exists(deployment.iot, second_id)
    assert not deployment.job_exists(second_id)
    assert deployment.streams() == []
