"""The emulated AWS of a rehearsal: a ThreadedMotoServer in this process with the OTA update
emulation installed and strict IAM on, and boto3 clients of any account and Region.

moto picks a request's account by its access key: each account gets an IAM user and access key
of its own (made in moto's backend), which this process's clients and the handler use.
"""

from __future__ import annotations

import json
import logging
import threading
from functools import cache
from typing import Any

from .assembly import RehearsalError


class Emulation:
    """moto, serving over HTTP on 127.0.0.1; :meth:`stop` ends it."""

    USER = "cdk-ota-update-rehearsal"

    def __init__(self) -> None:
        try:
            import boto3
            from botocore.config import Config
            from moto.server import ThreadedMotoServer

            from cdk_ota_update import testing
        except ImportError as missing:  # moto or boto3 missing, or a moto it cannot work with
            raise RehearsalError(
                f"the rehearsal needs moto and boto3 ({missing}); "
                'pip install "cdk-ota-update[testing]"'
            ) from None

        testing.install()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        import requests

        requests.post(f"{self.endpoint}/moto-api/reset", timeout=30)  # also resets the controls
        testing.set_strict_iam(True)
        self._session = boto3.Session()
        self._config = Config(
            retries={"mode": "standard", "total_max_attempts": 3}, max_pool_connections=32
        )
        self._keys: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()  # boto3 sessions do not make clients thread-safely

    def credentials(self, account: str) -> tuple[str, str]:
        """The access key id and secret moto maps to ``account``."""
        if account not in self._keys:
            from moto.iam.models import iam_backends

            backend = iam_backends[account]["aws"]
            backend.create_user("us-east-1", self.USER)
            key = backend.create_access_key(self.USER)
            self._keys[account] = (key.access_key_id, key.secret_access_key)
        return self._keys[account]

    def client(self, service: str, account: str, region: str) -> Any:
        with self._lock:
            key, secret = self.credentials(account)
            return _client(
                self._session, service, account, region, self.endpoint, key, secret, self._config
            )

    def stop(self) -> None:
        from cdk_ota_update import testing

        testing.reset_controls()
        self._server.stop()


@cache
def _client(
    session: Any,
    service: str,
    account: str,
    region: str,
    endpoint: str,
    key: str,
    secret: str,
    config: Any,
) -> Any:
    del account  # part of the cache key
    return session.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=config,
    )


def load_aws_managed_policy(account: str, arn: str) -> bool:
    """Make the AWS managed policy ``arn`` attachable in ``account`` (moto loads none by
    default); whether moto knows it."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[account]["aws"]
    if arn in backend.managed_policies:
        return True
    name = arn.rsplit("/", 1)[-1]
    data = json.loads(aws_managed_policies_data).get(name)
    if data is None:
        return False
    policy = AWSManagedPolicy.from_data(name, account, "us-east-1", data)
    backend.managed_policies[policy.arn] = policy
    return policy.arn == arn


def things_targeted(account: str, region: str, group_arn: str) -> int:
    """How many things a job of the thing group ``group_arn`` runs on: its own and its child
    groups', as the emulation gives executions."""
    from moto.iot.models import iot_backends

    from cdk_ota_update.testing.backend import target_things

    return len(target_things(iot_backends[account][region], [group_arn]))
