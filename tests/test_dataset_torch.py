"""The dataset view with PyTorch's real DataLoader (map-style, batch plans as batch samplers,
worker processes)."""

from __future__ import annotations

import pickle

import numpy as np
import torch
from torch.utils.data import DataLoader

import artifacts
from artifacts import Artifact
from media import Audio, Table


def make(store, n=20):
    t = Table(columns=["clip", "label"])
    for i in range(n):
        t.add_data(Audio(np.full(50 + 10 * i, i, dtype=np.int16), 1000), i % 4)
    draft = Artifact("speech", "dataset")
    draft.add(t, "train")
    return store.commit(draft)


def collate(rows):
    """Pad the clips of a batch; labels as a tensor."""
    waves = [torch.from_numpy(r["clip"].numpy().astype(np.float32)) for r in rows]
    padded = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)
    return padded, torch.tensor([r["label"] for r in rows])


def test_dataloader_with_a_batch_plan(store):
    ds = make(store).dataset("train")
    plan = list(ds.batches(6, seed=4))
    loader = DataLoader(ds, batch_sampler=ds.batches(6, seed=4), collate_fn=collate)
    assert len(loader) == len(plan) == 4
    for (waves, labels), rows in zip(loader, plan, strict=True):
        assert labels.tolist() == [i % 4 for i in rows]
        assert waves.shape == (len(rows), 50 + 10 * max(rows))
        for w, i in zip(waves, rows):
            assert w[: 50 + 10 * i].eq(i).all() and w[50 + 10 * i :].eq(0).all()


def test_dataloader_plain_map_style(store):
    ds = make(store, n=7).dataset("train")
    loader = DataLoader(ds, batch_size=3, shuffle=False, collate_fn=lambda rows: rows)
    got = [[r["label"] for r in batch] for batch in loader]
    assert got == [[0, 1, 2], [3, 0, 1], [2]]


def test_dataloader_workers(tmp_path):
    store = artifacts.open_store(str(tmp_path / "s"))
    ds = make(store).dataset("train")
    plan = ds.batches(5, seed=1, epoch=3)
    want = [[i % 4 for i in b] for b in ds.batches(5, seed=1, epoch=3)]
    loader = DataLoader(ds, batch_sampler=plan, collate_fn=collate, num_workers=2)
    assert [labels.tolist() for _, labels in loader] == want
    # a worker started by "spawn" gets the dataset pickled: it opens the store again
    again = pickle.loads(pickle.dumps(ds))
    assert len(again) == len(ds) and again[3]["clip"].numpy().tolist() == [3] * 80
