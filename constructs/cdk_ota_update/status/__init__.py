"""``cdk-ota-update status``: the rollouts of deployed OTA updates, from a terminal or a pipeline.

For the ``Custom::OtaUpdate`` resources of deployed stacks (``--stack``, through CloudFormation's
ListStackResources) and OTA updates named by id (``--ota-update-id``): each OTA update's status
(GetOTAUpdate), its job's status and executions per status (DescribeJob), and the share that
succeeded, as a table with progress bars on a terminal (``pip install "cdk-ota-update[status]"``
brings ``rich``; without it, or in a pipe, the same table in plain text) or a JSON document
(``--json``). ``--watch`` polls until the rollouts end; ``--until succeeded>=95%,failed>2%``
decides the exit status (:mod:`cdk_ota_update.rollout` states the rules); ``--endpoint-url`` points
it at the emulation's server. Needs botocore only (a dependency of the package), not moto.

Use it as a console script or as :func:`main` (``main(["--ota-update-id", "release-2"])``), with an
:class:`Environment` to give it another output or clock.
"""

from __future__ import annotations

from .aws import CALLS_PER_SECOND, StatusError, Target
from .cli import Environment, main

__all__ = ["CALLS_PER_SECOND", "Environment", "StatusError", "Target", "main"]
