"""The ``OtaUpdate`` construct: an AWS IoT OTA update (iot:CreateOTAUpdate) as a CDK resource."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import jsii
from aws_cdk import (
    CustomResource,
    ITaggable,
    Lazy,
    RemovalPolicy,
    Stack,
    TagManager,
    TagType,
    Token,
)
from aws_cdk import aws_iam as iam
from constructs import Construct

from . import api
from ._cdk import Producer, Validation
from .grants import provider_grants, service_role_grants
from .props import (
    AwsJobAbortConfig,
    AwsJobExecutionsRolloutConfig,
    AwsJobPresignedUrlConfig,
    AwsJobTimeoutConfig,
    OtaUpdateFile,
    Protocol,
    TargetSelection,
    render_structure,
)
from .provider import SERVICE_TIMEOUT, OtaUpdateProvider
from .role import service_role, warn_immutable

_DIGEST_LENGTH = 16


class OtaUpdateValidationError(ValueError):
    """Props that break the CreateOTAUpdate constraints, each named with its construct path."""


@jsii.implements(ITaggable)
class OtaUpdate(Construct):
    """An AWS IoT OTA update, created on deploy and deleted on teardown.

    Backed by ``Custom::OtaUpdate`` (one crhelper Lambda per stack). The request is validated at
    synth against the API's constraints; the deploy waits until the service reports
    CREATE_COMPLETE and fails with the service's own error otherwise. OTA updates are
    immutable: a changed request replaces the OTA update (a new derived ``otaUpdateId``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        targets: Sequence[str],
        files: Sequence[OtaUpdateFile],
        ota_update_id: str | None = None,
        description: str | None = None,
        protocols: Sequence[Protocol | str] | None = None,
        target_selection: TargetSelection | str | None = None,
        aws_job_executions_rollout_config: AwsJobExecutionsRolloutConfig | None = None,
        aws_job_presigned_url_config: AwsJobPresignedUrlConfig | None = None,
        aws_job_abort_config: AwsJobAbortConfig | None = None,
        aws_job_timeout_config: AwsJobTimeoutConfig | None = None,
        role: iam.IRole | None = None,
        additional_parameters: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        delete_stream: bool = True,
        force_delete_aws_job: bool = True,
        removal_policy: RemovalPolicy | None = None,
    ) -> None:
        """
        :param targets: thing / thing-group ARNs that receive the update (``OtaTarget`` helps).
        :param files: the files to send (at least one).
        :param ota_update_id: the OTA update's id (1-56 of ``[a-zA-Z0-9_-]``; the service's job is
            ``AFR_OTA-<id>``, at most 64). A fixed id must change whenever the request changes.
            Default: - derived from the construct path and the request: deterministic, and new
            (a replacement) whenever the request changes.
        :param description: Default: - no description.
        :param protocols: MQTT and/or HTTP. Default: - the service's default (MQTT).
        :param target_selection: CONTINUOUS or SNAPSHOT. Default: - the service's (SNAPSHOT).
        :param aws_job_executions_rollout_config: Default: - the service's rollout.
        :param aws_job_presigned_url_config: Default: - URLs valid for 1800 seconds.
        :param aws_job_abort_config: Default: - the job never aborts.
        :param aws_job_timeout_config: Default: - executions never time out.
        :param role: the service role (roleArn); it gets the statements this OTA update needs
            (none for an imported, immutable role). Default: - a least-privilege role shared by
            the stack's OtaUpdates, allowed exactly the objects, jobs and profiles in use.
        :param additional_parameters: Default: - none.
        :param tags: tags of the OTA update; ``Tags.of(...)`` adds to them. Default: - none.
        :param delete_stream: on teardown, delete the stream the service created for the update
            (DeleteOTAUpdate's deleteStream). Default: true.
        :param force_delete_aws_job: on teardown (stack deletion, or replacement by a changed
            request), delete the job even while executions are IN_PROGRESS, cancelling them
            (forceDeleteAWSJob). ``False`` makes the delete fail instead, saying so, while the
            job runs: a CONTINUOUS job always runs, so the stack could not be deleted and a
            replaced OTA update would keep rolling out. Default: true.
        :param removal_policy: RETAIN keeps the OTA update when the resource leaves the stack.
            Default: RemovalPolicy.DESTROY.
        """
        super().__init__(scope, id)
        if removal_policy not in (None, RemovalPolicy.DESTROY, RemovalPolicy.RETAIN):
            raise OtaUpdateValidationError(
                f"{self.node.path}: removal_policy = {removal_policy} is invalid: it must be "
                "RemovalPolicy.DESTROY or RemovalPolicy.RETAIN (an OTA update has no snapshot)"
            )
        self._tags = TagManager(TagType.KEY_VALUE, api.RESOURCE_TYPE, dict(tags or {}))
        provider = OtaUpdateProvider.of(self)
        service = service_role(self, role)
        role_arn = service.role_arn
        bound_files = [
            _bind_file(self, index, file) for index, file in enumerate(files)
        ]
        request = render_structure(
            dict(
                ota_update_id=ota_update_id,
                description=description,
                targets=list(targets),
                protocols=list(protocols) if protocols is not None else None,
                target_selection=target_selection,
                aws_job_executions_rollout_config=aws_job_executions_rollout_config,
                aws_job_presigned_url_config=aws_job_presigned_url_config,
                aws_job_abort_config=aws_job_abort_config,
                aws_job_timeout_config=aws_job_timeout_config,
                files=bound_files,
                role_arn=role_arn,
                additional_parameters=additional_parameters,
                tags=_tag_list(tags) if tags else None,
            ),
            api.create_request_shape(),
        )
        if ota_update_id is None:
            derived = Lazy.string(Producer(lambda: self._derived_id(request)))
            request = {api.OTA_UPDATE_ID: derived, **request}
        _raise_for(self, api.validate(request, skip=_unresolved))
        # Tags.of(...) adds tags after the constructor: check the final set at synth.
        self.node.add_validation(Validation(self._check_tags))

        request[api.TAGS] = Lazy.any(Producer(self._rendered_tags), omit_empty_array=True)
        if service.policy is not None:
            service.policy.add(service_role_grants(request))
        else:
            warn_immutable(self, role, service_role_grants(request))  # type: ignore[arg-type]
        provider.policy.add(provider_grants(request, service.arn))

        self._resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type=api.RESOURCE_TYPE,
            properties={
                **api.to_cloudformation(request),
                api.DELETE_STREAM: delete_stream,
                api.FORCE_DELETE_AWS_JOB: force_delete_aws_job,
            },
            removal_policy=removal_policy or RemovalPolicy.DESTROY,
            service_timeout=SERVICE_TIMEOUT,
        )
        # The grants exist before the create and until after the delete.
        self._resource.node.add_dependency(provider.policy, *service.dependencies)

    @property
    def tags(self) -> TagManager:
        """The OTA update's tags (``Tags.of(ota).add(k, v)`` works too)."""
        return self._tags

    @property
    def ota_update_id(self) -> str:
        """The OTA update's id (the resource's physical id)."""
        return self._resource.get_att_string(api.ATTR_OTA_UPDATE_ID)

    @property
    def ota_update_arn(self) -> str:
        return self._resource.get_att_string(api.ATTR_OTA_UPDATE_ARN)

    @property
    def aws_iot_job_id(self) -> str:
        """The IoT job the service created (``AFR_OTA-<otaUpdateId>``)."""
        return self._resource.get_att_string(api.ATTR_AWS_IOT_JOB_ID)

    @property
    def aws_iot_job_arn(self) -> str:
        return self._resource.get_att_string(api.ATTR_AWS_IOT_JOB_ARN)

    def _rendered_tags(self) -> Any:
        return self._tags.render_tags() or None

    def _check_tags(self) -> list[str]:
        tags = self._rendered_tags() or []
        return [str(v) for v in api.validate_member(api.TAGS, tags, skip=_unresolved)]

    def _derived_id(self, request: Mapping[str, Any]) -> str:
        """``<construct id>-<digest of path and request>``: same app, same id; new request, new
        id."""
        stack = Stack.of(self)
        body = {k: v for k, v in request.items() if k != api.OTA_UPDATE_ID}
        digest = hashlib.sha256(
            json.dumps([self.node.path, stack.resolve(body)], sort_keys=True).encode()
        ).hexdigest()[:_DIGEST_LENGTH]
        slug = re.sub(r"[^a-zA-Z0-9_-]", "", self.node.id)
        return f"{slug[: api.OTA_UPDATE_ID_MAX_LENGTH - _DIGEST_LENGTH - 1]}-{digest}".lstrip("-")


def _bind_file(scope: Construct, index: int, file: OtaUpdateFile) -> OtaUpdateFile:
    return dataclasses.replace(file, file_location=file.file_location.bind(scope, f"File{index}"))


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{api.TAG_KEY: k, api.TAG_VALUE: v} for k, v in tags.items()]


def _unresolved(value: Any) -> bool:
    """A token CDK resolves at deploy time (strings, numbers and lists of them)."""
    if isinstance(value, list):
        return all(isinstance(v, str) for v in value) and Token.is_unresolved(value)
    return isinstance(value, (str, int, float)) and Token.is_unresolved(value)


def _raise_for(scope: Construct, violations: Sequence[api.Violation]) -> None:
    if violations:
        raise OtaUpdateValidationError(
            "\n".join(f"{scope.node.path}: {violation}" for violation in violations)
        )

