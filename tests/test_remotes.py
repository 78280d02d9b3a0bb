"""Stores elsewhere: storage options on the command line, named remotes in the per-user
configuration file, credentials kept out of it, and one-line errors for an unreachable server
or a missing bucket, on local folders, ``memory://``, ``s3://`` (moto's server) and ``az://``
(Azurite).  The console session of docs/cli.md's "Stores elsewhere" is run here too."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from doc_examples import console_session, run_console_session

from artifacts import Artifact, config, open_store
from artifacts.config import ConfigError, Remote
from media import Audio

SCRIPT = str(Path(sys.executable).with_name("artifacts"))
DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def cli(*args: str, env=None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SCRIPT, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=180
    )


def ok(*args: str, **kw) -> str:
    done = cli(*args, **kw)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def fails(*args: str, **kw) -> str:
    """The one line a failing command prints (exit code 1, no traceback)."""
    done = cli(*args, **kw)
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("artifacts: error: "), done.stderr
    return lines[0][len("artifacts: error: ") :]


def env_without(*names: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names}


def draft(seed: int = 0) -> Artifact:
    import numpy as np

    d = Artifact("clips", type="dataset")
    d.add(Audio(np.random.default_rng(seed).standard_normal(64).astype(np.float32), 8000), "a")
    return d


# -- parsing options ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, expected",
    [
        ("endpoint_url=http://127.0.0.1:9000", ("endpoint_url", "http://127.0.0.1:9000")),
        ("anon=true", ("anon", True)),
        ("max_concurrency=8", ("max_concurrency", 8)),
        (
            'client_kwargs={"region_name": "eu-west-1"}',
            ("client_kwargs", {"region_name": "eu-west-1"}),
        ),
        ("region_name=eu-west-1", ("region_name", "eu-west-1")),
        ("x=", ("x", "")),
        ('x="3"', ("x", "3")),
        ("x=a=b", ("x", "a=b")),
        ("x=null", ("x", None)),
    ],
)
def test_option_values_are_json_when_they_parse_else_strings(text, expected):
    assert config.parse_option(text) == expected


@pytest.mark.parametrize("text", ["endpoint_url", "=x", "1a=b", "a-b=c", "a.b=c", ""])
def test_malformed_options_are_refused_with_the_form(text):
    with pytest.raises(ConfigError, match="write KEY=VALUE"):
        config.parse_option(text)


@pytest.mark.parametrize("key", ["single_writer", "progress", "pack_min", "url"])
def test_open_store_arguments_are_not_storage_options(key):
    with pytest.raises(ConfigError, match=f"'{key}' is not a storage option"):
        config.options_from([(key, True)])


# -- credentials --------------------------------------------------------------------------
SECRETS = [
    {"key": "AKIA..."},
    {"secret": "x"},
    {"token": "x"},
    {"password": "x"},
    {"aws_secret_access_key": "x"},
    {"aws_access_key_id": "x"},
    {"aws_session_token": "x"},
    {"account_key": "x"},
    {"accountKey": "x"},
    {"accountkey": "x"},
    {"sas_token": "x"},
    {"connection_string": "x"},
    {"connectionString": "x"},
    {"credential": "x"},
    {"client_secret": "x"},
    {"api_key": "x"},
    {"client_kwargs": {"aws_secret_access_key": "x"}},
    {"storage_options": [{"token": "x"}]},
    {"extra": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc=="},
    {"endpoint_url": "https://a.blob.core.windows.net/c?sv=2022&sig=abc"},
    {"endpoint_url": "http://user:pw@minio.example.org"},
]
NOT_SECRETS = [
    {"endpoint_url": "http://127.0.0.1:9000"},
    {"anon": True},
    {"profile": "team"},
    {"account_name": "devstoreaccount1"},
    {"region_name": "eu-west-1"},
    {"client_kwargs": {"region_name": "eu-west-1"}},
    {"config_kwargs": {"s3": {"addressing_style": "path"}}},
    {"requester_pays": True},
    {"client_id": "0000-1111", "tenant_id": "2222"},
]


@pytest.mark.parametrize("options", SECRETS, ids=lambda o: json.dumps(o)[:40])
def test_credential_like_options_are_refused_and_nothing_is_written(options):
    with pytest.raises(ConfigError) as info:
        config.add_remote("team", "s3://bucket/prefix", options)
    message = str(info.value)
    assert "looks like a credential" in message
    assert "AWS_PROFILE" in message and "AZURE_STORAGE_CONNECTION_STRING" in message
    assert "hunter" not in message and "abc" not in message  # the secret is never echoed
    assert not os.path.exists(config.config_path())


@pytest.mark.parametrize("options", NOT_SECRETS, ids=lambda o: json.dumps(o)[:40])
def test_ordinary_options_are_kept(options):
    config.add_remote("team", "s3://bucket/prefix", options)
    assert config.remotes() == {"team": Remote("team", "s3://bucket/prefix", options)}


def test_a_url_with_a_credential_is_refused_and_not_echoed():
    with pytest.raises(ConfigError, match="carries a credential") as info:
        config.add_remote("team", "https://minio.example.org/b?sv=1&sig=SECRETSIG")
    assert "SECRETSIG" not in str(info.value)
    with pytest.raises(ConfigError, match="carries a credential") as info:
        config.add_remote("team", "webdav://me:hunter2@host/store")
    assert "hunter2" not in str(info.value)
    assert not os.path.exists(config.config_path())


# -- the configuration file ---------------------------------------------------------------
def test_config_path_is_the_environment_variable_or_the_per_user_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDIA_ARTIFACTS_CONFIG", str(tmp_path / "elsewhere.json"))
    assert config.config_path() == str(tmp_path / "elsewhere.json")
    monkeypatch.delenv("MEDIA_ARTIFACTS_CONFIG")
    monkeypatch.setattr(sys, "platform", "linux")  # platformdirs' POSIX rule
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    import platformdirs

    # the project's tests run on Linux, where platformdirs follows the XDG rule
    assert platformdirs.PlatformDirs.__name__ == "Unix"
    assert config.config_path() == str(tmp_path / "xdg" / "media-artifacts" / "config.json")


def test_add_list_remove_round_trip_through_one_private_json_file():
    config.add_remote("team", "s3://bucket/audio", {"endpoint_url": "http://h:9000"})
    config.add_remote("az-team", "az://team/audio")
    path = config.config_path()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(Path(path).read_text()) == {
        "format": 1,
        "remotes": {
            "az-team": {"url": "az://team/audio"},
            "team": {"url": "s3://bucket/audio", "options": {"endpoint_url": "http://h:9000"}},
        },
    }
    assert list(config.remotes()) == ["az-team", "team"]
    with pytest.raises(ConfigError, match="already exists .*artifacts remote remove team"):
        config.add_remote("team", "s3://other")
    assert config.remove_remote("team") == Remote(
        "team", "s3://bucket/audio", {"endpoint_url": "http://h:9000"}
    )
    with pytest.raises(ConfigError, match=r"no remote named 'team' \(remotes: az-team\)"):
        config.remove_remote("team")
    assert list(config.remotes()) == ["az-team"]
    assert sorted(os.listdir(os.path.dirname(path))) == ["config.json"]  # no temporary left


def test_a_local_folder_remote_is_kept_as_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config.add_remote("here", "stores/a").url == str(tmp_path / "stores" / "a")


@pytest.mark.parametrize("name", ["", "a/b", "-x", ".hidden", "s3://x", "a b", "x" * 65, "ü"])
def test_bad_remote_names_are_refused(name):
    with pytest.raises(ConfigError, match="invalid remote name"):
        config.add_remote(name, "s3://bucket")


@pytest.mark.parametrize(
    "content, pattern",
    [
        (b"{not json", "is not JSON"),
        (b"[]", "is not a media-artifacts configuration"),
        (b'{"remotes": {}}', "is not a media-artifacts configuration"),
        (b'{"format": 1, "remotes": []}', '"remotes" must be a JSON object'),
        (b'{"format": 1, "remotes": {"t": "s3://b"}}', "remote 't' .*expected"),
        (b'{"format": 1, "remotes": {"a/b": {"url": "s3://b"}}}', "not a valid remote name"),
        (
            b'{"format": 1, "remotes": {"t": {"url": "s3://b", "options": {"secret": "s"}}}}',
            "remote 't' .*looks like a credential",
        ),
    ],
)
def test_a_bad_configuration_file_is_named_and_left_alone(content, pattern):
    path = Path(config.config_path())
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    for call in (config.remotes, lambda: config.add_remote("x", "s3://b")):
        with pytest.raises(ConfigError, match=pattern) as info:
            call()
        assert str(path) in str(info.value)
    with pytest.raises(ConfigError, match=pattern):
        config.resolve_store("t")
    assert path.read_bytes() == content


# -- resolving --store --------------------------------------------------------------------
def test_resolve_store_urls_paths_and_remotes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config.add_remote("team", "s3://bucket/audio", {"endpoint_url": "http://a", "anon": False})
    assert config.resolve_store(None) == (None, {})
    assert config.resolve_store("s3://x/y", [("anon", True)]) == ("s3://x/y", {"anon": True})
    assert config.resolve_store("other") == ("other", {})  # not a remote: a folder
    assert config.resolve_store("team") == (
        "s3://bucket/audio",
        {"endpoint_url": "http://a", "anon": False},
    )
    # options on the command line win; a later pair wins over an earlier one
    got = config.resolve_store("team", [("endpoint_url", "http://b"), ("anon", True)])
    assert got == ("s3://bucket/audio", {"endpoint_url": "http://b", "anon": True})
    assert config.resolve_store("./team") == ("./team", {})
    (tmp_path / "team").mkdir()
    with pytest.raises(ConfigError, match=r"names both the remote 'team' .* write ./team"):
        config.resolve_store("team")


def test_a_remote_opens_the_same_store_on_every_backend(store):
    v0 = store.commit(draft(0))
    config.add_remote("team", store.url)
    url, options = config.resolve_store("team")
    assert url == store.url and options == {}
    reopened = open_store(url, **options)
    assert reopened.versions("clips") == ["v0"]
    assert reopened.artifact("clips:latest").digest == v0.digest


# -- the command line ---------------------------------------------------------------------
@pytest.mark.s3
def test_store_options_reach_s3fs_before_and_after_the_command(s3_bucket, s3_server, tmp_path):
    """With AWS_ENDPOINT_URL unset only the option can point s3fs at moto's server; the
    top level's and the sub-command's options are merged, not replaced."""
    env = env_without("AWS_ENDPOINT_URL")
    url = f"{s3_bucket}/store"
    take = tmp_path / "take.txt"
    take.write_bytes(b"take one")
    out = ok(
        "put",
        "takes",
        str(take),
        "--store",
        url,
        "--store-option",
        f"endpoint_url={s3_server}",
        env=env,
    )
    assert out.startswith("committed takes:v0")
    out = ok(
        "--store-option",
        f"endpoint_url={s3_server}",
        "ls",
        "--json",
        "--store",
        url,
        "--store-option",
        "anon=false",
        env=env,
    )
    assert [r["name"] for r in json.loads(out)] == ["takes"]
    assert open_store(url).versions("takes") == ["v0"]  # really on the server


@pytest.mark.s3
def test_a_remote_carries_the_s3_endpoint(s3_bucket, s3_server, tmp_path):
    env = env_without("AWS_ENDPOINT_URL")
    url = f"{s3_bucket}/store"
    out = ok("remote", "add", "team", url, "--option", f"endpoint_url={s3_server}", env=env)
    assert out == f"added remote team: {url}\n"
    take = tmp_path / "take.txt"
    take.write_bytes(b"take one")
    ok("put", "takes", str(take), "--store", "team", env=env)
    listed = json.loads(ok("remote", "list", "--json", env=env))
    assert listed == [{"name": "team", "url": url, "options": {"endpoint_url": s3_server}}]
    assert "ok       takes:v0  1 entries" in ok("verify", "--store", "team", env=env)


@pytest.mark.azure
def test_store_options_reach_adlfs(az_container, az_options, tmp_path):
    """With AZURE_STORAGE_CONNECTION_STRING unset only the option reaches Azurite."""
    env = env_without("AZURE_STORAGE_CONNECTION_STRING")
    url = f"{az_container}/store"
    take = tmp_path / "take.txt"
    take.write_bytes(b"take one")
    option = f"connection_string={az_options['connection_string']}"
    out = ok("put", "takes", str(take), "--store", url, "--store-option", option, env=env)
    assert out.startswith("committed takes:v0")
    out = ok("verify", "--store", url, "--store-option", option, env=env)
    assert "create-if-absent: honoured" in out
    assert open_store(url, **az_options).versions("takes") == ["v0"]


@pytest.mark.azure
def test_a_remote_on_azure_uses_the_environment_for_credentials(az_container, tmp_path):
    url = f"{az_container}/store"
    ok("remote", "add", "team-az", url)
    take = tmp_path / "take.txt"
    take.write_bytes(b"take one")
    assert ok("put", "takes", str(take), "--store", "team-az").startswith("committed takes:v0")
    assert open_store(url).versions("takes") == ["v0"]
    message = fails("remote", "add", "keyed", url, "--option", "connection_string=" + "x" * 20)
    assert "looks like a credential" in message and "xxxx" not in message


def test_remote_commands_on_the_command_line(tmp_path):
    assert ok("remote", "list") == "no remotes (add one with: artifacts remote add NAME URL)\n"
    ok("remote", "add", "team", "s3://bucket/audio", "--option", "endpoint_url=http://h:9000")
    ok("remote", "add", "lab", "az://lab/store", "--option", "anon=true")
    assert ok("remote", "list") == (
        "NAME  URL                OPTIONS\n"
        "lab   az://lab/store     anon=true\n"
        'team  s3://bucket/audio  endpoint_url="http://h:9000"\n'
    )
    assert "already exists" in fails("remote", "add", "team", "s3://x")
    assert "looks like a credential" in fails("remote", "add", "t2", "s3://x", "--option", "key=a")
    assert "not a storage option" in fails(
        "remote", "add", "t3", "s3://x", "--option", "single_writer=true"
    )
    done = cli("remote", "add", "t4", "s3://x", "--option", "nonsense")
    assert done.returncode == 2 and "write KEY=VALUE" in done.stderr
    assert ok("remote", "remove", "lab").startswith("removed remote lab (az://lab/store)")
    assert "no remote named 'lab'" in fails("remote", "remove", "lab")
    assert [r["name"] for r in json.loads(ok("remote", "list", "--json"))] == ["team"]
    assert config.config_path() in "".join(ok("remote", "--help").split())  # wrapped


def test_a_remote_name_that_is_also_a_folder_is_refused(tmp_path):
    ok("remote", "add", "team", "s3://bucket/audio", cwd=tmp_path)
    (tmp_path / "team").mkdir()
    message = fails("ls", "--store", "team", cwd=tmp_path)
    assert "names both the remote 'team' (s3://bucket/audio) and the folder" in message
    # ./team means the folder, which holds no store (reading creates none)
    assert "no store at" in fails("ls", "--store", "./team", cwd=tmp_path)
    assert not (tmp_path / "team" / "store.json").exists()


@pytest.mark.s3
def test_an_unreachable_s3_endpoint_is_one_line_naming_the_store(s3_server):
    """A closed port on 127.0.0.1: botocore's EndpointConnectionError becomes one line."""
    from conftest import free_port

    port = free_port()  # bound, then released: nothing listens there
    url = "s3://team-bucket/audio"
    message = fails("ls", "--store", url, "--store-option", f"endpoint_url=http://127.0.0.1:{port}")
    assert message.startswith(f"cannot reach the store {url} (")
    assert f"http://127.0.0.1:{port}/" in message
    assert "check the endpoint: --store-option endpoint_url=URL, the AWS_ENDPOINT_URL" in message
    # through a remote, with botocore's retries cut (a JSON option) to keep the test short
    retries = 'config_kwargs={"retries": {"max_attempts": 1}}'
    ok("remote", "add", "far", url, "--option", f"endpoint_url=http://127.0.0.1:{port}")
    message = fails("verify", "--store", "far", "--store-option", retries)
    assert message.startswith(f"cannot reach the store {url} (")


