"""What an OTA update request needs from IAM: its service role's and its provider's grants.

Derived from the rendered request itself (bucket, key, stream, signing profile, targets), so
every factory and every hand-written location gets the same least-privilege grants.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from aws_cdk import Aws, Token

from . import api
from .policy import Grant, Resource

IOT_SERVICE = "iot.amazonaws.com"
PASSED_TO_IOT = {"StringEquals": {"iam:PassedToService": IOT_SERVICE}}


def iot_arn(resource: str) -> str:
    return f"arn:{Aws.PARTITION}:iot:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"


def signer_arn(resource: str) -> str:
    return f"arn:{Aws.PARTITION}:signer:{Aws.REGION}:{Aws.ACCOUNT_ID}:/{resource}"


def s3_object(bucket: str, key: str) -> Resource:
    """An object ARN; grouped, the objects of the same bucket and key prefix ("folder")."""
    prefix = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    return Resource(
        f"arn:{Aws.PARTITION}:s3:::{bucket}/{key}", f"arn:{Aws.PARTITION}:s3:::{bucket}/{prefix}*"
    )


OTA_UPDATES = iot_arn("otaupdate/*")
OTA_JOBS = iot_arn(f"job/{api.JOB_ID_PREFIX}*")
OTA_STREAMS = iot_arn(f"stream/{api.STREAM_ID_PREFIX}*")
SIGNING_JOBS = signer_arn("signing-jobs/*")


def _files(request: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from request.get("files") or ()


def _objects(request: Mapping[str, Any]) -> Iterator[tuple[Resource, bool]]:
    """Each firmware object, and whether a version is named."""
    for file in _files(request):
        location = (file.get("fileLocation") or {}).get("s3Location")
        if location:
            yield s3_object(location["bucket"], location["key"]), bool(location.get("version"))


def _signing_jobs(request: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for file in _files(request):
        job = (file.get("codeSigning") or {}).get("startSigningJobParameter")
        if job:
            yield job


def _profile(job: Mapping[str, Any]) -> Resource:
    return Resource(
        signer_arn(f"signing-profiles/{job['signingProfileName']}"),
        signer_arn("signing-profiles/*"),
    )


def _read_objects(request: Mapping[str, Any]) -> Iterator[Grant]:
    objects = list(_objects(request))
    if objects:
        yield Grant(("s3:GetObject",), tuple(o for o, _ in objects))
    versioned = tuple(o for o, has_version in objects if has_version)
    if versioned:
        yield Grant(("s3:GetObjectVersion",), versioned)


def service_role_grants(request: Mapping[str, Any]) -> Iterator[Grant]:
    """What the OTA update service does with its role for ``request``."""
    ota_id = request[api.OTA_UPDATE_ID]
    job = Resource(iot_arn(f"job/{api.job_id(ota_id)}"), OTA_JOBS)
    targets = request.get("targets") or []
    if Token.is_unresolved(targets):
        yield Grant(
            ("iot:CreateJob",),
            (job, Resource.fixed(iot_arn("thing/*")), Resource.fixed(iot_arn("thinggroup/*"))),
            reason="The targets are only known at deploy time (a list token); limited to things "
            "and thing groups of this account and region.",
        )
    else:
        yield Grant(("iot:CreateJob",), (job, *(Resource.fixed(t) for t in targets)))
    yield Grant(("iot:DescribeJob", "iot:DeleteJob"), (job,))
    yield from _read_objects(request)
    if any(_objects(request)) and "MQTT" in (request.get("protocols") or ["MQTT"]):
        yield Grant(
            ("iot:CreateStream", "iot:DeleteStream"),
            (Resource.fixed(OTA_STREAMS),),
            reason=f"The service creates the stream {api.STREAM_ID_PREFIX}<uuid> for MQTT "
            "delivery, named at run time; limited to that name prefix.",
        )
    for file in _files(request):
        stream = (file.get("fileLocation") or {}).get("stream")
        if stream:
            yield Grant(
                ("iot:DescribeStream",),
                (Resource(iot_arn(f"stream/{stream['streamId']}"), iot_arn("stream/*")),),
            )
        signer_job = (file.get("codeSigning") or {}).get("awsSignerJobId")
        if signer_job:
            yield Grant(
                ("signer:DescribeSigningJob",),
                (Resource(signer_arn(f"signing-jobs/{signer_job}"), SIGNING_JOBS),),
            )
    for signing in _signing_jobs(request):
        actions: tuple[str, ...] = ("signer:StartSigningJob", "signer:GetSigningProfile")
        if signing.get("signingProfileParameter"):
            actions += ("signer:PutSigningProfile",)
        yield Grant(actions, (_profile(signing),))
        yield Grant(
            ("signer:DescribeSigningJob",),
            (Resource.fixed(SIGNING_JOBS),),
            reason="The service starts the signing job and reads its status; the job id is "
            "only known at run time. Limited to this account and region.",
        )
        destination = (signing.get("destination") or {}).get("s3Destination")
        if destination:
            signed = s3_object(destination["bucket"], f"{destination.get('prefix') or ''}*")
            yield Grant(
                ("s3:PutObject", "s3:GetObject"),
                (signed,),
                reason="AWS Signer writes the signed file under the destination prefix with a "
                "name chosen at run time; limited to that bucket and prefix.",
            )


def provider_grants(request: Mapping[str, Any]) -> Iterator[Grant]:
    """What the handler's CreateOTAUpdate call itself needs for ``request``."""
    yield Grant(("iam:PassRole",), (Resource.fixed(request["roleArn"]),), PASSED_TO_IOT)
    yield from _read_objects(request)
    for signing in _signing_jobs(request):
        yield Grant(("signer:GetSigningProfile", "signer:StartSigningJob"), (_profile(signing),))
