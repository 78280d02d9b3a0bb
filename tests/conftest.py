"""Shared test set-up: Hypothesis profiles, stores on every backend, the S3 server.

Hypothesis profiles: ``quick`` (the default, for ``make test``) and ``thorough``
(``HYPOTHESIS_PROFILE=thorough make test``).  S3 tests talk over HTTP to moto's S3 server,
started here on 127.0.0.1 for the whole session.
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "quick",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "thorough",
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))

BACKENDS = ["local", "memory", "s3"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _isolated_default_store(tmp_path, monkeypatch):
    """Every test gets its own embedded default store (never the user's)."""
    monkeypatch.setenv("MEDIA_ARTIFACTS_STORE", str(tmp_path / "default-store"))


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on 127.0.0.1 for the session; yields its endpoint URL.

    The AWS_* variables are set so that s3fs (and any subprocess) reaches it by plain
    ``s3://bucket/prefix`` URLs.
    """
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in _AWS_ENV}
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    try:
        yield endpoint
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_AWS_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


@pytest.fixture
def s3_bucket(s3_server):
    """A new, empty bucket; yields its ``s3://`` URL."""
    import s3fs

    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_server}, skip_instance_cache=True)
    name = f"test-{uuid.uuid4().hex[:12]}"
    fs.mkdir(name)
    yield f"s3://{name}"


def store_url(backend: str, tmp_path, request) -> str:
    """A fresh store URL on ``backend``."""
    if backend == "local":
        return str(tmp_path / "store")
    if backend == "memory":
        return f"memory://store-{uuid.uuid4().hex}"
    bucket = request.getfixturevalue("s3_bucket")
    return f"{bucket}/store"


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    """A new empty store on each backend: local folder, memory://, s3:// (moto's server)."""
    import artifacts

    return artifacts.open_store(store_url(request.param, tmp_path, request))