def test_an_unreachable_azure_endpoint_is_explained():
    """azure.core's ServiceRequestError (raised after Azure's retries, over a minute against a
    closed port, too long for a test) is recognised through its chain, by class name."""
    from azure.core.exceptions import ServiceRequestError

    try:
        try:
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9)")
        except ConnectionRefusedError as inner:
            raise ServiceRequestError("Cannot connect to host 127.0.0.1:9") from inner
    except ServiceRequestError as exc:
        err = config.explain(exc, "az://team/audio")
    assert isinstance(err, config.StoreUnreachableError) and isinstance(err, ConnectionError)
    assert str(err) == (
        "cannot reach the store az://team/audio (Cannot connect to host 127.0.0.1:9); check the "
        "account's blob endpoint: the BlobEndpoint of AZURE_STORAGE_CONNECTION_STRING, or "
        "--store-option account_name=NAME"
    )
    assert config.explain(FileNotFoundError("x"), "az://team/audio") is None
    assert config.explain(ValueError("x"), "s3://b") is None


@pytest.mark.s3
def test_a_missing_s3_bucket_is_named(s3_server):
    assert fails("ls", "--store", "s3://no-such-bucket-here/audio").startswith(
        "no store at s3://no-such-bucket-here/audio"
    )  # reading creates nothing, so a missing bucket is just a missing store
    message = fails("put", "x", __file__, "--store", "s3://no-such-bucket-here/audio")
    assert message == (
        "the bucket 'no-such-bucket-here' of the store s3://no-such-bucket-here/audio does not "
        "exist: create it first (the store creates its files, not its bucket)"
    )


@pytest.mark.azure
def test_a_missing_azure_container_is_named(az_server):
    message = fails("put", "x", __file__, "--store", "az://no-such-container/audio")
    assert message == (
        "the container 'no-such-container' of the store az://no-such-container/audio does not "
        "exist: create it first (the store creates its files, not its container)"
    )


# -- the documented session ---------------------------------------------------------------
@pytest.mark.s3
@pytest.mark.azure
def test_the_documented_session_runs_as_shown(s3_server, az_server, tmp_path):
    import adlfs
    import s3fs

    s3fs.S3FileSystem(endpoint_url=s3_server, skip_instance_cache=True).mkdir("team-bucket")
    adlfs.AzureBlobFileSystem(connection_string=az_server, skip_instance_cache=True).mkdir("team")
    blob_endpoint = re.search(r"BlobEndpoint=http://([^/;]+)/", az_server).group(1)
    subst = {"http://127.0.0.1:9000": s3_server, "127.0.0.1:10000": blob_endpoint}
    env = env_without("AWS_ENDPOINT_URL", "AZURE_STORAGE_CONNECTION_STRING")
    steps = console_session(DOCS, "Stores elsewhere")
    assert len(steps) >= 10
    run_console_session(steps, tmp_path, env, subst)
