"""The shipped suites (:mod:`artifacts.testing`) on every backend of the test session.

Adding a backend is one ``url`` fixture and two classes, as below.
"""

from __future__ import annotations

import uuid

import pytest

from artifacts.testing import BackendTests, StoreTests


class LocalRoot:
    @pytest.fixture
    def url(self, tmp_path):
        return str(tmp_path / "root")


class MemoryRoot:
    @pytest.fixture
    def url(self):
        return f"memory://suite-{uuid.uuid4().hex}"


class S3Root:
    pytestmark = pytest.mark.s3

    @pytest.fixture
    def url(self, s3_bucket):
        return f"{s3_bucket}/suite"


class TestLocalBackend(LocalRoot, BackendTests):
    pass


class TestMemoryBackend(MemoryRoot, BackendTests):
    pass


class TestS3Backend(S3Root, BackendTests):
    pass


class TestLocalStore(LocalRoot, StoreTests):
    pass


class TestMemoryStore(MemoryRoot, StoreTests):
    pass


class TestS3Store(S3Root, StoreTests):
    pass


class AzureRoot:
    pytestmark = pytest.mark.azure

    @pytest.fixture
    def url(self, az_container):
        return f"{az_container}/suite"

    @pytest.fixture
    def storage_options(self, az_options):
        return az_options


class TestAzureBackend(AzureRoot, BackendTests):
    pass


class TestAzureStore(AzureRoot, StoreTests):
    pass
