"""The OTA update service role the OtaUpdates of a stack share when none is given.

Trusted by ``iot.amazonaws.com`` for this account and region only (the confused-deputy
conditions of AWS IoT's guide: aws:SourceAccount, and aws:SourceArn
``arn:<partition>:iot:<region>:<account>:*``), it may read exactly the firmware objects, create
exactly the jobs, create and delete the service's streams and use exactly the signing profiles
in use: tighter than the managed AmazonFreeRTOSOTAUpdate.
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from constructs import Construct

from ._cdk import StackSingleton
from .grants import IOT_SERVICE, PASSED_TO_IOT
from .policy import Grant, Resource, ScopedPolicy


class OtaUpdateServiceRole(StackSingleton):
    """The stack's shared service role; ``OtaUpdateServiceRole.of(scope)`` gets it."""

    ID = "OtaUpdateServiceRole"

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.role = iam.Role(
            self,
            "Resource",
            assumed_by=iam.ServicePrincipal(IOT_SERVICE).with_conditions(
                {
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:iot:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
                    },
                }
            ),
            description="AWS IoT OTA update service role (cdk-ota-update).",
        )
        self.policy = ScopedPolicy(self, "Policy", role=self.role)
        # The service passes this role on to the streams it creates (CreateStream's roleArn).
        self.policy.add(
            [
                Grant(("iam:GetRole",), (Resource.fixed(self.role.role_arn),)),
                Grant(("iam:PassRole",), (Resource.fixed(self.role.role_arn),), PASSED_TO_IOT),
            ]
        )
