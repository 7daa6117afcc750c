"""OTA updates and streams, kept beside moto's IoT backend (same account, region and reset).

What the emulation checks, and when (following what AWS documents, see docs/testing.md):

- synchronously, as errors of the call: the request's constraints (InvalidRequestException, from
  :func:`cdk_ota_update.api.validate`), a duplicate id (ResourceAlreadyExistsException), target
  ARNs naming no existing thing or thing group, and stream file locations naming an unknown stream
  or file id (ResourceNotFoundException): IoT checks its own resources itself; more than
  ``api.MAX_TAGS_PER_RESOURCE`` tags on a resource, its tags and the request's together
  (InvalidRequestException);
- asynchronously, as CREATE_FAILED with an ``errorInfo``: what the service only learns by acting
  with the OTA update's role: a role missing from IAM, an S3 object (or version) that cannot be
  read, a job ``AFR_OTA-<otaUpdateId>`` that still exists (an earlier OTA update's job still being
  deleted);
- DeleteOTAUpdate is asynchronous too: without ``forceDeleteAWSJob`` a job that is not in a
  terminal state (COMPLETED, CANCELED) makes it end in DELETE_FAILED; the OTA update, its job and
  its stream then stay.

Outcomes are decided when the request arrives and revealed as the lifecycle advances (see
:mod:`.controls`); the job and the stream appear when the OTA update reaches CREATE_COMPLETE. The
job has an execution QUEUED for each thing it targets, a thing group's things included (moto's
CreateJob names one after the group itself); its executions move only with a simulated fleet
(:mod:`.fleet`).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.core.utils import utcnow
from moto.iam.exceptions import NotFoundException
from moto.iam.models import iam_backends
from moto.iot.exceptions import (
    DeleteConflictException,
    InvalidRequestException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from moto.iot.models import FakeJob, FakeJobExecution, IoTBackend, iot_backends
from moto.s3.exceptions import MissingBucket
from moto.s3.models import FakeKey, s3_backends
from moto.utilities.paginator import paginate
from moto.utilities.tagging_service import TaggingService
from moto.utilities.utils import get_partition

from cdk_ota_update import api
from cdk_ota_update.job_metrics import PROCESS_COUNTS as PROCESS_COUNTS  # re-exported

from . import controls, strict_iam
from .controls import ErrorInfo

TERMINAL_JOB_STATUSES = ("COMPLETED", "CANCELED")
DELETABLE_STATUSES = ("CREATE_COMPLETE", "CREATE_FAILED", "DELETE_FAILED")


class InvalidNextToken(InvalidRequestException):
    def __init__(self, token: str) -> None:
        super().__init__(f"Invalid nextToken: {token}")


PAGINATION_MODEL: dict[str, dict[str, Any]] = {
    name: {
        "input_token": "next_token",
        "limit_key": "max_results",
        "limit_default": 50,
        "unique_attribute": attribute,
        "fail_on_invalid_token": InvalidNextToken,
    }
    for name, attribute in (("list_ota_updates", "ota_update_id"), ("list_streams", "stream_id"))
}

Stage = Callable[[], None]


@dataclass
class Lifecycle:
    """Stages run one per ``delay`` seconds (all at once when 0), or one per ``advance()``."""

    stages: list[Stage]
    delay: float
    manual: bool
    started: float = field(default_factory=time.monotonic)
    advanced: int = 0
    done: int = 0

    def settle(self) -> bool:
        """Run the stages that are due; whether all have run."""
        if self.manual:
            due = self.advanced
        elif self.delay > 0:
            due = int((time.monotonic() - self.started) / self.delay)
        else:
            due = len(self.stages)
        while self.done < min(due, len(self.stages)):
            self.done += 1
            self.stages[self.done - 1]()
        return self.done == len(self.stages)


@dataclass
class FakeStream:
    stream_id: str
    arn: str
    files: list[dict[str, Any]]
    role_arn: str | None = None
    description: str | None = None
    version: int = 1
    created_at: datetime = field(default_factory=utcnow)
    last_updated_at: datetime = field(default_factory=utcnow)

    def summary(self) -> dict[str, Any]:
        return {
            "streamId": self.stream_id,
            "streamArn": self.arn,
            "streamVersion": self.version,
            "description": self.description,
        }

    def info(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "files": self.files,
            "roleArn": self.role_arn,
            "createdAt": self.created_at,
            "lastUpdatedAt": self.last_updated_at,
        }


@dataclass
class FakeOtaUpdate:
    request: dict[str, Any]
    arn: str
    job_arn: str
    status: str = "CREATE_PENDING"
    error_info: ErrorInfo | None = None
    has_job: bool = False
    stream_id: str | None = None  # the stream this OTA update created, if any
    created_at: datetime = field(default_factory=utcnow)
    last_modified_at: datetime = field(default_factory=utcnow)

    @property
    def ota_update_id(self) -> str:
        ota_update_id: str = self.request["otaUpdateId"]
        return ota_update_id

    @property
    def job_id(self) -> str:
        return api.job_id(self.ota_update_id)

    @property
    def protocols(self) -> list[str]:
        protocols: list[str] = self.request.get("protocols") or ["MQTT"]
        return protocols

    @property
    def files(self) -> list[dict[str, Any]]:
        files: list[dict[str, Any]] = self.request["files"]
        return files

    @property
    def streams(self) -> list[str]:
        """The streams this OTA update uses: the one it created, then those its files name."""
        named = [
            f["fileLocation"]["stream"]["streamId"]
            for f in self.files
            if "stream" in f["fileLocation"]
        ]
        return ([self.stream_id] if self.stream_id else []) + named

    def set_status(self, status: str, error: ErrorInfo | None = None) -> None:
        self.status = status
        self.error_info = error
        self.last_modified_at = utcnow()

    def created(self) -> dict[str, Any]:
        """CreateOTAUpdate's answer."""
        return {
            "otaUpdateId": self.ota_update_id,
            "otaUpdateArn": self.arn,
            "awsIotJobId": self.job_id,
            "awsIotJobArn": self.job_arn,
            "otaUpdateStatus": self.status,
        }

    def summary(self) -> dict[str, Any]:
        return {
            "otaUpdateId": self.ota_update_id,
            "otaUpdateArn": self.arn,
            "creationDate": self.created_at,
        }

    def info(self) -> dict[str, Any]:
        """GetOTAUpdate's ``otaUpdateInfo``."""
        request = self.request
        job = {"awsIotJobId": self.job_id, "awsIotJobArn": self.job_arn} if self.has_job else {}
        error = self.error_info
        return {
            **self.summary(),
            **job,
            "lastModifiedDate": self.last_modified_at,
            "description": request.get("description"),
            "targets": request["targets"],
            "protocols": self.protocols,
            "awsJobExecutionsRolloutConfig": request.get("awsJobExecutionsRolloutConfig"),
            "awsJobPresignedUrlConfig": request.get("awsJobPresignedUrlConfig"),
            "targetSelection": request.get("targetSelection", "SNAPSHOT"),
            "otaUpdateFiles": self.files,
            "otaUpdateStatus": self.status,
            "errorInfo": {"code": error.code, "message": error.message} if error else None,
            "additionalParameters": request.get("additionalParameters"),
        }


