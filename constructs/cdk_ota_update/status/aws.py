"""What ``cdk-ota-update status`` reads from AWS, with botocore alone: the OTA updates of
CloudFormation stacks (ListStackResources), each OTA update (GetOTAUpdate) and its job
(DescribeJob), every call paced to stay well within IoT's quotas.

Calls: ListStackResources once per stack (each page) at the start; then, per poll and per OTA update
still rolling out, one DescribeJob, and a GetOTAUpdate before it until the OTA update is
CREATE_COMPLETE with its job (an OTA update is immutable after that). A rollout that ended (its job
COMPLETED, CANCELED or being deleted; the OTA update or its job not found, not created) is not read
again. Each operation is called at most :data:`CALLS_PER_SECOND` times a second.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from cdk_ota_update.rollout import CREATING, Rollout

# At most this many calls a second of each operation: a fifth of the default quotas of
# GetOTAUpdate and DescribeJob (10 a second each, per account and Region), leaving the rest to
# the provider's handlers (which keep GetOTAUpdate under 5) and to everything else.
CALLS_PER_SECOND = 2.0
RESOURCE_TYPE = "Custom::OtaUpdate"
NOT_FOUND = "ResourceNotFoundException"


class StatusError(Exception):
    """The rollouts cannot be read: no credentials or Region, AWS unreachable, a stack or call
    refused (exit status 2)."""


@dataclass(frozen=True)
class Target:
    """An OTA update to follow, and the stack resource it was found as (if any)."""

    ota_update_id: str
    stack: str | None = None
    logical_id: str | None = None


@dataclass
class Pacer:
    """Spaces the calls of each operation at least ``1 / per_second`` seconds apart."""

    clock: Callable[[], float]
    sleep: Callable[[float], None]
    per_second: float = CALLS_PER_SECOND
    last: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def __call__(self, operation: str) -> None:
        previous = self.last.get(operation)
        if previous is not None:
            wait = previous + 1 / self.per_second - self.clock()
            if wait > 0:
                self.sleep(wait)
        self.last[operation] = self.clock()
        self.calls[operation] = self.calls.get(operation, 0) + 1


@contextmanager
def reading(what: str) -> Iterator[None]:
    """botocore's errors while reading ``what`` as a :class:`StatusError` saying so."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        yield
    except NoCredentialsError as error:
        raise StatusError(f"{what}: {error} (configure credentials, or give --profile)") from error
    except NoRegionError as error:
        raise StatusError(f"{what}: {error} (give --region or set AWS_REGION)") from error
    except (BotoCoreError, ClientError) as error:
        raise StatusError(f"{what}: {error}") from error


def _not_found(error: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(error, ClientError) and error.response["Error"]["Code"] == NOT_FOUND


class Aws:
    """The IoT and CloudFormation clients of one account and Region, paced."""

    def __init__(self, iot: Any, cloudformation: Callable[[], Any], pace: Pacer) -> None:
        self.iot = iot
        self._cloudformation = cloudformation
        self.pace = pace

    @classmethod
    def connect(
        cls, *, region: str | None, profile: str | None, endpoint_url: str | None, pace: Pacer
    ) -> Aws:
        """Clients of a botocore session (``profile``'s), ``endpoint_url`` for both services."""
        import botocore.session
        from botocore.config import Config

        config = Config(retries={"mode": "standard"}, user_agent_extra="cdk-ota-update-status")
        with reading("AWS"):
            session = botocore.session.Session(profile=profile)
            options = {"region_name": region, "endpoint_url": endpoint_url, "config": config}
            iot = session.create_client("iot", **options)
        return cls(iot, lambda: session.create_client("cloudformation", **options), pace)

    def stack_targets(self, stack: str) -> list[Target]:
        """The ``Custom::OtaUpdate`` resources of ``stack`` (its name or id), by their physical id
        (the otaUpdateId), but those deleted or never given one."""
        client = self._cloudformation()
        resources: list[dict[str, Any]] = []
        token: dict[str, str] = {}
        with reading(f"stack {stack}"):
            while True:
                self.pace("ListStackResources")
                page = client.list_stack_resources(StackName=stack, **token)
                resources += page["StackResourceSummaries"]
                if not page.get("NextToken"):
                    break
                token = {"NextToken": page["NextToken"]}
        return [target for resource in resources if (target := _target(stack, resource))]

    def read(self, target: Target, previous: Rollout | None = None) -> Rollout:
        """The rollout of ``target`` now: ``previous`` itself once it ended, only its job once
        the OTA update is CREATE_COMPLETE."""
        if previous is not None and previous.ended:
            return previous
        if (
            previous is not None
            and previous.job_id
            and previous.ota_update_status == "CREATE_COMPLETE"
        ):
            return previous.with_job(self._job(previous.job_id))
        rollout = self._ota_update(target)
        return rollout.with_job(self._job(rollout.job_id)) if rollout.job_id else rollout

    def _ota_update(self, target: Target) -> Rollout:
        found = Rollout(target.ota_update_id, target.stack, target.logical_id)
        answer = self._call(
            "GetOTAUpdate", self.iot.get_ota_update, otaUpdateId=found.ota_update_id
        )
        if answer is None:
            return replace(found, problem="no such OTA update")
        info = answer["otaUpdateInfo"]
        status, job_id = info.get("otaUpdateStatus"), info.get("awsIotJobId")
        problem = _problem(status, job_id, info.get("errorInfo") or {})
        return replace(found, ota_update_status=status, job_id=job_id, problem=problem)

    def _job(self, job_id: str | None) -> dict[str, Any] | None:
        answer = self._call("DescribeJob", self.iot.describe_job, jobId=job_id)
        return None if answer is None else dict(answer["job"])

    def _call(self, operation: str, method: Callable[..., Any], **request: Any) -> Any:
        """``method``'s answer, None when what it reads does not exist."""
        self.pace(operation)
        with reading(f"{operation} {next(iter(request.values()))}"):
            try:
                return method(**request)
            except Exception as error:
                if _not_found(error):
                    return None
                raise


def _target(stack: str, resource: dict[str, Any]) -> Target | None:
    """The OTA update of a stack resource (None: another type, deleted or without an id)."""
    if (
        resource["ResourceType"] != RESOURCE_TYPE
        or resource.get("ResourceStatus") == "DELETE_COMPLETE"
    ):
        return None
    physical_id = resource.get("PhysicalResourceId")
    return Target(physical_id, stack, resource["LogicalResourceId"]) if physical_id else None


def _problem(status: str | None, job_id: str | None, error: dict[str, Any]) -> str | None:
    """Why an OTA update has no rollout to follow (None: it has one, or will have)."""
    if status == "CREATE_FAILED":
        return f"the OTA update is CREATE_FAILED: {error.get('code')}: {error.get('message')}"
    if job_id is None and status not in CREATING:
        return f"the OTA update is {status} and has no job"
    return None
