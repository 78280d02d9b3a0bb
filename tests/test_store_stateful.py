"""The store's state machine (:mod:`artifacts.testing.stateful`) on local, memory:// and
s3:// (moto's server)."""

from __future__ import annotations

import shutil
import tempfile
import uuid

import fsspec
import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from artifacts.testing.stateful import StoreMachine


class LocalStoreMachine(StoreMachine):
    def make_url(self) -> str:
        return tempfile.mkdtemp(prefix="store-machine-")

    def drop_url(self, url: str) -> None:
        shutil.rmtree(url, ignore_errors=True)


class MemoryStoreMachine(StoreMachine):
    def make_url(self) -> str:
        return f"memory://machine-{uuid.uuid4().hex}"

    def drop_url(self, url: str) -> None:
        fs, root = fsspec.core.url_to_fs(url)
        if fs.exists(root):
            fs.rm(root, recursive=True)


_SETTINGS = settings(max_examples=settings.default.max_examples, stateful_step_count=30)
TestLocalStore = _SETTINGS(LocalStoreMachine).TestCase
TestMemoryStore = _SETTINGS(MemoryStoreMachine).TestCase


@pytest.mark.s3
@pytest.mark.slow
def test_s3_store_machine(s3_bucket):
    """The same machine on s3:// (fewer examples: each step is a few HTTP requests)."""

    class S3StoreMachine(StoreMachine):
        def make_url(self) -> str:
            return f"{s3_bucket}/machine-{uuid.uuid4().hex}"

        def drop_url(self, url: str) -> None:
            pass  # the bucket goes with the test

    run_state_machine_as_test(
        S3StoreMachine, settings=settings(max_examples=5, stateful_step_count=20, deadline=None)
    )