def ota_backend(iot: IoTBackend) -> OtaBackend:
    """The OTA state of a moto IoT backend (created on first use, dropped by moto's reset)."""
    state: OtaBackend | None = vars(iot).get(OtaBackend.ATTRIBUTE)
    if state is None:
        state = vars(iot)[OtaBackend.ATTRIBUTE] = OtaBackend(iot)
    return state


def advance(ota_update_id: str | None = None) -> None:
    """One manual lifecycle step for that OTA update (or all, when None); see controls."""
    with controls.LOCK:
        for account in iot_backends.values():
            for iot in account.values():
                ota_backend(iot).advance(ota_update_id)


class OtaBackend:
    """CreateOTAUpdate and friends, and streams, for one account and region."""

    ATTRIBUTE = "_cdk_ota_update"

    def __init__(self, iot: IoTBackend) -> None:
        self.iot = iot
        self.ota_updates: dict[str, FakeOtaUpdate] = {}
        self.streams: dict[str, FakeStream] = {}
        self.tags = TaggingService(tag_name="tags")
        self.lifecycles: list[tuple[str, Lifecycle]] = []
        partition = get_partition(iot.region_name)
        self.place = strict_iam.Place(partition, iot.region_name, iot.account_id)
        self.iam = iam_backends[iot.account_id][partition]
        self.s3 = s3_backends[iot.account_id][partition]

    # -- lifecycle --------------------------------------------------------------------------
    def settle(self) -> None:
        """Apply every transition that is due."""
        self.lifecycles = [(key, cycle) for key, cycle in self.lifecycles if not cycle.settle()]

    def advance(self, ota_update_id: str | None) -> None:
        for key, cycle in self.lifecycles:
            if ota_update_id in (None, key):
                cycle.advanced += 1
        self.settle()

    def _start(self, ota_update_id: str, stages: list[Stage]) -> None:
        delay, manual = controls.lifecycle_settings()
        self.lifecycles.append((ota_update_id, Lifecycle(stages, delay, manual)))

    # -- OTA updates ------------------------------------------------------------------------
    def create_ota_update(self, request: dict[str, Any]) -> FakeOtaUpdate:
        ota_update_id = request["otaUpdateId"]
        arn = self.place.iot(api.ota_update_resource(ota_update_id))
        if ota_update_id in self.ota_updates:
            raise ResourceAlreadyExistsException(
                f"OTA update {ota_update_id} already exists", ota_update_id, arn
            )
        for target in request["targets"]:
            self._check_target(target)
        for file in request["files"]:
            stream = file["fileLocation"].get("stream")
            if stream and self._stream_file(stream) is None:
                raise ResourceNotFoundException(
                    f"Stream {stream['streamId']} with a file of id {stream['fileId']} "
                    "does not exist"
                )
        self._check_tag_count(arn, request.get("tags"))
        ota = FakeOtaUpdate(request, arn, self.place.iot(api.job_resource(ota_update_id)))
        failure = controls.take_creation_failure() or self._creation_problem(ota)
        self.ota_updates[ota_update_id] = ota
        self.tags.tag_resource(arn, request.get("tags"))

        def complete() -> None:
            if failure:
                ota.set_status("CREATE_FAILED", failure)
            else:
                self._create_job(ota)
                ota.set_status("CREATE_COMPLETE")

        self._start(ota_update_id, [lambda: ota.set_status("CREATE_IN_PROGRESS"), complete])
        return ota

    def get_ota_update(self, ota_update_id: str) -> FakeOtaUpdate:
        ota = self.ota_updates.get(ota_update_id)
        if ota is None:
            raise ResourceNotFoundException(f"OTA update {ota_update_id} does not exist")
        return ota

    @paginate(PAGINATION_MODEL)
    def list_ota_updates(self, ota_update_status: str | None = None) -> list[FakeOtaUpdate]:
        return [ota for ota in self.ota_updates.values() if ota_update_status in (None, ota.status)]

    def delete_ota_update(
        self, ota_update_id: str, delete_stream: bool, force_delete_aws_job: bool
    ) -> None:
        ota = self.get_ota_update(ota_update_id)
        if ota.status not in DELETABLE_STATUSES:
            raise InvalidRequestException(
                f"OTA update {ota_update_id} is {ota.status} and cannot be deleted now"
            )
        failure = controls.take_deletion_failure() or self._deletion_problem(
            ota, force_delete_aws_job
        )
        ota.set_status("DELETE_IN_PROGRESS")
        if failure:
            self._start(ota_update_id, [lambda: ota.set_status("DELETE_FAILED", failure)])
            return
        job = self.iot.jobs.get(ota.job_id) if ota.has_job else None

        def remove() -> None:
            del self.ota_updates[ota_update_id]
            self.tags.delete_all_tags_for_resource(ota.arn)
            if delete_stream and ota.stream_id:
                self._remove_stream(ota.stream_id)
            if job:
                job.status = "DELETION_IN_PROGRESS"

        def remove_job() -> None:
            if job and self.iot.jobs.get(job.job_id) is job:
                self.iot.delete_job(job_id=job.job_id, force=True)

        self._start(ota_update_id, [remove, remove_job])

    # -- streams ----------------------------------------------------------------------------
    def create_stream(
        self,
        stream_id: str,
        files: list[dict[str, Any]],
        role_arn: str | None,
        description: str | None,
        tags: list[dict[str, str]] | None,
    ) -> FakeStream:
        arn = self.place.iot(f"stream/{stream_id}")
        if stream_id in self.streams:
            raise ResourceAlreadyExistsException(
                f"Stream {stream_id} already exists", stream_id, arn
            )
        self._check_file_ids(files)
        self._check_tag_count(arn, tags)
        stream = self.streams[stream_id] = FakeStream(stream_id, arn, files, role_arn, description)
        self.tags.tag_resource(arn, tags)
        return stream

    def describe_stream(self, stream_id: str) -> FakeStream:
        stream = self.streams.get(stream_id)
        if stream is None:
            raise ResourceNotFoundException(f"Stream {stream_id} does not exist")
        return stream

    def update_stream(
        self,
        stream_id: str,
        files: list[dict[str, Any]] | None,
        role_arn: str | None,
        description: str | None,
    ) -> FakeStream:
        stream = self.describe_stream(stream_id)
        if files is not None:
            self._check_file_ids(files)
            stream.files = files
        stream.role_arn = role_arn or stream.role_arn
        stream.description = description if description is not None else stream.description
        stream.version += 1
        stream.last_updated_at = utcnow()
        return stream

    def delete_stream(self, stream_id: str) -> None:
        self.describe_stream(stream_id)
        users = [ota.ota_update_id for ota in self.ota_updates.values() if stream_id in ota.streams]
        if users:
            raise DeleteConflictException(
                f"Stream {stream_id} is used by the OTA update(s) {', '.join(users)}"
            )
        self._remove_stream(stream_id)

    @paginate(PAGINATION_MODEL)
    def list_streams(self, ascending_order: bool = False) -> list[FakeStream]:
        streams = list(self.streams.values())
        return streams if ascending_order else streams[::-1]

    # -- tags -------------------------------------------------------------------------------
    def list_tags_for_resource(self, arn: str) -> list[dict[str, str]]:
        self._check_taggable(arn)
        tags: list[dict[str, str]] = self.tags.list_tags_for_resource(arn)["tags"]
        return tags

    def tag_resource(self, arn: str, tags: list[dict[str, str]]) -> None:
        self._check_taggable(arn)
        self._check_tag_count(arn, tags)
        self.tags.tag_resource(arn, tags)

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        self._check_taggable(arn)
        self.tags.untag_resource_using_names(arn, keys)

    # -- checks -----------------------------------------------------------------------------
    def _check_target(self, arn: str) -> None:
        """A target (a thing or thing-group ARN, as api.validate made sure) must exist."""
        if arn not in self.iot.things and arn not in self.iot.thing_groups:
            raise ResourceNotFoundException(f"Target {arn} does not exist")

    def _stream_file(self, location: Mapping[str, Any]) -> dict[str, Any] | None:
        """The file a stream file location names, if it exists."""
        stream = self.streams.get(location["streamId"])
        files = stream.files if stream else []
        return next((file for file in files if file["fileId"] == location["fileId"]), None)

    @staticmethod
    def _check_file_ids(files: list[dict[str, Any]]) -> None:
        ids = [file["fileId"] for file in files]
        if len(set(ids)) != len(ids):
            raise InvalidRequestException(f"The file ids of a stream must be unique, not {ids}")

    def _check_tag_count(self, arn: str, tags: list[dict[str, str]] | None) -> None:
        """A resource keeps at most api.MAX_TAGS_PER_RESOURCE tags, old and new ones together."""
        keys = set(self.tags.get_tag_dict_for_resource(arn)) | {t[api.TAG_KEY] for t in tags or []}
        if len(keys) > api.MAX_TAGS_PER_RESOURCE:
            raise InvalidRequestException(
                f"The resource {arn} would have {len(keys)} tags: a resource can have at most "
                f"{api.MAX_TAGS_PER_RESOURCE} tags, the tags it has and those of the request "
                "counted together"
            )

    def _check_taggable(self, arn: str) -> None:
        known = {ota.arn for ota in self.ota_updates.values()} | {
            stream.arn for stream in self.streams.values()
        }
        if arn not in known:
            raise ResourceNotFoundException(f"Resource {arn} does not exist")

    def _creation_problem(self, ota: FakeOtaUpdate) -> ErrorInfo | None:
        """What the service would find while creating the OTA update (CREATE_FAILED)."""
        role_arn = ota.request[api.ROLE_ARN]
        try:
            self.iam.get_role_by_arn(role_arn)
        except NotFoundException:
            return ErrorInfo("AccessDeniedException", f"Unable to assume the role {role_arn}")
        for file in ota.files:
            location = file["fileLocation"].get("s3Location")
            if location and self._object(location) is None:
                return ErrorInfo(
                    "AccessDeniedException",
                    f"The role {role_arn} cannot read the S3 object {_s3_url(location)}",
                )
        if controls.strict_iam():
            judged = strict_iam.judge(self.iam, ota.request, self.place, ota.arn)
            if judged:
                return judged
        if ota.job_id in self.iot.jobs:
            return ErrorInfo("ResourceAlreadyExistsException", f"Job {ota.job_id} already exists")
        return None

    def _deletion_problem(self, ota: FakeOtaUpdate, force: bool) -> ErrorInfo | None:
        job = self.iot.jobs.get(ota.job_id) if ota.has_job else None
        if job and not force and job.status not in TERMINAL_JOB_STATUSES:
            return ErrorInfo(
                "InvalidStateTransitionException",
                f"Job {job.job_id} is {job.status}: it can only be deleted in a terminal state "
                f"({', '.join(TERMINAL_JOB_STATUSES)}) unless forceDeleteAWSJob is true",
            )
        return None

    # -- side effects -----------------------------------------------------------------------
    def _object(self, location: Mapping[str, str]) -> FakeKey | None:
        try:
            found: FakeKey | None = self.s3.get_object(
                location["bucket"], location["key"], location.get("version")
            )
        except MissingBucket:
            return None
        return found

    def _remove_stream(self, stream_id: str) -> None:
        stream = self.streams.pop(stream_id)
        self.tags.delete_all_tags_for_resource(stream.arn)

    def _create_job(self, ota: FakeOtaUpdate) -> None:
        """The job ``AFR_OTA-<otaUpdateId>`` (and, for MQTT with S3 files, its stream)."""
        request = ota.request
        s3_files = {
            index: file["fileLocation"]["s3Location"]
            for index, file in enumerate(ota.files)
            if "s3Location" in file["fileLocation"]
        }
        if "MQTT" in ota.protocols and s3_files:
            stream = self.create_stream(
                f"{api.STREAM_ID_PREFIX}{uuid.uuid4()}",
                [{"fileId": index, "s3Location": location} for index, location in s3_files.items()],
                request["roleArn"],
                f"Stream of OTA update {ota.ota_update_id}",
                None,
            )
            ota.stream_id = stream.stream_id
        presigned = request.get("awsJobPresignedUrlConfig")
        abort = request.get("awsJobAbortConfig")
        job: dict[str, Any] = {  # moto's annotations miss that these may be None
            "job_id": ota.job_id,
            "targets": request["targets"],
            "document_source": None,
            "document": json.dumps(self._job_document(ota)),
            "description": request.get("description"),
            "presigned_url_config": presigned and {"roleArn": request["roleArn"], **presigned},
            "target_selection": request.get("targetSelection", "SNAPSHOT"),
            "job_executions_rollout_config": request.get("awsJobExecutionsRolloutConfig"),
            "document_parameters": None,
            "abort_config": abort and {"criteriaList": abort["abortCriteriaList"]},
            "job_execution_retry_config": None,
            "scheduling_config": None,
            "timeout_config": request.get("awsJobTimeoutConfig"),
        }
        self.iot.create_job(**job)
        created = self.iot.jobs[ota.job_id]
        created.status = "IN_PROGRESS"  # as the service's jobs start
        expand_executions(self.iot, created)
        created.job_process_details = job_process_details(self.iot, created, created.targets)
        ota.has_job = True

    def _job_document(self, ota: FakeOtaUpdate) -> dict[str, Any]:
        """The job document of an OTA update, as FreeRTOS's OTA agent reads it."""
        stream_ids = ota.streams
        document: dict[str, Any] = {"protocols": ota.protocols, "files": []}
        if stream_ids:
            document["streamname"] = stream_ids[0]
        for index, file in enumerate(ota.files):
            document["files"].append(self._document_file(index, file, ota.protocols))
        return {"afr_ota": document}

    def _document_file(self, index: int, file: dict[str, Any], protocols: list[str]) -> Any:
        stream = file["fileLocation"].get("stream")
        location = (self._stream_file(stream) or {} if stream else file["fileLocation"]).get(
            "s3Location"
        )
        found = location and self._object(location)
        custom = file.get("codeSigning", {}).get("customCodeSigning", {})
        entry: dict[str, Any] = {
            "filepath": file.get("fileName"),
            "filesize": found.size if found else None,
            "fileid": stream["fileId"] if stream else index,
            "fileType": file.get("fileType"),
            "certfile": custom.get("certificateChain", {}).get("certificateName"),
            "attr": file.get("attributes"),
        }
        if "signature" in custom:
            algorithms = f"{custom.get('hashAlgorithm', '')}-{custom.get('signatureAlgorithm', '')}"
            entry[f"sig-{algorithms.lower()}"] = base64.b64encode(
                custom["signature"]["inlineDocument"]
            ).decode()
        if "HTTP" in protocols and location:
            entry["update_data_url"] = (
                f"https://{location['bucket']}.s3.amazonaws.com/{location['key']}"
            )
            entry["auth_scheme"] = "aws.s3.presigned"
        return {key: value for key, value in entry.items() if value is not None}


