"""Hosting a custom resource handler as CloudFormation and Lambda would, on this machine.

:class:`ResponseServer` collects the answers a handler PUTs to its ResponseURLs, over HTTPS on
loopback (with a throwaway certificate authority the handler trusts through ``SSL_CERT_FILE``);
:class:`LambdaProcess` runs ``index.handler`` of a Lambda asset folder in a separate Python
process whose path holds only that folder and boto3 (``lambda_runtime.py``), as AWS Lambda's
Python runtime does. Used by the rehearsal and by the project's own handler tests.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit

RUNTIME = Path(__file__).with_name("lambda_runtime.py")
RETURNED = "returned"  # what lambda_runtime.py prints when an invocation returns
URL_SECRET = "X-Amz-Signature=0123456789abcdef"  # stands for the secret part of a ResponseURL

Event = dict[str, Any]


def stringify(value: Any) -> Any:
    """``value`` as CloudFormation hands properties to a custom resource: every scalar a string."""
    if isinstance(value, Mapping):
        return {k: stringify(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [stringify(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class CertificateAuthority:
    """A throwaway CA (trustme): its certificate in ``cert_file``, for ``SSL_CERT_FILE``."""

    def __init__(self, directory: Path) -> None:
        import trustme

        self.ca = trustme.CA()
        directory.mkdir(parents=True, exist_ok=True)
        self.cert_file = directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.cert_file))


class ResponseServer:
    """Collects the answers PUT to ResponseURLs, over HTTPS on 127.0.0.1."""

    def __init__(self, ca: Any) -> None:
        """``ca``: a ``trustme.CA`` the handler trusts."""
        self._answers: dict[str, list[tuple[float, dict[str, Any]]]] = {}
        self._refusals: dict[str, list[int]] = {}
        self._arrived = threading.Condition()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        answers = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                status = answers._take(urlsplit(self.path).path, json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, stack_id: str, logical_id: str, request_id: str) -> str:
        """A ResponseURL shaped like CloudFormation's pre-signed S3 URL."""
        path = quote(f"{stack_id}|{logical_id}|{request_id}", safe="")
        return f"https://127.0.0.1:{self.port}/{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&{URL_SECRET}"

    def refuse(self, url: str, *statuses: int) -> None:
        """Answer the next PUTs to ``url`` with these HTTP statuses (the answers are lost)."""
        with self._arrived:
            self._refusals.setdefault(urlsplit(url).path, []).extend(statuses)

    def _take(self, path: str, body: dict[str, Any]) -> int:
        with self._arrived:
            refusals = self._refusals.get(path)
            if refusals:
                return refusals.pop(0)
            self._answers.setdefault(path, []).append((time.monotonic(), body))
            self._arrived.notify_all()
            return 200

    def answers(self, url: str) -> list[tuple[float, dict[str, Any]]]:
        """The answers received so far for ``url`` (arrival time on the monotonic clock, body)."""
        with self._arrived:
            return list(self._answers.get(urlsplit(url).path, []))

    def wait(self, url: str, timeout: float) -> tuple[float, dict[str, Any]] | None:
        """The first answer for ``url``, waiting up to ``timeout`` seconds for it."""
        with self._arrived:
            self._arrived.wait_for(lambda: urlsplit(url).path in self._answers, timeout)
            answers = self._answers.get(urlsplit(url).path)
            return answers[0] if answers else None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class LambdaProcess:
    """Runs ``index.handler`` of a Lambda asset folder in a separate Python process.

    Its ``sys.path`` is the asset folder plus a folder holding boto3 and its dependencies only, as
    in the Lambda runtime: anything the asset lacks fails to import. The process stays up between
    invocations (a warm Lambda); its log goes to ``log`` (this process's stderr by default).
    """

    def __init__(
        self,
        asset: Path,
        runtime_path: Path,
        env: Mapping[str, str],
        log: IO[str] | None = None,
    ) -> None:
        self._process = subprocess.Popen(
            # -B: no __pycache__ written into the asset (cdk deploy would ship it).
            [sys.executable, "-I", "-S", "-B", str(RUNTIME), str(asset), str(runtime_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=dict(env),
        )

    def __call__(self, event: Event, timeout: float) -> None:
        assert self._process.stdin and self._process.stdout
        self._process.stdin.write(json.dumps({"event": event, "timeout": timeout}) + "\n")
        self._process.stdin.flush()
        for line in self._process.stdout:  # what the handler prints itself comes first
            if line.rstrip("\n") == RETURNED:
                return
        raise RuntimeError(f"the Lambda process ended (exit code {self._process.wait()})")

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        self._process.wait(timeout=30)


BOTO3_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def boto3_runtime(target: Path) -> Path:
    """A folder with boto3 and what it imports (links into this environment's site-packages)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in BOTO3_MODULES:
        module = __import__(name)
        source = Path(module.__file__ or "")
        origin = source.parent if source.name == "__init__.py" else source
        link = target / origin.name
        if not link.exists():
            link.symlink_to(origin)
    return target
