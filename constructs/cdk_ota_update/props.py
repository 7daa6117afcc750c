"""The CreateOTAUpdate request as typed, frozen dataclasses named after the API's shapes.

Field names are the snake_case of the API's member names (botocore's ``xform_name``), so the
request is rendered by walking botocore's model: no second list of wire names lives here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore import xform_name
from botocore.model import Shape

from . import api
from ._cdk import attribute, iot_arn
from .errors import OtaUpdateValidationError

if TYPE_CHECKING:
    from aws_cdk import Duration
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_signer as signer
    from constructs import Construct


class Protocol(str, Enum):
    """How devices fetch the files (API ``Protocol``)."""

    MQTT = "MQTT"
    HTTP = "HTTP"


class TargetSelection(str, Enum):
    """Whether the job keeps running for new targets (API ``TargetSelection``)."""

    CONTINUOUS = "CONTINUOUS"
    SNAPSHOT = "SNAPSHOT"


class AwsJobAbortCriteriaFailureType(str, Enum):
    """Job failures that count towards an abort (API ``AwsJobAbortCriteriaFailureType``)."""

    FAILED = "FAILED"
    REJECTED = "REJECTED"
    TIMED_OUT = "TIMED_OUT"
    ALL = "ALL"


class AwsJobAbortCriteriaAbortAction(str, Enum):
    """What an abort does (API ``AwsJobAbortCriteriaAbortAction``)."""

    CANCEL = "CANCEL"


@dataclasses.dataclass(frozen=True)
class AwsJobRateIncreaseCriteria:
    """When the rollout rate increases: give exactly one of the two counts.

    :param number_of_notified_things: after this many things were notified (at least 1).
    :param number_of_succeeded_things: after this many job executions succeeded (at least 1).
    """

    number_of_notified_things: int | None = None
    number_of_succeeded_things: int | None = None


@dataclasses.dataclass(frozen=True)
class AwsJobExponentialRolloutRate:
    """An exponential rollout.

    :param base_rate_per_minute: things notified per minute at the start (1-1000).
    :param increment_factor: multiplier of the rate (1.1-5, at most one decimal).
    :param rate_increase_criteria: when the rate increases.
    """

    base_rate_per_minute: int
    increment_factor: float
    rate_increase_criteria: AwsJobRateIncreaseCriteria


@dataclasses.dataclass(frozen=True)
class AwsJobExecutionsRolloutConfig:
    """Rollout of the OTA update's job executions.

    :param maximum_per_minute: job executions started per minute (1-1000).
       Default: - the service's default rate.
    :param exponential_rate: an exponential increase of the rate. Default: - a constant rate.
    """

    maximum_per_minute: int | None = None
    exponential_rate: AwsJobExponentialRolloutRate | None = None


@dataclasses.dataclass(frozen=True)
class AwsJobPresignedUrlConfig:
    """Pre-signed URLs (HTTP).

    :param expires_in_sec: validity of the URLs in seconds (60-3600). Default: - 1800 seconds.
    """

    expires_in_sec: int | None = None


@dataclasses.dataclass(frozen=True)
class AwsJobAbortCriteria:
    """One abort criterion.

    :param failure_type: which failures count (FAILED, REJECTED, TIMED_OUT, ALL).
    :param action: what to do (CANCEL).
    :param threshold_percentage: failure percentage that aborts (at most 100, two decimals).
    :param min_number_of_executed_things: executions needed before an abort (at least 1).
    """

    failure_type: AwsJobAbortCriteriaFailureType | str
    action: AwsJobAbortCriteriaAbortAction | str
    threshold_percentage: float
    min_number_of_executed_things: int


@dataclasses.dataclass(frozen=True)
class AwsJobAbortConfig:
    """When the job aborts.

    :param abort_criteria_list: at least one criterion.
    """

    abort_criteria_list: Sequence[AwsJobAbortCriteria]


@dataclasses.dataclass(frozen=True)
class AwsJobTimeoutConfig:
    """How long a device may stay IN_PROGRESS.

    :param in_progress_timeout_in_minutes: 1-10080 minutes. Default: - no timeout.
    """

    in_progress_timeout_in_minutes: int | None = None


@dataclasses.dataclass(frozen=True)
class Stream:
    """A file of an existing IoT stream.

    :param stream_id: the stream's id (1-128 of ``[a-zA-Z0-9_-]``).
    :param file_id: the file's id in the stream (0-255).
    """

    stream_id: str | None = None
    file_id: int | None = None


@dataclasses.dataclass(frozen=True)
class S3Location:
    """An S3 object.

    :param bucket: the bucket name.
    :param key: the object key.
    :param version: the object version. Default: - the latest version.
    """

    bucket: str | None = None
    key: str | None = None
    version: str | None = None


@dataclasses.dataclass(frozen=True)
class FileLocation:
    """Where the firmware is: exactly one of ``stream`` or ``s3_location``.

    Prefer the factories: :meth:`from_bucket`, :meth:`from_asset`, :meth:`from_stream`.
    """

    stream: Stream | None = None
    s3_location: S3Location | None = None

    @staticmethod
    def from_bucket(bucket: s3.IBucket, key: str, *, version: str | None = None) -> FileLocation:
        """An object of ``bucket``; the service role may read exactly that object (version).

        A file AWS Signer signs (``CodeSigning.from_signing_profile`` or a
        ``start_signing_job_parameter``) must be in a versioned bucket: one the app declares
        without ``versioned=True`` fails at synth.
        """
        location = S3Location(attribute(bucket, "bucket_name"), key, version)
        return BucketFileLocation(s3_location=location, bucket=bucket)

    @staticmethod
    def from_stream(stream_id: str, file_id: int) -> FileLocation:
        """A file of an existing IoT stream."""
        return FileLocation(stream=Stream(stream_id, file_id))

    @staticmethod
    def from_asset(path: str) -> FileLocation:
        """A local firmware file, uploaded as a CDK file asset bound under the OtaUpdate.

        The service role may read exactly that object.
        """
        return AssetFileLocation(path=path)

    def bind(self, scope: Construct, id: str) -> FileLocation:
        """The location as the API sees it; factories that need a construct create it here."""
        return self


@dataclasses.dataclass(frozen=True)
class BucketFileLocation(FileLocation):
    """An object of a bucket (see :meth:`FileLocation.from_bucket`), which it keeps for the
    checks that need the bucket itself."""

    bucket: Any = dataclasses.field(default=None, compare=False, repr=False)

    def bind(self, scope: Construct, id: str) -> FileLocation:
        return FileLocation(s3_location=self.s3_location)


@dataclasses.dataclass(frozen=True)
class AssetFileLocation(FileLocation):
    """A local file uploaded as a CDK asset (see :meth:`FileLocation.from_asset`)."""

    path: str = ""

    def bind(self, scope: Construct, id: str) -> FileLocation:
        from aws_cdk import aws_s3_assets as s3_assets

        if Path(self.path).is_dir():
            raise OtaUpdateValidationError(
                f"{scope.node.path}/{id}: fileLocation = FileLocation.from_asset({self.path!r}) "
                "is invalid: it must be a file, not a directory (CDK would upload the directory "
                "as a zip archive, which devices would receive as firmware): give the path of "
                "the firmware image"
            )
        asset = s3_assets.Asset(scope, id, path=self.path)
        return FileLocation(s3_location=S3Location(asset.s3_bucket_name, asset.s3_object_key))


@dataclasses.dataclass(frozen=True)
class SigningProfileParameter:
    """The code-signing profile the service creates when it does not exist.

    :param certificate_arn: the signing certificate's ARN (ACM).
    :param platform: the hardware platform of the devices.
    :param certificate_path_on_device: where the device keeps the certificate.
    """

    certificate_arn: str | None = None
    platform: str | None = None
    certificate_path_on_device: str | None = None


@dataclasses.dataclass(frozen=True)
class S3Destination:
    """Where signed files are written.

    :param bucket: the bucket name.
    :param prefix: the key prefix. Default: - the bucket's root.
    """

    bucket: str | None = None
    prefix: str | None = None


@dataclasses.dataclass(frozen=True)
class Destination:
    """The destination of signed files."""

    s3_destination: S3Destination | None = None


@dataclasses.dataclass(frozen=True)
class StartSigningJobParameter:
    """A signing job the service starts with AWS Signer."""

    signing_profile_parameter: SigningProfileParameter | None = None
    signing_profile_name: str | None = None
    destination: Destination | None = None


@dataclasses.dataclass(frozen=True)
class CodeSigningSignature:
    """A signature made outside AWS.

    :param inline_document: the signature's bytes (sent base64-encoded).
    """

    inline_document: bytes | None = None


@dataclasses.dataclass(frozen=True)
class CodeSigningCertificateChain:
    """The certificate chain of a custom signature.

    :param certificate_name: the certificate's name.
    :param inline_document: the base64-encoded certificate chain.
    """

    certificate_name: str | None = None
    inline_document: str | None = None


@dataclasses.dataclass(frozen=True)
class CustomCodeSigning:
    """A signature made outside AWS (for example SHA256 with ECDSA)."""

    signature: CodeSigningSignature | None = None
    certificate_chain: CodeSigningCertificateChain | None = None
    hash_algorithm: str | None = None
    signature_algorithm: str | None = None


@dataclasses.dataclass(frozen=True)
class CodeSigning:
    """How the file is signed: exactly one of the three methods."""

    aws_signer_job_id: str | None = None
    start_signing_job_parameter: StartSigningJobParameter | None = None
    custom_code_signing: CustomCodeSigning | None = None

    @staticmethod
    def from_signing_profile(
        profile: signer.ISigningProfile,
        *,
        destination: s3.IBucket,
        prefix: str | None = None,
        signing_profile_parameter: SigningProfileParameter | None = None,
    ) -> CodeSigning:
        """Sign with an AWS Signer profile, writing signed files to ``destination``.

        The service role may use exactly that profile and write under that prefix.
        """
        return ProfileCodeSigning(
            start_signing_job_parameter=StartSigningJobParameter(
                signing_profile_parameter=signing_profile_parameter,
                signing_profile_name=attribute(profile, "signing_profile_name"),
                destination=Destination(
                    S3Destination(attribute(destination, "bucket_name"), prefix)
                ),
            ),
            profile=profile,
        )

    def bind(self, scope: Construct, field: str) -> CodeSigning:
        """The signing as the API sees it; factories that need a check of the app do it here
        (``field``: where it is in the request, for the error)."""
        return self


_IMPORT_THE_PROFILE = (
    "create a profile of a FreeRTOS or IoT platform (AmazonFreeRTOS-Default, "
    "AWSIoTDeviceManagement-SHA256-ECDSA...) outside CloudFormation, with its signing certificate, "
    "and import it with signer.SigningProfile.from_signing_profile_attributes(...) (docs/deploy.md)"
)


@dataclasses.dataclass(frozen=True)
class ProfileCodeSigning(CodeSigning):
    """Signing with a Signer profile (see :meth:`CodeSigning.from_signing_profile`): a profile
    the app itself declares must be one that can sign firmware and that CloudFormation can
    create, which no platform is."""

    profile: Any = dataclasses.field(default=None, compare=False, repr=False)

    def bind(self, scope: Construct, field: str) -> CodeSigning:
        from aws_cdk import Token

        declared = getattr(self.profile.node, "default_child", None)
        platform = getattr(declared, "platform_id", None)
        if isinstance(platform, str) and not Token.is_unresolved(platform):
            made_by = "CloudFormation cannot create it (AWS::Signer::SigningProfile accepts only "
            made_by += f"{' and '.join(api.CLOUDFORMATION_SIGNER_PLATFORMS)})"
            if not api.signs_firmware(platform):
                made_by = api.NOT_FIRMWARE
            raise OtaUpdateValidationError(
                f"{scope.node.path}: {field} = CodeSigning.from_signing_profile("
                f"{self.profile.node.path}) is invalid: the profile's platform is {platform} and "
                f"{made_by}: {_IMPORT_THE_PROFILE}"
            )
        return CodeSigning(
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(CodeSigning)}
        )


@dataclasses.dataclass(frozen=True)
class OtaUpdateFile:
    """One file of the OTA update (API ``OTAUpdateFile``).

    :param file_name: the file's name (on the device). Default: - none.
    :param file_type: an integer (0-255) devices use to identify the file. Default: - none.
    :param file_version: the file's version. Default: - none.
    :param file_location: where the file is (required).
    :param code_signing: how it is signed. Default: - not signed.
    :param attributes: name/value pairs for the job document (values up to 4096).
    """

    file_location: FileLocation
    file_name: str | None = None
    file_type: int | None = None
    file_version: str | None = None
    code_signing: CodeSigning | None = None
    attributes: Mapping[str, str] | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class RolloutGate:
    """Make the deploy wait for the rollout (``OtaUpdate(rollout_gate=...)``): once the OTA update
    is CREATE_COMPLETE, the deploy waits until its job's executions pass the gate, or fails, and
    CloudFormation rolls back (the new OTA update deleted with its job; in a replacement the
    previous one keeps rolling out). Percentages are of all the job's executions, as
    ``cdk-ota-update status`` counts them. Give at least one of the first three.

    :param min_succeeded_percentage: the gate passes once at least this percentage (0-100) of the
        job's executions SUCCEEDED and the job has rolled out to every target.
        Default: - no success percentage: the gate passes when the job COMPLETED.
    :param max_failed_percentage: the gate fails as soon as more than this percentage (0-100) of
        the job's executions FAILED, or REJECTED, or TIMED_OUT (each status on its own).
        Default: - no failure percentage: the gate fails only if the job is cancelled (its abort
        configuration, or by hand), ends without passing, or times out.
    :param min_executions: the gate passes only once the job has at least this many executions
        (0 or more). Default: - no minimum.
    :param timeout: how long the deploy waits for the gate after CREATE_COMPLETE, in whole
        seconds; past it the gate fails with the figures. It must fit CloudFormation's limit for
        custom resources (one hour) beside the creation's wait: at most 34 minutes with the
        provider's default function timeout (synth says the bound). Default: 20 minutes.
    """

    min_succeeded_percentage: float | None = None
    max_failed_percentage: float | None = None
    min_executions: int | None = None
    timeout: Duration | None = None


class OtaTarget:
    """Target ARNs in the stack's account and region."""

    @staticmethod
    def thing(name: str) -> str:
        return iot_arn(f"thing/{name}")

    @staticmethod
    def thing_group(name: str) -> str:
        return iot_arn(f"thinggroup/{name}")


def render(value: Any, shape: Shape) -> Any:
    """``value`` (dataclasses, sequences, mappings, enums) as the API's dict, by the model.

    A value of the wrong kind (a dataclass of another shape, a string where a list belongs) is
    left as it is, for :func:`cdk_ota_update.api.validate` to name it.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if not _mirrors(type(value), shape):
            return value
        return render_structure(
            {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, shape
        )
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [render(item, shape.member) for item in value]
    if isinstance(value, Mapping) and shape.type_name == "map":
        return {key: render(item, shape.value) for key, item in value.items()}
    return value


def _mirrors(cls: type, shape: Shape) -> bool:
    """Whether the dataclass ``cls`` is the one of the structure ``shape``."""
    if shape.type_name != "structure":
        return False
    return {f.name for f in dataclasses.fields(cls)} <= {xform_name(m) for m in shape.members}


def render_structure(values: Mapping[str, Any], shape: Shape) -> dict[str, Any]:
    """A structure from its members' snake_case names (``None`` members left out)."""
    rendered = {}
    for member, member_shape in shape.members.items():
        item = values.get(xform_name(member))
        if item is not None:
            rendered[member] = render(item, member_shape)
    return rendered
