"""Helpers for construct tests: small stacks and their templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from cdk_ota_update import CodeSigning, FileLocation, OtaTarget, OtaUpdate, OtaUpdateFile

ROOT = Path(__file__).resolve().parent.parent


def stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Test")


def isolated_vpc(scope: cdk.Stack) -> ec2.Vpc:
    """A VPC without NAT: isolated subnets only, as behind interface endpoints."""
    return ec2.Vpc(
        scope,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )


def firmware(stack: cdk.Stack, key: str = "fw/v1/firmware.bin", **kwargs: Any) -> OtaUpdateFile:
    found = stack.node.try_find_child("FirmwareBucket")
    bucket = (
        cast(s3.IBucket, found)
        if found is not None
        else s3.Bucket.from_bucket_name(stack, "FirmwareBucket", "firmware-bucket")
    )
    return OtaUpdateFile(
        file_name="firmware.bin",
        file_location=FileLocation.from_bucket(bucket, key, **kwargs),
        code_signing=CodeSigning(aws_signer_job_id="signer-job-1"),
    )


def ota(stack: cdk.Stack, id: str = "Ota", **overrides: Any) -> OtaUpdate:
    props: dict[str, Any] = {
        "targets": [OtaTarget.thing_group("fleet")],
        "files": [firmware(stack)],
    }
    props.update(overrides)
    return OtaUpdate(stack, id, **props)


def template(stack: cdk.Stack) -> Template:
    return Template.from_stack(stack)


def ota_properties(stack: cdk.Stack) -> list[dict[str, Any]]:
    resources = template(stack).find_resources("Custom::OtaUpdate")
    return [r["Properties"] for r in resources.values()]
