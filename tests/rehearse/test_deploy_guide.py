"""docs/deploy.md: its scripts run against the emulation, its ``cdk synth`` runs, and the failure it
shows is the one the handler gives."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import trustme
from cdk_support import ROOT
from handler_support import properties
from harness import CloudFormation
from moto import mock_aws

from cdk_ota_update import testing

GUIDE = (ROOT / "docs" / "deploy.md").read_text()
REGION = "eu-west-1"
SCRIPTED = "thermostat-5-1-0"
PROFILE = "the signing certificate and the FreeRTOS profile (once per account and Region)"
UPLOAD = "upload a firmware build and keep its version id"
CLEANUP = "delete the scripted OTA update once the stack's replacement is rolling out"


def scripts() -> dict[str, str]:
    """The guide's ``# script:`` blocks, by their title."""
    blocks = re.findall(r"```python\n(\s*)# script: (.*?)\n(.*?)```", GUIDE, flags=re.DOTALL)
    return {
        title: "\n".join(line.removeprefix(indent) for line in body.splitlines())
        for indent, title, body in blocks
    }


@pytest.fixture
def account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """An emulated account as the Fleet stack and an earlier script left it; cwd = the build."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.chdir(tmp_path)
    ca = trustme.CA()
    signer_cert = ca.issue_cert("firmware-signer.example.com")
    signer_cert.cert_chain_pems[0].write_to_path("signer-cert.pem")
    signer_cert.private_key_pem.write_to_path("signer-key.pem")
    Path("thermostat-fw.bin").write_bytes(b"THERMOSTAT 5.2.0")
    testing.install()
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(
            Bucket="production-fleet-firmware",
            CreateBucketConfiguration={"LocationConstraint": REGION},
        )
        s3.put_bucket_versioning(
            Bucket="production-fleet-firmware", VersioningConfiguration={"Status": "Enabled"}
        )
        s3.put_object(Bucket="production-fleet-firmware", Key="5.1.0.bin", Body=b"5.1.0")
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(
            RoleName="ota",
            AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
            '"Principal":{"Service":"iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}',
        )["Role"]["Arn"]
        iot = boto3.client("iot", region_name=REGION)
        group = iot.create_thing_group(thingGroupName="thermostat-fleet")["thingGroupArn"]
        iot.create_ota_update(  # what the script of the old days did
            otaUpdateId=SCRIPTED,
            targets=[group],
            targetSelection="CONTINUOUS",
            roleArn=role,
            files=[
                {
                    "fileLocation": {
                        "s3Location": {"bucket": "production-fleet-firmware", "key": "5.1.0.bin"}
                    }
                }
            ],
        )
        yield {"iot": iot, "s3": s3}
    testing.reset_controls()


def test_the_guide_has_its_three_scripts() -> None:
    assert list(scripts()) == [PROFILE, UPLOAD, CLEANUP]


def test_the_signing_profile_script_creates_a_freertos_profile_with_the_certificate(
    account: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    exec(scripts()[PROFILE], {})

    profile = boto3.client("signer", region_name=REGION).get_signing_profile(
        profileName="thermostatSigner"
    )
    assert profile["platformId"] == "AmazonFreeRTOS-Default"
    certificate = profile["signingMaterial"]["certificateArn"]
    assert (
        boto3.client("acm", region_name=REGION).describe_certificate(CertificateArn=certificate)[
            "Certificate"
        ]["Type"]
        == "IMPORTED"
    )
    assert capsys.readouterr().out.split() == [
        "signingProfileName=thermostatSigner",
        f"signingProfileVersion={profile['profileVersion']}",
    ]


def test_the_upload_script_prints_the_version_the_release_pins(
    account: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    exec(scripts()[UPLOAD], {})

    printed = capsys.readouterr().out.strip().removeprefix("firmwareObjectVersion=")
    body = account["s3"].get_object(
        Bucket="production-fleet-firmware",
        Key="thermostat/5.2.0/thermostat-fw.bin",
        VersionId=printed,
    )["Body"]
    assert body.read() == b"THERMOSTAT 5.2.0"


def test_the_cleanup_script_deletes_the_scripted_ota_update_and_its_job(
    account: dict[str, Any],
) -> None:
    iot = account["iot"]
    assert iot.describe_job(jobId=f"AFR_OTA-{SCRIPTED}")["job"]["status"] == "IN_PROGRESS"

    exec(scripts()[CLEANUP], {})

    assert [o["otaUpdateId"] for o in iot.list_ota_updates()["otaUpdates"]] == []
    assert f"AFR_OTA-{SCRIPTED}" not in [j["jobId"] for j in iot.list_jobs()["jobs"]]


def test_the_synth_command_of_the_guide_synthesizes_the_example(tmp_path: Path) -> None:
    (command,) = [line for line in GUIDE.splitlines() if line.startswith("npx cdk synth")]
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT / "constructs"),  # as if the wheel were installed
    }
    result = subprocess.run(
        [*shlex.split(command), "--no-version-reporting", "--output", str(tmp_path / "out")],
        cwd=ROOT / "examples" / "multi_stack",
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    release = (tmp_path / "out" / "assembly-Production").glob("ProductionRelease*.template.json")
    assert "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY" in next(release).read_text()


def test_the_create_failed_shown_is_what_the_handler_answers(
    cloudformation: CloudFormation, world: Any
) -> None:
    ota_id = "Canary-1f0e3d9a8b7c6d5e"
    testing.fail_next_creation("AccessDeniedException", "Unable to read the firmware object")

    created = cloudformation.create("Canary", properties(world, ota_id))
    rollback = cloudformation.delete("Canary", created.physical_id, properties(world, ota_id))

    assert created.status == "FAILED"
    assert f"Message returned: {created.reason}\n" in GUIDE
    assert rollback.status == "SUCCESS"
    assert world.iot.list_ota_updates()["otaUpdates"] == []
