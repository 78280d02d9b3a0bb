"""A Hypothesis state machine that compares a store with a plain dict model (shipped like
``zarr.testing.stateful``: run it on any backend).

The model keeps, per artifact name, the draft's files (path -> bytes) and values (name ->
clip seed), the list of committed versions (each a frozen copy of the draft) and the aliases.
Rules add, remove, commit, move aliases, leave orphan blobs behind (as a crashed commit would)
and collect garbage; reads compare one version with the model entry by entry.

Subclass :class:`StoreMachine` with ``make_url`` and ``drop_url``, then run
``MyMachine.TestCase`` (or ``hypothesis.stateful.run_state_machine_as_test``).  Needs
pytest, Hypothesis and numpy.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from media import Audio

from ..artifact import Artifact
from ..errors import ArtifactNotFoundError, EntryNotFoundError, StoreNotFoundError
from ..manifest import blob_path
from ..store import open_store

__all__ = ["StoreMachine"]

NAMES = st.sampled_from(["a", "b"])
FILES = st.sampled_from(["f0", "f1", "d/f2", "d/e/f3"])
VALUES = st.sampled_from(["v0", "v1", "d/v2"])
SEEDS = st.integers(0, 3)
ALIASES = st.sampled_from(["best", "prod"])
DATA = st.binary(max_size=40)


def clip(seed: int) -> Audio:
    """One of a few small clips (so that values are often shared)."""
    samples = np.random.default_rng(seed).integers(-999, 999, (20 + seed, 1 + seed % 2))
    return Audio(samples.astype(np.int16), 8000 + seed)


class DraftModel:
    """The model of a draft: files and values."""

    def __init__(self, files=None, values=None):
        self.files: dict[str, bytes] = dict(files or {})
        self.values: dict[str, int] = dict(values or {})

    def frozen(self) -> tuple:
        return (tuple(sorted(self.files.items())), tuple(sorted(self.values.items())))


class StoreMachine(RuleBasedStateMachine):
    """Store vs. model; subclasses choose the backend with :meth:`make_url`."""

    def make_url(self) -> str:
        raise NotImplementedError

    def drop_url(self, url: str) -> None:
        raise NotImplementedError

    @initialize()
    def open(self):
        self.url = self.make_url()
        self.store = open_store(self.url)
        self.drafts: dict[str, Artifact] = {}
        self.model: dict[str, DraftModel] = {}
        self.versions: dict[str, list[tuple]] = {}
        self.aliases: dict[str, dict[str, int]] = {}
        self.orphans: set[str] = set()

    def teardown(self):
        if hasattr(self, "url"):
            self.drop_url(self.url)

    def _draft(self, name: str) -> tuple[Artifact, DraftModel]:
        if name not in self.drafts:
            self.drafts[name] = Artifact(name, type="dataset")
            self.model[name] = DraftModel()
        return self.drafts[name], self.model[name]

    @rule(name=NAMES, path=FILES, data=DATA)
    def add_file(self, name, path, data):
        draft, model = self._draft(name)
        with draft.new_file(path, mode="wb", overwrite=True) as f:
            f.write(data)
        model.files[path] = data

    @rule(name=NAMES, value=VALUES, seed=SEEDS)
    def add_value(self, name, value, seed):
        draft, model = self._draft(name)
        if value in model.values and model.values[value] != seed:
            with pytest.raises(ValueError, match="already in"):
                draft.add(clip(seed), value)
        entry = draft.add(clip(seed), value, overwrite=True)
        assert entry.path == f"{value}.audio-file.json"
        model.values[value] = seed

    @rule(name=NAMES, path=FILES)
    def remove_file(self, name, path):
        draft, model = self._draft(name)
        if path in model.files:
            draft.remove(path)
            del model.files[path]
        else:
            with pytest.raises(EntryNotFoundError):
                draft.remove(path)

    @rule(name=NAMES, value=VALUES)
    def remove_value(self, name, value):
        draft, model = self._draft(name)
        if value in model.values:
            draft.remove(value)
            del model.values[value]

    @rule(name=NAMES, aliases=st.lists(ALIASES, max_size=2, unique=True))
    def commit(self, name, aliases):
        draft, model = self._draft(name)
        committed = self.store.commit(draft, aliases=aliases)
        versions = self.versions.setdefault(name, [])
        if not versions or versions[-1] != model.frozen():
            versions.append(model.frozen())
        assert committed.version == f"v{len(versions) - 1}"
        for alias in aliases:
            self.aliases.setdefault(name, {})[alias] = len(versions) - 1
        self.drafts[name] = committed.new_draft()

    @precondition(lambda self: self.versions)
    @rule(data=st.data(), alias=ALIASES)
    def set_alias(self, data, alias):
        name = data.draw(st.sampled_from(sorted(self.versions)))
        n = data.draw(st.integers(0, len(self.versions[name]) - 1))
        self.store.set_alias(name, alias, f"v{n}")
        self.aliases.setdefault(name, {})[alias] = n

    @rule(data=DATA)
    def leave_orphan_blob(self, data):
        digest = hashlib.sha256(b"orphan:" + data).hexdigest()
        self.store.backend.write(blob_path(digest), b"orphan:" + data)
        if digest not in self.store.live_blobs():
            self.orphans.add(digest)

    @rule()
    def gc(self):
        if not self.store.exists():  # nothing committed yet: gc refuses, deleting nothing
            try:
                self.store.gc(grace=0)
            except StoreNotFoundError:
                return
            raise AssertionError("gc ran where there is no store")
        orphans = self.orphans - self.store.live_blobs()  # a commit may have adopted one
        report = self.store.gc(grace=0)
        assert sorted(report.deleted) == sorted(blob_path(d) for d in orphans)
        self.orphans.clear()

    @precondition(lambda self: self.versions)
    @rule(data=st.data())
    def read_version(self, data):
        name = data.draw(st.sampled_from(sorted(self.versions)))
        labels = [f"v{i}" for i in range(len(self.versions[name]))]
        labels += ["latest", *self.aliases.get(name, {})]
        label = data.draw(st.sampled_from(labels))
        if label == "latest":
            n = len(self.versions[name]) - 1
        elif label.startswith("v"):
            n = int(label[1:])
        else:
            n = self.aliases[name][label]
        files, values = self.versions[name][n]
        art = open_store(self.url).artifact(f"{name}:{label}")
        assert art.version == f"v{n}"
        for path, content in files:
            assert art.read_bytes(path) == content
        assert art.value_names() == sorted(v for v, _ in values)
        for value, seed in values:
            got = art.get(value)
            assert got.numpy().tobytes() == clip(seed).numpy().tobytes()
            assert got.sample_rate == 8000 + seed
        media = {p for p in art.entries if p.startswith("media/")}
        assert media == {f"media/audio/{clip(s).sha256[:20]}.wav" for _, s in values}
        assert len(art.entries) == len(files) + len(values) + len(media)
        assert art.verify() == []

    @invariant()
    def names_versions_aliases(self):
        if not hasattr(self, "store"):
            return
        assert self.store.names() == sorted(self.versions)
        for name, versions in self.versions.items():
            assert self.store.versions(name) == [f"v{i}" for i in range(len(versions))]
            expected = {a: f"v{n}" for a, n in self.aliases.get(name, {}).items()}
            expected["latest"] = f"v{len(versions) - 1}"
            assert self.store.aliases(name) == dict(sorted(expected.items()))
        with pytest.raises(ArtifactNotFoundError):
            self.store.artifact("never-committed:latest")
