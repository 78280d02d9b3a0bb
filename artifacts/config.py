"""Where stores are: fsspec storage options from the command line and named remotes.

A *storage option* is one keyword argument for fsspec's filesystem (``endpoint_url`` for an
S3-compatible server, ``account_name`` for Azure, ``anon`` ...), written ``KEY=VALUE`` on the
command line; the value is read as JSON when it parses (``true``, ``3``, ``{"a": 1}``), else
kept as a string.

A *remote* is a name for a store URL and its storage options, kept in a per-user JSON file
(:func:`config_path`): ``artifacts remote add team s3://bucket/prefix --option
endpoint_url=https://minio.example.org`` lets every command take ``--store team``.  No
credentials are ever written there: options that look like one (keys, secrets, tokens,
passwords, connection strings, SAS tokens ...) are refused, and credentials stay with each
library's usual environment variables and profiles (see docs/cli.md).
"""

from __future__ import annotations

import copy
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CONFIG_ENV",
    "ConfigError",
    "MissingBucketError",
    "Remote",
    "StoreUnreachableError",
    "add_remote",
    "check_no_secrets",
    "check_remote_name",
    "config_path",
    "explain",
    "options_from",
    "parse_option",
    "remotes",
    "remove_remote",
    "resolve_store",
    "unreachable",
]

#: environment variable naming the configuration file (overrides the per-user default)
CONFIG_ENV = "MEDIA_ARTIFACTS_CONFIG"
CONFIG_FORMAT = 1

_REMOTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_OPTION_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: words that make an option key look like a credential (compared with the key's parts)
_SECRET_WORDS = frozenset(
    {
        "key",
        "keys",
        "secret",
        "secrets",
        "token",
        "tokens",
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "sas",
        "credential",
        "credentials",
        "creds",
        "connection",
        "auth",
        "authorization",
        "signature",
        "sig",
        "cookie",
        "cookies",
        "private",
    }
)
#: ... or that a key contains, written together (``accountkey``, ``sastoken``)
_SECRET_PARTS = (
    "secret",
    "password",
    "passwd",
    "token",
    "credential",
    "connectionstring",
    "accountkey",
    "apikey",
    "privatekey",
    "accesskey",
)
#: values that carry a credential whatever their key (connection strings, SAS URLs)
_SECRET_VALUE = re.compile(
    r"accountkey=|sharedaccesssignature=|[?&]sig=|://[^/@\s]*:[^/@\s]*@", re.I
)
#: keyword arguments of open_store that are not storage options
_NOT_OPTIONS = {
    "single_writer": "use --single-writer",
    "progress": "use --quiet, or nothing for bars on a terminal",
    "pack_min": "it is not a storage option",
    "url": "give the URL itself",
}


class ConfigError(ValueError):
    """A bad storage option, remote name or configuration file (the message says which)."""


class StoreUnreachableError(ConnectionError):
    """The store's server could not be reached (the message names the store and the hint)."""


class MissingBucketError(FileNotFoundError):
    """The store's bucket (S3, GCS) or container (Azure) does not exist."""


@dataclass(frozen=True)
class Remote:
    """A named store: its URL and fsspec storage options (never credentials)."""

    name: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)


# -- the configuration file ---------------------------------------------------------------
def config_path() -> str:
    """The configuration file: ``$MEDIA_ARTIFACTS_CONFIG`` when set, else ``config.json`` in
    the per-user configuration folder (platformdirs): ``~/.config/media-artifacts`` on Linux
    (``$XDG_CONFIG_HOME`` when set), ``~/Library/Application Support/media-artifacts`` on macOS,
    ``%LOCALAPPDATA%\\media-artifacts`` on Windows."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    import platformdirs

    return os.path.join(
        platformdirs.user_config_dir("media-artifacts", appauthor=False), "config.json"
    )


def _load(path: str) -> dict[str, Any]:
    """The parsed file (an empty configuration if there is none), checked."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return {"format": CONFIG_FORMAT, "remotes": {}}
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration file {path}: {exc.strerror}") from None
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise ConfigError(
            f"the configuration file {path} is not JSON ({exc}); fix or delete it"
        ) from None
    if not isinstance(obj, dict) or obj.get("format") != CONFIG_FORMAT:
        raise ConfigError(
            f"the configuration file {path} is not a media-artifacts configuration "
            f'(expected a JSON object with "format": {CONFIG_FORMAT}); fix or delete it'
        )
    found = obj.get("remotes", {})
    if not isinstance(found, dict):
        raise ConfigError(f'the configuration file {path}: "remotes" must be a JSON object')
    for name, entry in found.items():
        where = f"remote {name!r} in the configuration file {path}"
        if not isinstance(name, str) or not _REMOTE_NAME.fullmatch(name):
            raise ConfigError(f"{where}: not a valid remote name; fix or remove it")
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("url"), str)
            or not isinstance(entry.get("options", {}), dict)
        ):
            raise ConfigError(
                f'{where}: expected {{"url": "...", "options": {{...}}}}; fix or remove it'
            )
        try:
            _check_options(entry.get("options", {}))
            _check_url(entry["url"])
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    obj["remotes"] = found
    return obj


