"""Shared test set-up: Hypothesis profiles, stores on every backend, the S3 and Azure servers.

Hypothesis profiles: ``quick`` (the default, for ``make test``) and ``thorough``
(``HYPOTHESIS_PROFILE=thorough make test``).  S3 tests talk over HTTP to moto's S3 server,
Azure tests to Azurite (installed by ``make test`` from npm into ``.cache/azurite``), both
started here on 127.0.0.1 for the whole session.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
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
#: the ``store`` fixture's backends for the modules named in AZURE_MODULES
AZURE_BACKENDS = [*BACKENDS, "azure"]
#: modules whose ``store`` tests also run on az:// (Azurite): the store conformance suites
#: and the cheap modules that read and write through a store.
AZURE_MODULES = {
    "test_packs",
    "test_spool",
    "test_readpath",
    "test_store",
    "test_store_probe",
    "test_remotes",
    "test_table",
    "test_smoke",
    "test_plugins",
    "test_passthrough",
    "test_audio_roundtrip",
    "test_transfer",
}

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen) -> None:
    """Stop a server a fixture started: ask it to end, kill it if it is still there after
    10 s (so that a stuck server cannot hang the session), and reap it."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def own_registry(monkeypatch):
    """Registry and schema tables this test may change; restored afterwards."""
    import schemas
    from media import registry

    for table in ("_types", "_entry_points_seen", "_derived", "_broken"):
        monkeypatch.setattr(
            registry, table, type(getattr(registry, table))(getattr(registry, table))
        )
    monkeypatch.setattr(schemas, "_extra", dict(schemas._extra))
    monkeypatch.setattr(schemas, "_validators", dict(schemas._validators))


@pytest.fixture(autouse=True)
def _isolated_default_store(tmp_path, monkeypatch):
    """Every test gets its own embedded default store (never the user's)."""
    monkeypatch.setenv("MEDIA_ARTIFACTS_STORE", str(tmp_path / "default-store"))
    # ... and its own per-user configuration (named remotes), never the user's
    monkeypatch.setenv("MEDIA_ARTIFACTS_CONFIG", str(tmp_path / "config" / "config.json"))


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


#: Azurite's development account: its name and key are published in Azure's documentation
#: and work only against the emulator.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def azurite_blob() -> str:
    """The ``azurite-blob`` program: ``$AZURITE_BLOB``, the one ``make test`` installs, or PATH."""
    given = os.environ.get("AZURITE_BLOB")
    found = (
        shutil.which(given)
        if given
        else shutil.which(
            "azurite-blob", path=os.path.join(REPO, ".cache/azurite/node_modules/.bin")
        )
        or shutil.which("azurite-blob")
    )
    if not found:
        pytest.fail(
            "Azurite is missing: run `make test` (or `make azurite`), which installs the npm "
            "package azurite@3 into .cache/azurite; or set AZURITE_BLOB to its azurite-blob",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="session")
def az_server(tmp_path_factory):
    """Azurite's blob service on 127.0.0.1 for the session; yields its connection string.

    ``AZURE_STORAGE_CONNECTION_STRING`` is set to it, so that adlfs (and any subprocess)
    reaches it by plain ``az://container/prefix`` URLs, as the AWS_* variables do for S3.
    """
    program = azurite_blob()
    port = free_port()
    data = tmp_path_factory.mktemp("azurite")
    log_path = data.parent / f"{data.name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [program, "--blobHost", "127.0.0.1", "--blobPort", str(port)]
            + ["--location", str(data), "--silent", "--skipApiVersionCheck"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"azurite-blob exited with {proc.returncode}: "
                    f"{log_path.read_text(errors='replace')[-2000:]}",
                    pytrace=False,
                )
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("azurite-blob did not answer within 30 s", pytrace=False)
                time.sleep(0.05)
        connection_string = (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
        )
        saved = os.environ.get(_AZ_ENV)
        os.environ[_AZ_ENV] = connection_string
        try:
            yield connection_string
        finally:
            if saved is None:
                os.environ.pop(_AZ_ENV, None)
            else:
                os.environ[_AZ_ENV] = saved
    finally:
        stop_process(proc)


_AZ_ENV = "AZURE_STORAGE_CONNECTION_STRING"


@pytest.fixture
def az_container(az_server):
    """A new, empty container on Azurite; yields its ``az://`` URL."""
    import adlfs

    fs = adlfs.AzureBlobFileSystem(connection_string=az_server, skip_instance_cache=True)
    name = f"test-{uuid.uuid4().hex[:12]}"  # container names have 3 to 63 characters
    fs.mkdir(name)
    yield f"az://{name}"


@pytest.fixture
def az_options(az_server) -> dict:
    """The storage options that reach Azurite without the environment variable."""
    return {"connection_string": az_server}


@pytest.fixture
def wandb(tmp_path_factory, monkeypatch):
    """The real wandb client (the version the test extra pins), offline, with its folders
    kept in a temporary folder."""
    home = tmp_path_factory.mktemp("wandb-home")
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR"):
        monkeypatch.setenv(var, str(home))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    import wandb as client

    assert client.__version__ == "0.31.0"
    return client


def store_url(backend: str, tmp_path, request) -> str:
    """A fresh store URL on ``backend``."""
    if backend == "local":
        return str(tmp_path / "store")
    if backend == "memory":
        return f"memory://store-{uuid.uuid4().hex}"
    if backend == "azure":
        return f"{request.getfixturevalue('az_container')}/store"
    bucket = request.getfixturevalue("s3_bucket")
    return f"{bucket}/store"


def pytest_generate_tests(metafunc):
    """The ``store`` fixture's backends: with az:// in the modules of AZURE_MODULES."""
    defs = metafunc._arg2fixturedefs.get("store")
    ours = bool(defs) and getattr(defs[-1].func, "__module__", None) == __name__
    if ours and "store" not in _direct_params(metafunc):
        module = metafunc.module.__name__.rpartition(".")[2]
        backends = AZURE_BACKENDS if module in AZURE_MODULES else BACKENDS
        metafunc.parametrize("store", backends, indirect=True)


def _direct_params(metafunc) -> set[str]:
    """Argument names a test's own ``parametrize`` marks set."""
    names: set[str] = set()
    for mark in metafunc.definition.iter_markers("parametrize"):
        argnames = mark.args[0]
        if isinstance(argnames, str):
            argnames = [a.strip() for a in argnames.split(",")]
        names.update(argnames)
    return names


@pytest.fixture
def store(request, tmp_path):
    """A new empty store on each backend: local folder, memory://, s3:// (moto's server),
    and az:// (Azurite) in the store conformance suites (AZURE_MODULES)."""
    import artifacts

    return artifacts.open_store(store_url(request.param, tmp_path, request))
