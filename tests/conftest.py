"""Shared pytest configuration."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from emulation_support import FAKE_CREDENTIALS, Aws, World, make_world
from harness import (
    CloudFormation,
    InProcess,
    LambdaService,
    ResponseServer,
    StackService,
    runtime_env,
)

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Python's cyclic garbage collector, less often: the tests build hundreds of CDK apps whose
    jsii proxies and construct objects stay on the heap, and each full collection walks all of it.
    With CPython's default thresholds (700, 10, 10) the fast loop spends ~4 s in collections;
    with these, well under one (CONTRIBUTING.md, "The loops")."""
    gc.set_threshold(50_000, 20, 100)


# jsii runs aws-cdk-lib on Node.js: prefer the supported Node the project pins (package.json).
_NODE_BIN = ROOT / "node_modules" / ".bin"
if (_NODE_BIN / "node").exists():
    os.environ["PATH"] = f"{_NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"


# ---------------------------------------------------------------------------------------------
# The custom resource handler's tests (test_handler*.py, test_end_to_end.py): the emulated AWS
# over HTTP, CloudFormation's HTTPS ResponseURL and its DescribeStackResource, and the lifecycle
# harness (tests/harness.py).
# ---------------------------------------------------------------------------------------------
# Short bounds, so that faults fail in seconds (the handler reads its settings at each invocation).
FAST_RETRIES = {"OTA_RETRY_SECONDS": "3"}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[Aws]:
    """A ThreadedMotoServer with the OTA update emulation, for the whole session."""
    from moto.server import ThreadedMotoServer

    from cdk_ota_update import testing

    testing.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield Aws(endpoint=f"http://{host}:{port}")
    server.stop()


@pytest.fixture
def emulated_in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """The emulation in moto in-process (``mock_aws()``), with the credentials moto needs in the
    environment; the test controls reset after."""
    from moto import mock_aws

    from cdk_ota_update import testing

    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    testing.install()
    with mock_aws():
        yield Aws(endpoint=None)
    testing.reset_controls()


@pytest.fixture
def emulated_server(moto_server: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """The session's ThreadedMotoServer, reset, with the credentials moto needs in the
    environment; the test controls reset after."""
    from cdk_ota_update import testing

    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    moto_server.reset()
    yield moto_server
    testing.reset_controls()


@pytest.fixture(scope="session")
def trusted_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    """A throwaway certificate authority, and its certificate's file (for SSL_CERT_FILE)."""
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


@pytest.fixture(scope="session")
def response_server(trusted_ca: tuple[trustme.CA, Path]) -> Iterator[ResponseServer]:
    server = ResponseServer(trusted_ca[0])
    yield server
    server.close()


@pytest.fixture(scope="session")
def lambda_service() -> Iterator[LambdaService]:
    """Lambda's Invoke API, for the handler's hand-overs to itself."""
    service = LambdaService()
    yield service
    service.close()


@pytest.fixture(scope="session")
def stack_service() -> Iterator[StackService]:
    """CloudFormation's DescribeStackResource, answering from the statuses the harness records."""
    service = StackService()
    yield service
    service.close()


@pytest.fixture
def lambda_env(
    moto_server: Aws,
    trusted_ca: tuple[trustme.CA, Path],
    lambda_service: LambdaService,
    stack_service: StackService,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, str]]:
    """A fresh emulated AWS; this process's boto3 (and the handler in it) pointed at it, Lambda's
    Invoke at :class:`LambdaService`, CloudFormation's API at :class:`StackService`."""
    from cdk_ota_update import testing

    assert moto_server.endpoint
    lambda_service.reset()
    stack_service.reset()
    env = runtime_env(
        moto_server.endpoint,
        trusted_ca[1],
        AWS_ENDPOINT_URL_LAMBDA=lambda_service.url,
        AWS_ENDPOINT_URL_CLOUDFORMATION=stack_service.url,
        **FAST_RETRIES,
    )
    for name, value in env.items():
        if name != "PATH":
            monkeypatch.setenv(name, value)
    moto_server.reset()
    yield env
    testing.reset_controls()


@pytest.fixture
def cloudformation(
    lambda_env: dict[str, str],
    response_server: ResponseServer,
    lambda_service: LambdaService,
    stack_service: StackService,
) -> CloudFormation:
    """The harness, invoking ``lambda_handler/index.py`` in this process, recording the resource
    statuses CloudFormation shows in :class:`StackService`."""
    import index  # its clients are built on first use: after lambda_env set the endpoints

    return CloudFormation(
        InProcess(index.handler),
        response_server,
        lambda_service=lambda_service,
        stack_service=stack_service,
    )


@pytest.fixture
def world(cloudformation: CloudFormation, moto_server: Aws) -> World:
    """A role, a firmware object and a fleet in the emulated AWS the handler talks to."""
    return make_world(moto_server)