def _save(path: str, obj: dict[str, Any]) -> None:
    """Write the file atomically (temporary file, then rename), readable by its owner only."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, sort_keys=True, ensure_ascii=False)
            f.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remotes() -> dict[str, Remote]:
    """The named remotes of the configuration file, by name."""
    obj = _load(config_path())
    return {
        name: Remote(name, e["url"], dict(e.get("options", {})))
        for name, e in sorted(obj["remotes"].items())
    }


def add_remote(name: str, url: str, options: Mapping[str, Any] | None = None) -> Remote:
    """Name a store: ``url`` (a URL, or a local folder, kept as an absolute path) with its
    storage options.  Refuses an existing name, a bad name and options that look like
    credentials (:func:`check_no_secrets`); writes nothing then."""
    check_remote_name(name)
    opts = dict(options or {})
    _check_options(opts)
    if "://" not in url:
        url = os.path.abspath(os.path.expanduser(url))
    _check_url(url)
    path = config_path()
    obj = _load(path)
    if name in obj["remotes"]:
        raise ConfigError(
            f"a remote named {name!r} already exists ({obj['remotes'][name]['url']}); "
            f"remove it first: artifacts remote remove {name}"
        )
    entry: dict[str, Any] = {"url": url}
    if opts:
        entry["options"] = opts
    obj["remotes"][name] = entry
    _save(path, obj)
    return Remote(name, url, copy.deepcopy(opts))


def remove_remote(name: str) -> Remote:
    """Forget the remote ``name`` (the store itself is untouched); returns what it was."""
    path = config_path()
    obj = _load(path)
    if name not in obj["remotes"]:
        known = ", ".join(sorted(obj["remotes"])) or "none"
        raise ConfigError(f"no remote named {name!r} (remotes: {known})")
    entry = obj["remotes"].pop(name)
    _save(path, obj)
    return Remote(name, entry["url"], dict(entry.get("options", {})))


def check_remote_name(name: str) -> str:
    """``name`` if it can name a remote: letters, digits, ``_ . -``, at most 64, starting with
    a letter or digit (so it never looks like a URL or a path)."""
    if not isinstance(name, str) or not _REMOTE_NAME.fullmatch(name):
        raise ConfigError(
            f"invalid remote name {name!r}: use letters, digits, '_', '.' and '-' "
            "(at most 64, starting with a letter or digit)"
        )
    return name


# -- storage options ----------------------------------------------------------------------
def parse_option(text: str) -> tuple[str, Any]:
    """``"KEY=VALUE"`` as ``(key, value)``: the value as JSON when it parses, else the string.

    For example ``endpoint_url=http://127.0.0.1:9000`` gives a string, ``anon=true`` gives
    ``True`` and ``client_kwargs={"region_name": "eu-west-1"}`` a dict.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not _OPTION_KEY.fullmatch(key):
        raise ConfigError(
            f"invalid storage option {text!r}: write KEY=VALUE, e.g. endpoint_url=http://host:9000"
        )
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return key, value


def options_from(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """A dict of options from ``(key, value)`` pairs (a later key wins); refuses the keyword
    arguments of ``open_store`` that are not storage options."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in _NOT_OPTIONS:
            raise ConfigError(f"{key!r} is not a storage option: {_NOT_OPTIONS[key]}")
        out[key] = value
    return out


def _key_words(key: str) -> list[str]:
    """``accountKey``, ``account-key`` and ``ACCOUNT_KEY`` all give ``["account", "key"]``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key)
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def _secret_in(options: Any, where: str = "") -> str | None:
    """The path of the first credential-like key or value in ``options``, if any."""
    if isinstance(options, Mapping):
        for key, value in options.items():
            here = f"{where}.{key}" if where else str(key)
            words = _key_words(str(key))
            joined = "".join(words)
            if any(w in _SECRET_WORDS for w in words) or any(w in joined for w in _SECRET_PARTS):
                return here
            found = _secret_in(value, here)
            if found:
                return found
    elif isinstance(options, (list, tuple)):
        for i, value in enumerate(options):
            found = _secret_in(value, f"{where}[{i}]")
            if found:
                return found
    elif isinstance(options, str) and _SECRET_VALUE.search(options):
        return where or "the value"
    return None


def check_no_secrets(options: Mapping[str, Any]) -> None:
    """Refuse options that look like credentials (by key, or a value that is a connection
    string or a signed URL), with an error saying where credentials belong instead."""
    found = _secret_in(options)
    if found:
        raise ConfigError(
            f"refusing to write the option {found!r}: it looks like a credential, and the "
            "configuration file holds none. Keep credentials in the environment or a profile: "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE for S3, "
            "AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_KEY or "
            "AZURE_STORAGE_SAS_TOKEN for Azure (see docs/cli.md)"
        )


