"""A conformance suite for backends, checked through an independent path.

Subclass :class:`BackendTests` in a test module, give it a ``url`` fixture (a fresh,
empty root on the backend) and, when fsspec's own reading of that URL needs options, a
``storage_options`` fixture; pytest then runs every ``test_*`` method.  What the backend
writes is read back with fsspec directly (and what the test writes directly is read by
the backend), so a backend that agrees only with itself fails::

    class TestMyBackend(BackendTests):
        @pytest.fixture
        def url(self, my_server):
            return f"my://bucket/{uuid.uuid4().hex}"

Needs pytest (``pip install 'media-artifacts[test]'``).
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import fsspec
import pytest

from ..backends import Backend, Pack, open_backend

__all__ = ["BackendTests"]


class BackendTests:
    """Every backend primitive and derived verb, checked against fsspec's own view."""

    @pytest.fixture
    def url(self) -> str:
        """A fresh, empty root on the backend under test (override)."""
        raise NotImplementedError("give the BackendTests subclass a `url` fixture")

    @pytest.fixture
    def storage_options(self) -> dict[str, Any]:
        """Options for fsspec and :func:`open_backend` (override when needed)."""
        return {}

    @pytest.fixture
    def backend(self, url: str, storage_options: dict[str, Any]) -> Backend:
        return open_backend(url, **storage_options)[0]

    # -- the independent path ---------------------------------------------------------------
    @pytest.fixture
    def direct(self, url: str, storage_options: dict[str, Any]) -> Direct:
        return Direct(url, storage_options)

    # -- tests ------------------------------------------------------------------------------
    def test_is_a_declared_backend(self, backend: Backend) -> None:
        assert isinstance(backend, Backend)
        assert isinstance(backend.is_local, bool) and isinstance(backend.lists_cheaply, bool)
        assert backend.honours_create_if_absent in (True, False, None)

    def test_write_is_seen_directly(self, backend: Backend, direct: Direct) -> None:
        backend.write("a/b/c.bin", b"\x00one")
        assert direct.read("a/b/c.bin") == b"\x00one"
        backend.write("a/b/c.bin", b"two")  # replaced whole
        assert direct.read("a/b/c.bin") == b"two"

    def test_reads_what_was_written_directly(self, backend: Backend, direct: Direct) -> None:
        data = bytes(range(256)) * 5
        direct.write("x/y.bin", data)
        assert backend.read("x/y.bin") == data
        with backend.open("x/y.bin") as f:
            assert f.read() == data
        assert backend.read_range("x/y.bin", 10, 20) == data[10:30]
        assert backend.read_range("x/y.bin", len(data) - 5, 20) == data[-5:]
        assert backend.exists("x/y.bin") and backend.size("x/y.bin") == len(data)

    def test_missing_files(self, backend: Backend) -> None:
        for call in (backend.read, backend.open, lambda p: backend.read_range(p, 0, 1)):
            with pytest.raises(FileNotFoundError):
                call("nothing/here")
        assert not backend.exists("nothing/here")
        assert backend.listdir("nothing") == []
        assert list(backend.walk_files("nothing")) == []
        backend.delete("nothing/here")  # quietly

    def test_create_if_absent(self, backend: Backend, direct: Direct) -> None:
        backend.create("v/v0.json", b"first")
        assert direct.read("v/v0.json") == b"first"
        if backend.honours_create_if_absent is True:
            with pytest.raises(FileExistsError):
                backend.create("v/v0.json", b"second")
            assert direct.read("v/v0.json") == b"first"

    def test_listdir_and_walk(self, backend: Backend, direct: Direct) -> None:
        for rel in ("d/one", "d/two", "d/sub/three", "e/four"):
            direct.write(rel, rel.encode())
        assert backend.listdir("d") == ["one", "sub", "two"]
        walked = {rel for rel, mtime in backend.walk_files("d")}
        assert walked == {"d/one", "d/two", "d/sub/three"}
        assert all(isinstance(m, float) for _, m in backend.walk_files("d"))

    def test_delete(self, backend: Backend, direct: Direct) -> None:
        direct.write("gone.bin", b"1")
        backend.delete("gone.bin")
        assert not direct.exists("gone.bin")

    def test_read_many_skips_missing(self, backend: Backend, direct: Direct) -> None:
        direct.write("m/1", b"one")
        direct.write("m/2", b"two")
        assert backend.read_many(["m/1", "m/2", "m/3"]) == {"m/1": b"one", "m/2": b"two"}

    def test_write_many_every_kind_of_content(
        self, backend: Backend, direct: Direct, tmp_path: Any
    ) -> None:
        local = tmp_path / "local.bin"
        local.write_bytes(b"from a file" * 1000)

        class Opener:
            size = 11

            def __call__(self) -> io.BytesIO:
                return io.BytesIO(b"from a call")

        items = [
            ("w/bytes", b"plain bytes"),
            ("w/file", str(local)),
            ("w/opener", Opener()),
            ("w/pack", Pack([b"ab", Opener(), b"c"], [2, 11, 1])),
        ]
        seen: list[int] = []
        backend.write_many(items, seen.append)
        assert sum(seen) == len(items)
        assert direct.read("w/bytes") == b"plain bytes"
        assert direct.read("w/file") == b"from a file" * 1000
        assert direct.read("w/opener") == b"from a call"
        assert direct.read("w/pack") == b"abfrom a callc"
        backend.write_many(items)  # again: the same files, kept
        assert direct.read("w/pack") == b"abfrom a callc"

    def test_write_many_replaces_a_torn_blob(self, backend: Backend, direct: Direct) -> None:
        data = b"whole" * 100
        rel = "blobs/sha256/" + hashlib.sha256(data).hexdigest()
        direct.write(rel, data[:7])  # a crash left a part
        backend.write_many([(rel, Pack([data], [len(data)]))])
        assert direct.read(rel) == data

    def test_put_stream_and_file(self, backend: Backend, direct: Direct, tmp_path: Any) -> None:
        backend.put_stream("s/stream", io.BytesIO(b"streamed"))
        assert direct.read("s/stream") == b"streamed"
        local = tmp_path / "f.bin"
        local.write_bytes(b"put")
        backend.put_file("s/file", str(local))
        assert direct.read("s/file") == b"put"

    def test_local_path(self, backend: Backend, direct: Direct) -> None:
        backend.write("l/p", b"x")
        path = backend.local_path("l/p")
        if backend.is_local:
            with open(path, "rb") as f:  # type: ignore[arg-type]
                assert f.read() == b"x"
        else:
            assert path is None


class Direct:
    """Reads and writes under a backend's URL with fsspec itself (not the backend)."""

    def __init__(self, url: str, storage_options: dict[str, Any]):
        self.fs, self.root = fsspec.core.url_to_fs(url, **storage_options)
        self.root = self.root.rstrip("/")

    def _full(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def read(self, rel: str) -> bytes:
        """The file's bytes, read by fsspec."""
        self.fs.invalidate_cache()
        return self.fs.cat_file(self._full(rel))

    def write(self, rel: str, data: bytes) -> None:
        """Write a file with fsspec (folders made as needed)."""
        full = self._full(rel)
        parent = full.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        self.fs.pipe_file(full, data)
        self.fs.invalidate_cache()

    def exists(self, rel: str) -> bool:
        """Whether fsspec sees the file."""
        self.fs.invalidate_cache()
        return self.fs.exists(self._full(rel))
