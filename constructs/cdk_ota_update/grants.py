"""What an OTA update request needs from IAM: its service role's and its provider's grants.

Derived from the rendered request itself (bucket, key, stream, signing profile, targets), so
every factory and every hand-written location gets the same least-privilege grants. Each
resource carries the wider ARNs it may be grouped into (see :mod:`.policy`) and the longest
value each of its tokens can stand for.

The service role's grants follow AWS's OTA service-role instructions (the managed policy
``service-role/AmazonFreeRTOSOTAUpdate`` plus ``iam:GetRole``/``iam:PassRole`` on the role itself),
scoped to the resources in use; README "IAM" lists what is left out and why.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from . import api
from ._cdk import iot_arn, is_list_token, pseudo
from .policy import (
    BUCKET_NAME,
    FUNCTION_NAME,
    JOBS,
    LOG_GROUP_NAME,
    OBJECT_KEY,
    OBJECTS,
    PROFILES,
    ROLE_NAME,
    ROLE_PATH,
    SIGNING_JOB_ID,
    SIGNING_JOBS,
    SIGNING_PROFILE_NAME,
    STREAM_ID,
    STREAMS,
    TARGETS,
    THING_NAME,
    Arn,
    Grant,
    Resource,
)

IOT_SERVICE = "iot.amazonaws.com"
PASSED_TO_IOT = {"StringEquals": {"iam:PassedToService": IOT_SERVICE}}
BUCKET_READS = ("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketVersions")
OBJECT_READS = ("s3:GetObject", "s3:GetObjectVersion")


def signer_arn(resource: str) -> str:
    return f"arn:{pseudo().partition}:signer:{pseudo().region}:{pseudo().account_id}:/{resource}"


def _iot(kind: str, name: str | tuple[str, int]) -> Arn:
    return Arn.of(iot_arn(f"{kind}/"), name)


def _signer(kind: str, name: str | tuple[str, int]) -> Arn:
    return Arn.of(signer_arn(f"{kind}/"), name)


def _s3(bucket: str, key: str | None = None) -> Arn:
    if key is None:
        return Arn.of(f"arn:{pseudo().partition}:s3:::", (bucket, BUCKET_NAME))
    return Arn.of(f"arn:{pseudo().partition}:s3:::", (bucket, BUCKET_NAME), "/", (key, OBJECT_KEY))


def s3_object(bucket: str, key: str) -> Resource:
    """An object ARN; grouped, its folder, then each parent folder, then the whole bucket."""
    folders = key.split("/")[:-1]
    prefixes = ["".join(f"{f}/" for f in folders[:n]) for n in range(len(folders), -1, -1)]
    return Resource((_s3(bucket, key), *(_s3(bucket, f"{p}*") for p in prefixes)), OBJECTS)


def bucket(name: str) -> Resource:
    return Resource((_s3(name),))


def target(arn: str) -> Resource:
    """A thing or thing-group ARN; grouped, all of that kind in its account and Region."""
    for kind in ("thinggroup", "thing"):
        marker = f":{kind}/"
        if marker in arn:
            prefix = arn[: arn.index(marker) + len(marker)]
            return Resource((Arn.of((arn, THING_NAME)), Arn.of(f"{prefix}*")), TARGETS)
    # A token for the whole ARN: counted as the longest thing-group ARN, never grouped.
    return Resource.fixed(arn, _iot("thinggroup", "x" * THING_NAME).size)


def role_arn(arn: str, path: str | None) -> Resource:
    """A role's ARN; a token counts as the longest ARN of a role with ``path`` (``None``: any
    path) in this account."""
    longest_arn = Arn.of(
        f"arn:{pseudo().partition}:iam::{pseudo().account_id}:role",
        ("/" * ROLE_PATH if path is None else path, ROLE_PATH),
        "x" * ROLE_NAME,
    )
    return Resource.fixed(arn, longest_arn.size)


def function_arn(arn: str) -> Resource:
    """A Lambda function's unqualified ARN; a token counts as the longest one in this account
    and Region."""
    prefix = f"arn:{pseudo().partition}:lambda:{pseudo().region}:{pseudo().account_id}:function:"
    return Resource.fixed(arn, Arn.of(prefix, "x" * FUNCTION_NAME).size)


def log_group_arn(arn: str) -> Resource:
    """A log group's ARN (``Fn::GetAtt [LogGroup, Arn]``, which ends in ``:*``); a token counts
    as the longest one in this account and Region."""
    prefix = f"arn:{pseudo().partition}:logs:{pseudo().region}:{pseudo().account_id}:log-group:"
    return Resource.fixed(arn, Arn.of(prefix, "x" * LOG_GROUP_NAME, ":*").size)


OTA_UPDATES = iot_arn("otaupdate/*")
OTA_JOBS = iot_arn(f"job/{api.JOB_ID_PREFIX}*")
OTA_STREAMS = iot_arn(f"stream/{api.STREAM_ID_PREFIX}*")
SIGNING_JOBS_ARN = signer_arn("signing-jobs/*")


def _files(request: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from request.get(api.FILES) or ()


def _locations(request: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for file in _files(request):
        location = (file.get("fileLocation") or {}).get("s3Location")
        if location:
            yield location


def _objects(request: Mapping[str, Any]) -> tuple[Resource, ...]:
    return tuple(s3_object(loc["bucket"], loc["key"]) for loc in _locations(request))


def _signing_jobs(request: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for file in _files(request):
        job = (file.get("codeSigning") or {}).get("startSigningJobParameter")
        if job:
            yield job


def _destinations(request: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for signing in _signing_jobs(request):
        destination = (signing.get("destination") or {}).get("s3Destination")
        if destination:
            yield destination


def _profile(job: Mapping[str, Any]) -> Resource:
    return Resource(
        (
            _signer("signing-profiles", (job["signingProfileName"], SIGNING_PROFILE_NAME)),
            Arn.of(signer_arn("signing-profiles/*")),
        ),
        PROFILES,
    )


def self_grants(role_arn: Resource) -> Iterator[Grant]:
    """The role on itself: the service reads it and passes it on to the streams it creates
    (CreateStream's roleArn), as AWS's OTA service-role instructions grant."""
    yield Grant(("iam:GetRole",), (role_arn,))
    yield Grant(("iam:PassRole",), (role_arn,), PASSED_TO_IOT)


def service_role_grants(request: Mapping[str, Any]) -> Iterator[Grant]:
    """What the OTA update service does with its role for ``request``."""
    ota_id = request[api.OTA_UPDATE_ID]
    # A derived id is a token: it counts as the longest id, AFR_OTA- literal beside it.
    job_arn = _iot("job", (api.job_id(ota_id), api.OTA_UPDATE_ID_MAX_LENGTH))
    job = Resource((job_arn, Arn.of(OTA_JOBS)), JOBS)
    targets = request.get(api.TARGETS) or []
    if is_list_token(targets):
        yield Grant(
            ("iot:CreateJob",),
            (job, Resource.fixed(iot_arn("thing/*")), Resource.fixed(iot_arn("thinggroup/*"))),
            reason="The targets are only known at deploy time (a list token); limited to things "
            "and thing groups of this account and region.",
        )
    else:
        yield Grant(("iot:CreateJob",), (job, *(target(t) for t in targets)))
    yield Grant(("iot:DescribeJob", "iot:DeleteJob"), (job,))
    objects = _objects(request)
    if objects:
        yield Grant(OBJECT_READS, objects)
    buckets = tuple(bucket(b["bucket"]) for b in (*_locations(request), *_destinations(request)))
    if buckets:
        yield Grant(BUCKET_READS, buckets)
    if objects and "MQTT" in (request.get("protocols") or ["MQTT"]):
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
                (
                    Resource(
                        (
                            _iot("stream", (stream["streamId"], STREAM_ID)),
                            Arn.of(iot_arn("stream/*")),
                        ),
                        STREAMS,
                    ),
                ),
            )
        signer_job = (file.get("codeSigning") or {}).get("awsSignerJobId")
        if signer_job:
            yield Grant(
                ("signer:DescribeSigningJob",),
                (
                    Resource(
                        (
                            _signer("signing-jobs", (signer_job, SIGNING_JOB_ID)),
                            Arn.of(SIGNING_JOBS_ARN),
                        ),
                        SIGNING_JOBS,
                    ),
                ),
            )
    for signing in _signing_jobs(request):
        actions: tuple[str, ...] = ("signer:StartSigningJob", "signer:GetSigningProfile")
        if signing.get("signingProfileParameter"):
            actions += ("signer:PutSigningProfile",)
        yield Grant(actions, (_profile(signing),))
        yield Grant(
            ("signer:DescribeSigningJob",),
            (Resource.fixed(SIGNING_JOBS_ARN),),
            reason="The service starts the signing job and reads its status; the job id is "
            "only known at run time. Limited to this account and region.",
        )
    for destination in _destinations(request):
        signed = s3_object(destination["bucket"], f"{destination.get('prefix') or ''}*")
        yield Grant(
            ("s3:PutObject", *OBJECT_READS),
            (signed,),
            reason="AWS Signer writes the signed file under the destination prefix with a "
            "name chosen at run time; limited to that bucket and prefix.",
        )


def provider_grants(request: Mapping[str, Any], role_arn: Resource) -> Iterator[Grant]:
    """What the handler's CreateOTAUpdate call itself needs for ``request``."""
    yield Grant(("iam:PassRole",), (role_arn,), PASSED_TO_IOT)
    objects = _objects(request)
    if objects:
        yield Grant(OBJECT_READS, objects)
    for signing in _signing_jobs(request):
        yield Grant(("signer:GetSigningProfile", "signer:StartSigningJob"), (_profile(signing),))


def rollout_gate_grants() -> Iterator[Grant]:
    """What the handler's rollout gate needs beyond the provider's own grants (which read the
    jobs already: DescribeJob): cancel the job of a failed gate."""
    yield Grant(
        ("iot:CancelJob",),
        (Resource.fixed(OTA_JOBS),),
        reason=f"A failed rollout gate cancels the service's job {api.JOB_ID_PREFIX}<otaUpdateId>, "
        "named at deploy time; limited to that name prefix.",
    )