def shareable_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The storage options that are no credentials (an endpoint, a region, ...): what a
    manifest may record so that every reader opens the same location."""
    return {k: v for k, v in options.items() if not _secret_in({k: v})}


def _check_options(options: Mapping[str, Any]) -> None:
    for key in options:
        if not isinstance(key, str) or not _OPTION_KEY.fullmatch(key):
            raise ConfigError(f"invalid storage option name {key!r}")
    options_from(options.items())
    check_no_secrets(options)


def _check_url(url: str) -> None:
    if _SECRET_VALUE.search(url):
        raise ConfigError(
            f"refusing to write the URL {_redact(url)!r}: it carries a credential; give the "
            "URL without it and keep the credential in the environment or a profile"
        )


def _redact(url: str) -> str:
    return re.sub(r"(://[^/@\s:]*:)[^/@\s]*@", r"\1***@", re.sub(r"([?&]sig=)[^&]*", r"\1***", url))


# -- resolving --store ----------------------------------------------------------------------
def resolve_store(
    store: str | None,
    options: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
) -> tuple[str | None, dict[str, Any]]:
    """The URL and storage options that ``--store store`` (with ``--store-option``s, as a
    dict or as ``(key, value)`` pairs, a later pair winning) means.

    A value with ``://`` is a URL; a value that names a remote (and is not also a folder or
    file here: that is refused as ambiguous) is that remote's URL, with its options under the
    given ones; anything else is a local path.  ``None`` is the embedded default store.
    """
    pairs = options.items() if isinstance(options, Mapping) else (options or ())
    given = options_from(pairs)
    if store is None or "://" in store:
        return store, given
    if not _REMOTE_NAME.fullmatch(store):
        return store, given
    path = config_path()
    known = _load(path)["remotes"]
    if store not in known:
        return store, given
    entry = known[store]
    if os.path.exists(store):
        raise ConfigError(
            f"{store!r} names both the remote {store!r} ({entry['url']}) and the "
            f"{'folder' if os.path.isdir(store) else 'file'} {os.path.abspath(store)}; "
            f"write ./{store} for the local one"
        )
    return entry["url"], {**copy.deepcopy(entry.get("options", {})), **given}


# -- unreachable servers ------------------------------------------------------------------
#: exception classes (by name, so that no cloud library is imported) that mean "no answer"
_CONNECTION_ERRORS = frozenset(
    {
        "EndpointConnectionError",  # botocore
        "ConnectTimeoutError",  # botocore
        "ClientConnectorError",  # aiohttp
        "ServerTimeoutError",  # aiohttp
        "ServiceRequestError",  # azure.core
    }
)


def _connection_error(exc: BaseException) -> BaseException | None:
    """The first error in ``exc``'s chain that says the server did not answer."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names = {c.__name__ for c in type(current).__mro__}
        if names & _CONNECTION_ERRORS or isinstance(current, ConnectionError):
            return current
        if type(current).__name__ == "gaierror":  # DNS: no such host
            return current
        current = current.__cause__ or current.__context__
    return None


def _endpoint_hint(url: str) -> str:
    protocol = url.partition("://")[0].lower() if "://" in url else ""
    if protocol in ("s3", "s3a"):
        return (
            "check the endpoint: --store-option endpoint_url=URL, the AWS_ENDPOINT_URL "
            "variable, or a remote's --option endpoint_url=URL"
        )
    if protocol in ("az", "abfs", "abfss"):
        return (
            "check the account's blob endpoint: the BlobEndpoint of "
            "AZURE_STORAGE_CONNECTION_STRING, or --store-option account_name=NAME"
        )
    return "check the server's address in the store options (--store-option KEY=VALUE)"


def unreachable(exc: BaseException, url: str) -> StoreUnreachableError | None:
    """A :class:`StoreUnreachableError` naming the store ``url`` and how to set its endpoint,
    if ``exc`` (or an error it came from) means the server could not be reached; else None."""
    if isinstance(exc, StoreUnreachableError):
        return exc
    cause = _connection_error(exc)
    if cause is None:
        return None
    detail = " ".join(str(cause).split()) or type(cause).__name__
    err = StoreUnreachableError(f"cannot reach the store {url} ({detail}); {_endpoint_hint(url)}")
    err.__cause__ = exc
    return err


def _missing_bucket(exc: BaseException) -> bool:
    """Whether ``exc``'s chain says the bucket or container is missing (not just a file)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if str(getattr(current, "error_code", "")) == "ContainerNotFound":  # azure.core
            return True
        response = getattr(current, "response", None)  # botocore's ClientError
        if isinstance(response, dict) and response.get("Error", {}).get("Code") == "NoSuchBucket":
            return True
        current = current.__cause__ or current.__context__
    return False


def explain(exc: BaseException, url: str) -> Exception | None:
    """A one-line error for a failure of the store ``url`` that a cloud library reports in
    its own words (an unreachable server, a missing bucket or container); else None."""
    found = unreachable(exc, url)
    if found is not None:
        return found
    if _missing_bucket(exc):
        protocol, _, rest = url.partition("://")
        bucket = rest.split("/", 1)[0]
        kind = "container" if protocol.lower() in ("az", "abfs", "abfss") else "bucket"
        err = MissingBucketError(
            f"the {kind} {bucket!r} of the store {url} does not exist: create it first "
            f"(the store creates its files, not its {kind})"
        )
        err.__cause__ = exc
        return err
    return None
