"""The names of the AWS IoT Jobs metrics of a job, and of the counts DescribeJob reports: one
table each, read by the constructs (:mod:`cdk_ota_update.metrics`), the emulation
(:mod:`cdk_ota_update.testing`) and ``cdk-ota-update status`` (:mod:`cdk_ota_update.rollout`), so
it imports nothing (no aws_cdk).

AWS IoT publishes, in the namespace ``AWS/IoT`` with the dimension ``JobId``, two metrics per
job execution status (AWS IoT Core Developer Guide, "AWS IoT metrics and dimensions", section
"Jobs metrics": https://docs.aws.amazon.com/iot/latest/developerguide/metrics_dimensions.html):

- ``<Status>JobExecutionCount``: the executions whose status changed to it within the period;
- ``<Status>JobExecutionTotalCount``: the job's executions in that status.

AWS spells SUCCEEDED's ``Succeded`` and publishes no metric for TIMED_OUT executions.
"""

from __future__ import annotations

from collections.abc import Mapping

NAMESPACE = "AWS/IoT"
JOB_ID_DIMENSION = "JobId"

# Each job execution status and its two metrics: (changed to it within the period, total of the
# job in it). AWS's own spelling: "Succeded".
JOB_METRICS: Mapping[str, tuple[str, str]] = {
    "QUEUED": ("QueuedJobExecutionCount", "QueuedJobExecutionTotalCount"),
    "IN_PROGRESS": ("InProgressJobExecutionCount", "InProgressJobExecutionTotalCount"),
    "SUCCEEDED": ("SuccededJobExecutionCount", "SuccededJobExecutionTotalCount"),
    "FAILED": ("FailedJobExecutionCount", "FailedJobExecutionTotalCount"),
    "REJECTED": ("RejectedJobExecutionCount", "RejectedJobExecutionTotalCount"),
    "CANCELED": ("CanceledJobExecutionCount", "CanceledJobExecutionTotalCount"),
    "REMOVED": ("RemovedJobExecutionCount", "RemovedJobExecutionTotalCount"),
}

# Each job execution status and the member of DescribeJob's jobProcessDetails that counts it (IoT
# API Reference, JobProcessDetails), in the order an execution goes through them.
PROCESS_COUNTS: Mapping[str, str] = {
    "QUEUED": "numberOfQueuedThings",
    "IN_PROGRESS": "numberOfInProgressThings",
    "SUCCEEDED": "numberOfSucceededThings",
    "FAILED": "numberOfFailedThings",
    "REJECTED": "numberOfRejectedThings",
    "TIMED_OUT": "numberOfTimedOutThings",
    "CANCELED": "numberOfCanceledThings",
    "REMOVED": "numberOfRemovedThings",
}