def target_things(iot: IoTBackend, targets: Iterable[str]) -> dict[str, str]:
    """The things a job with these targets runs on, name -> ARN, in the targets' order: each
    thing ARN, and the things of each thing group ARN and of its child groups, at every depth
    ("jobs that are sent to and executed on every thing in a group and its child groups": the
    AWS IoT Developer Guide, "Static thing groups"), each thing once."""
    children: dict[str | None, list[Any]] = {}
    for each in iot.thing_groups.values():
        children.setdefault(each.parent_group_name, []).append(each)
    things: dict[str, str] = {}
    for arn in targets:
        group = iot.thing_groups.get(arn)
        if group is None:
            things.setdefault(arn.split("/")[-1], arn)
            continue
        for member in (group, *_descendants(children, group.thing_group_name)):
            for thing_arn, thing in member.things.items():
                things.setdefault(thing.thing_name, thing_arn)
    return things


def _descendants(children: Mapping[str | None, list[Any]], name: str) -> list[Any]:
    """The thing groups below the group ``name`` (``children``: each group's, by its name),
    depth first, each level in creation order."""
    below: list[Any] = []
    for child in children.get(name, ()):
        below += [child, *_descendants(children, child.thing_group_name)]
    return below


def job_executions(iot: IoTBackend, job_id: str) -> dict[str, FakeJobExecution]:
    """The executions of a job, by thing name, in the order moto keeps them."""
    return {name: ex for (job, name), ex in iot.job_executions.items() if job == job_id}


