"""Test suites shipped with the package (like ``zarr.testing``), for this project's tests
and for plugin backends: :class:`BackendTests`, :class:`StoreTests` and the Hypothesis
state machine :class:`StoreMachine` (in :mod:`artifacts.testing.stateful`).

Importing this package needs pytest; the state machine also needs Hypothesis.
"""

from __future__ import annotations

from .backend import BackendTests, Direct
from .store import StoreTests

__all__ = ["BackendTests", "Direct", "StoreTests"]