def expand_executions(iot: IoTBackend, job: FakeJob) -> None:
    """One execution of ``job`` per thing its targets name, as the service creates them.

    moto's CreateJob gives each target one execution named after it, a thing group too (as if it
    were a thing): those are replaced by an execution for each thing of the group.
    """
    for arn in job.targets:
        group = iot.thing_groups.get(arn)
        key = (job.job_id, group.thing_group_name) if group else None
        if key and key in iot.job_executions and iot.job_executions[key].thing_arn == arn:
            del iot.job_executions[key]
    for name, arn in target_things(iot, job.targets).items():
        if (job.job_id, name) not in iot.job_executions:
            iot.job_executions[(job.job_id, name)] = FakeJobExecution(job.job_id, arn)


def job_process_details(
    iot: IoTBackend, job: FakeJob, processing_targets: list[str] | None
) -> dict[str, Any]:
    """DescribeJob's ``jobProcessDetails``: the job's executions counted by status, and the
    targets still being rolled out to (none once every target was notified)."""
    counts = dict.fromkeys(PROCESS_COUNTS.values(), 0)
    for execution in job_executions(iot, job.job_id).values():
        if execution.status in PROCESS_COUNTS:
            counts[PROCESS_COUNTS[execution.status]] += 1
    return {"processingTargets": processing_targets, **counts} if processing_targets else counts


def _s3_url(location: Mapping[str, str]) -> str:
    version = location.get("version")
    url = f"s3://{location['bucket']}/{location['key']}"
    return f"{url}?versionId={version}" if version else url
