"""The ``artifacts`` command, run through its real entry points (the console script and
``python -m artifacts``) in subprocesses, on a local folder, the embedded default store, S3
(moto's server) and an S3 server that ignores conditional writes (rclone)."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import artifacts
from artifacts import Artifact, open_store
from media import Audio, FolderSource, Table, Value

SCRIPT = str(Path(sys.executable).with_name("artifacts"))


def cli(*args: str, cwd=None, env=None, entry: str = "script") -> subprocess.CompletedProcess:
    """Run the command; returns the finished process (text stdout/stderr)."""
    cmd = [SCRIPT] if entry == "script" else [sys.executable, "-m", "artifacts"]
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def ok(*args: str, **kw) -> str:
    done = cli(*args, **kw)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def fails(*args: str, code: int = 1, **kw) -> str:
    """Run a command that must fail with ``code`` and one line on stderr; returns the line."""
    done = cli(*args, **kw)
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    if code == 1:
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("artifacts: error: ")
        return lines[0][len("artifacts: error: ") :]
    return done.stderr


def tone(freq: float, seconds: float = 0.5, rate: int = 16000, dtype=np.float32) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = 0.5 * np.sin(2 * np.pi * freq * t)
    return (x * 32767).astype(dtype) if np.dtype(dtype).kind == "i" else x.astype(dtype)


@pytest.fixture
def url(tmp_path) -> str:
    """A local store with clips:v0 (alias best) and clips:v1."""
    url = str(tmp_path / "store")
    store = open_store(url)
    d = Artifact("clips", type="dataset", metadata={"source": "test"})
    d.add(Audio(tone(440), 16000, caption="a <b>440</b> tone"), "a440")
    d.add(Audio(tone(220, dtype=np.int16), 16000), "a220")
    d.add(Table(["clip", "label"], [[Audio(tone(880, 0.25), 16000), "high"]]), "table")
    store.commit(d, aliases=["best"])
    d = store.artifact("clips:v0").new_draft()
    d.add(Audio(tone(440, 0.25, 8000), 8000, caption="shorter"), "a440", overwrite=True)
    d.remove("a220")
    d.add(Audio(tone(330), 16000), "a330")
    d.metadata = {"source": "test", "round": 2}
    store.commit(d)
    return url


def write_wavs(folder: Path, n: int = 3) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"tone{i}.wav"
        sf.write(p, tone(200 + 100 * i), 16000, subtype="FLOAT")
        paths.append(p)
    return paths


# -- ls, versions, show -------------------------------------------------------------------
def test_ls_on_an_empty_default_store(tmp_path):
    out = ok("ls")
    where = os.environ["MEDIA_ARTIFACTS_STORE"]
    assert out.strip() == f"the default store at {where} is empty (the first commit creates it)"
    assert json.loads(ok("ls", "--json")) == []


def test_ls_and_versions(url):
    out = ok("ls", "--store", url)
    header, row = out.strip().splitlines()
    assert header.split() == ["NAME", "VERSIONS", "LATEST", "TYPE", "UPDATED", "ALIASES"]
    assert row.split()[:4] == ["clips", "2", "v1", "dataset"]
    assert "best:v0" in row and "latest" in row
    rows = json.loads(ok("--store", url, "ls", "--json"))  # --store before the command too
    assert [(r["name"], r["versions"], r["latest"], r["aliases"]) for r in rows] == [
        ("clips", 2, "v1", {"best": "v0", "latest": "v1"})
    ]
    versions = json.loads(ok("versions", "clips", "--store", url, "--json"))
    store = open_store(url)
    assert [v["version"] for v in versions] == ["v0", "v1"]
    assert [v["aliases"] for v in versions] == [["best"], ["latest"]]
    assert [v["digest"] for v in versions] == [
        store.artifact(f"clips:{v}").manifest["digest"] for v in ("v0", "v1")
    ]
    text = ok("versions", "clips", "--store", url)
    assert text.splitlines()[1].split()[0] == "v0" and "best" in text.splitlines()[1]


def test_show_prints_metadata_and_the_manifest_as_a_table(url):
    store = open_store(url)
    art = store.artifact("clips:v0")
    out = ok("show", "clips:best", "--files", "--store", url)
    lines = out.splitlines()
    assert lines[0] == "clips:v0"
    assert "  aliases      best" in out and '{"source": "test"}' in out
    table_start = next(i for i, ln in enumerate(lines) if ln.startswith("PATH"))
    paths = [ln.split()[0] for ln in lines[table_start + 1 :]]
    assert paths == sorted(art.manifest.entries)
    obj = json.loads(ok("show", "clips:v0", "--json", "--store", url))
    assert obj["aliases"] == ["best"]
    assert obj["entries"] == art.manifest.entries and obj["digest"] == art.digest


def test_show_marks_entries_taken_from_another_artifact(url):
    store = open_store(url)
    clip = store.artifact("clips:v0").get("a440")
    d = Artifact("picked", type="dataset")
    d.add(clip, "best")
    store.commit(d)
    out = ok("show", "picked", "--files", "--store", url)
    media = json.loads(store.artifact("picked").read_bytes("best.audio-file.json"))["path"]
    row = next(ln for ln in out.splitlines() if ln.startswith(media))
    assert row.split()[-1] == f"clips:v0/{media}"  # a reference: no bytes copied


# -- get ----------------------------------------------------------------------------------
def test_get_a_version(url, tmp_path):
    out = ok("get", "clips:v0", "-o", str(tmp_path / "dl"), "--store", url)
    assert out.strip() == str(tmp_path / "dl")
    art = open_store(url).artifact("clips:v0")
    got = sorted(
        str(p.relative_to(tmp_path / "dl")) for p in (tmp_path / "dl").rglob("*") if p.is_file()
    )
    assert got == sorted(art.manifest.entries)
    for path in got:
        assert (tmp_path / "dl" / path).read_bytes() == art.read_bytes(path)
    # the folder loads back without the store
    obj = json.loads((tmp_path / "dl" / "a440.audio-file.json").read_text())
    clip = Value.init_from_json(obj, FolderSource(tmp_path / "dl"))
    assert clip == art.get("a440")


def test_get_a_version_defaults_to_name_version_folder(url, tmp_path):
    ok("get", "clips", "--store", url, cwd=tmp_path)
    assert (tmp_path / "clips-v1" / "a330.audio-file.json").is_file()


def test_get_one_value_with_its_media(url, tmp_path):
    out = ok("get", "clips:v0", "a440", "-o", str(tmp_path / "one"), "--store", url)
    art = open_store(url).artifact("clips:v0")
    obj = json.loads(art.read_bytes("a440.audio-file.json"))
    written = {str(Path(p).relative_to(tmp_path / "one")) for p in out.split()}
    assert written == {"a440.audio-file.json", obj["path"]}
    clip = Value.init_from_json(obj, FolderSource(tmp_path / "one"))
    assert clip == art.get("a440") and clip.caption == "a <b>440</b> tone"


def test_get_one_file_to_a_file_or_into_a_folder(tmp_path):
    url = str(tmp_path / "store")
    wavs = write_wavs(tmp_path / "wavs")
    ok("put", "raw", str(tmp_path / "wavs"), "--store", url)
    out = ok("get", "raw:v0", "tone1.wav", "-o", str(tmp_path / "x.wav"), "--store", url)
    assert out.strip() == str(tmp_path / "x.wav")
    assert (tmp_path / "x.wav").read_bytes() == wavs[1].read_bytes()
    (tmp_path / "into").mkdir()
    ok("get", "raw", "tone2.wav", "-o", str(tmp_path / "into"), "--store", url)
    assert (tmp_path / "into" / "tone2.wav").read_bytes() == wavs[2].read_bytes()
    ok("get", "raw", "tone0.wav", "--store", url, cwd=tmp_path / "into")
    assert (tmp_path / "into" / "tone0.wav").read_bytes() == wavs[0].read_bytes()


def test_get_a_segment_to_a_file_writes_its_frames_only(tmp_path):
    url = str(tmp_path / "store")
    rec = np.arange(16000 * 3 * 2, dtype=np.int16).reshape(-1, 2)
    floats = tone(440, 1.0)
    d = Artifact("segs", "dataset")
    d.add(Audio(rec, 16000).segment(16000, 20000), "seg")
    d.add(Audio(floats, 16000).segment(100, 350), "fseg")
    open_store(url).commit(d)
    out = ok("get", "segs", "seg", "-o", str(tmp_path / "seg.wav"), "--store", url)
    assert out.strip() == str(tmp_path / "seg.wav")
    x, rate = sf.read(tmp_path / "seg.wav", dtype="int16")
    assert rate == 16000 and np.array_equal(x, rec[16000:20000])  # not the whole recording
    ok("get", "segs", "seg", "-o", str(tmp_path / "seg.flac"), "--store", url)
    y, _ = sf.read(tmp_path / "seg.flac", dtype="int16")
    assert (tmp_path / "seg.flac").read_bytes()[:4] == b"fLaC" and np.array_equal(y, x)
    ok("get", "segs", "fseg", "-o", str(tmp_path / "f.wav"), "--store", url)
    assert sf.info(tmp_path / "f.wav").subtype == "FLOAT"
    z, _ = sf.read(tmp_path / "f.wav", dtype="float32")
    assert np.array_equal(z, floats[100:350])  # lossless in its dtype
    msg = fails("get", "segs", "fseg", "-o", str(tmp_path / "f.flac"), "--store", url)
    assert msg.startswith("'fseg' cannot be written as FLAC: FLAC keeps int16")
    msg = fails("get", "segs", "seg", "-o", str(tmp_path / "seg.mp3"), "--store", url)
    assert "is an audio segment (frames 16000..20000 of a recording)" in msg
    assert not (tmp_path / "f.flac").exists() and not (tmp_path / "seg.mp3").exists()
    # a folder still gets the value as it is stored: its JSON and the recording's file
    files = ok("get", "segs", "seg", "-o", str(tmp_path / "dir"), "--store", url).split()
    assert any(f.endswith("seg.audio-segment.json") for f in files) and len(files) == 2


def test_get_unknown_entry_says_what_there_is(url):
    msg = fails("get", "clips:v0", "nothing", "--store", url)
    assert msg.startswith("no entry, value or folder 'nothing' in clips:v0; try ")
    assert "a440" in msg


def test_get_refuses_corrupt_bytes_and_leaves_nothing(url, tmp_path):
    store = open_store(url)
    entries = store.artifact("clips:v0").manifest.entries
    media = json.loads(entries["a220.audio-file.json"]["inline"])["path"]  # the JSON is inline
    e = entries[media]
    blob = Path(url) / "blobs" / "sha256" / e["digest"][:2] / e["digest"][2:]
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[:-2] + b"\x00\x01")
    msg = fails(
        "get", "clips:v0", "a220.audio-file.json", "-o", str(tmp_path / "x"), "--store", url
    )
    assert msg.startswith(f"clips:v0/{media}: ") and e["digest"] in msg
    assert not (tmp_path / "x").exists() and os.listdir(tmp_path) == ["store"]


# -- put ----------------------------------------------------------------------------------
def test_put_files_and_folders(tmp_path):
    url = str(tmp_path / "store")
    wavs = write_wavs(tmp_path / "wavs", 2)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    out = ok(
        "put", "set", str(tmp_path / "wavs"), str(notes), "--type", "model", "--alias", "best",
        "--alias", "gold", "--metadata", '{"lr": 0.1}', "--description", "two tones",
        "--store", url,
    )  # fmt: skip
    assert out.strip().startswith("committed set:v0 (3 entries, ")
    assert out.strip().endswith("aliases best, gold, latest)")
    art = open_store(url).artifact("set:gold")
    assert sorted(art.manifest.entries) == ["notes.txt", "tone0.wav", "tone1.wav"]
    assert (art.type, art.metadata, art.description) == ("model", {"lr": 0.1}, "two tones")
    assert art.read_bytes("tone1.wav") == wavs[1].read_bytes()
    # the same content again makes no version
    out = ok("put", "set", str(tmp_path / "wavs"), str(notes), "--type", "model", "--metadata",
             '{"lr": 0.1}', "--description", "two tones", "--store", url)  # fmt: skip
    assert out.startswith("no change: set:v0 already holds these files")
    # --update starts from latest: adds a file, keeps the others
    notes.write_text("changed")
    out = ok("put", "set", str(notes), "--update", "--store", url)
    assert out.startswith("committed set:v1 (3 entries")
    v1 = open_store(url).artifact("set:v1")
    assert v1.read_bytes("notes.txt") == b"changed" and v1.type == "model"
    # without --update, a new version holds exactly the given paths
    ok("put", "set", str(notes), "--store", url)
    assert sorted(open_store(url).artifact("set:v2").manifest.entries) == ["notes.txt"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["put", "x", "missing.wav"], "no such file or folder: 'missing.wav'"),
        (
            ["put", "bad name", "."],
            "Invalid artifact name 'bad name': use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
        ),
        (
            ["put", "x", ".", "--metadata", "[1]"],
            '--metadata must be a JSON object, e.g. \'{"source": "mic"}\'',
        ),  # fmt: skip
        (
            ["put", "x", ".", "--metadata", "{"],
            "--metadata is not JSON: Expecting property "
            "name enclosed in double quotes: line 1 column 2 (char 1)",
        ),  # fmt: skip
        (["put", "x", ".", "--update"], "--update: there is no artifact 'x' yet in {store}"),
        (
            ["put", "x", "f.txt", "sub/f.txt"],
            "'sub/f.txt': an entry named 'f.txt' is already in x:draft; another path of this "
            "command gives it; rename one, or put them in separate commands",
        ),
        (
            ["put", "x", ".", "sub", "--audiofolder", "train"],
            "--audiofolder train makes one table of one folder; give one folder, or run put "
            "once per folder with a different --audiofolder name for each",
        ),
        (
            ["put", "x", ".", "--alias", "v2"],
            "Invalid alias 'v2': use 1-128 letters, digits, '.', '_' or '-', not of the form vN "
            "(that names a version)",
        ),
    ],
)
def test_put_mistakes_print_one_line(tmp_path, args, message):
    url = str(tmp_path / "store")
    (tmp_path / "f.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f.txt").write_text("y")
    assert fails(*args, "--store", url, cwd=tmp_path) == message.replace("{store}", url)
    assert open_store(url).names() == []


# -- verify -------------------------------------------------------------------------------
def test_verify_ok_then_corrupt(url):
    n1 = len(open_store(url).artifact("clips:v1"))
    out = ok("verify", "--store", url)
    assert out.splitlines() == [
        "ok       clips:v0  6 entries",
        f"ok       clips:v1  {n1} entries",
        "create-if-absent: honoured (concurrent commits are safe)",
        f"verified 2 version(s), {6 + n1} entries: all ok",
    ]
    assert ok("verify", "clips:best", "--store", url).splitlines()[0] == (
        "ok       clips:v0  6 entries"
    )
    entries = open_store(url).artifact("clips:v1").manifest.entries
    media = json.loads(entries["a330.audio-file.json"]["inline"])["path"]  # the JSON is inline
    e = entries[media]
    blob = Path(url) / "blobs" / "sha256" / e["digest"][:2] / e["digest"][2:]
    blob.chmod(0o644)
    blob.unlink()
    done = cli("verify", "--store", url)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "ok       clips:v0  6 entries",
        "CORRUPT  clips:v1  1 problem(s)",
        f"    {media}: clips:v1/{media}: its blob {e['digest'][:16]}... is missing",
        "create-if-absent: honoured (concurrent commits are safe)",
    ]
    assert done.stderr == "1 of 2 version(s) corrupt\n"
    done = cli("verify", "clips", "--store", url)  # every version of one artifact
    assert done.returncode == 1 and "CORRUPT  clips:v1" in done.stdout
    assert cli("verify", "clips:v0", "--store", url).returncode == 0


@pytest.mark.parametrize("sealed", [True, False], ids=["sealed", "written before seals"])
def test_verify_counts_an_altered_manifest_as_corrupt(url, sealed):
    path = Path(url) / "artifacts" / "clips" / "versions" / "v0.json"
    path.chmod(0o644)
    obj = json.loads(path.read_text())
    obj["entries"]["a440.audio-file.json"]["size"] += 1
    if not sealed:  # as the code before seals wrote it: checked by its digest alone
        del obj["_seal"]
    path.write_text(json.dumps(obj))
    done = cli("verify", "--store", url)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0] == "CORRUPT  clips:v0  1 problem(s)"
    assert lines[1].startswith("    manifest: ") and lines[1].endswith(
        "the manifest of clips:v0 does not match its seal (it was altered after it was "
        "written: an entry, its derived data or the metadata); restore the file from a backup "
        "of the store"
        if sealed
        else "manifest digest does not match its entries (it was altered)"
    )
    assert lines[2] == f"ok       clips:v1  {len(open_store(url).artifact('clips:v1'))} entries"


def test_verify_unknown_version(url):
    assert fails("verify", "clips:v7", "--store", url) == (
        f"no version or alias 'clips:v7' in {url}; clips has versions v0..v1 and aliases "
        "best, latest"
    )
    assert fails("verify", "nope", "--store", url) == f"no artifact named 'nope' in {url}"


@pytest.fixture
def rclone_env(tmp_path):
    """An S3 server (rclone) that ignores If-None-Match; yields (env, bucket URL)."""
    from conftest import free_port

    port = free_port()
    root = tmp_path / "rclone"
    (root / "bucket").mkdir(parents=True)
    exe = shutil.which("rclone", path=str(Path(sys.executable).parent)) or "rclone"
    proc = subprocess.Popen(
        [exe, "serve", "s3", "--auth-key", "key,secret", "--addr", f"127.0.0.1:{port}", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import socket

        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        env = dict(
            os.environ,
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
            AWS_ACCESS_KEY_ID="key",
            AWS_SECRET_ACCESS_KEY="secret",
            AWS_DEFAULT_REGION="us-east-1",
        )
        yield env, "s3://bucket/store"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_verify_and_put_on_a_backend_that_ignores_create_if_absent(rclone_env, tmp_path):
    env, url = rclone_env
    write_wavs(tmp_path / "wavs", 2)
    msg = fails("put", "clips", str(tmp_path / "wavs"), "--store", url, env=env)
    assert msg.startswith(f"{url} does not honour create-if-absent")
    assert msg.endswith("open it with open_store(url, single_writer=True)")
    out = ok("put", "clips", str(tmp_path / "wavs"), "--single-writer", "--store", url, env=env)
    assert out.startswith("committed clips:v0 (2 entries")
    out = ok("verify", "--store", url, env=env)
    assert out.splitlines()[1] == (
        "create-if-absent: NOT honoured by this backend (a second create of the same file "
        "succeeded); commit with --single-writer, one process at a time"
    )


# -- gc -----------------------------------------------------------------------------------
def test_gc_dry_run_grace_and_delete(url):
    orphan_digest = "ab" + "0" * 62
    orphan = Path(url) / "blobs" / "sha256" / "ab" / orphan_digest[2:]
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"x" * 1000)
    live = len(open_store(url).live_blobs())
    out = ok("gc", "--store", url)  # default grace: a fresh file is kept
    assert (
        out.strip()
        == f"deleted 0 file(s), 0 B; {live} live blob(s) and 0 pack(s) kept, 1 younger than "
        "3600 s kept"
    )
    out = ok("gc", "--dry-run", "--grace", "0", "--store", url)
    assert out.splitlines() == [
        f"  blobs/sha256/ab/{orphan_digest[2:]}",
        f"would delete 1 file(s), 1000 B; {live} live blob(s) and 0 pack(s) kept, 0 younger "
        "than 0 s kept",
    ]
    assert orphan.exists()
    out = ok("gc", "--grace", "0", "--store", url)
    assert out.strip().startswith("deleted 1 file(s), 1000 B;")
    assert not orphan.exists()
    assert ok("verify", "--store", url).endswith("all ok\n")


def test_gc_usage_errors():
    err = fails("gc", "--grace", "-1", code=2)
    assert "argument --grace: invalid seconds '-1': give a number >= 0" in err
    err = fails("gc", "--grace", "soon", code=2)
    assert "argument --grace: invalid seconds 'soon': give a number" in err


# -- diff ---------------------------------------------------------------------------------
def test_diff_lists_entries_and_audio_metadata_changes(url):
    out = ok("diff", "clips:v0", "clips:v1", "--store", url)
    lines = out.splitlines()
    assert lines[0] == "clips:v0 -> clips:v1"
    assert "  metadata.round: null -> 2" in lines
    assert "  - a220.audio-file.json" in lines and "  + a330.audio-file.json" in lines
    assert "  ~ a440.audio-file.json" in lines
    a440 = next(ln for ln in lines if ln.startswith("  a440: "))
    assert "sample_rate 16000 -> 8000" in a440 and "duration 0.5 -> 0.25" in a440
    assert 'caption "a <b>440</b> tone" -> "shorter"' in a440 and "samples changed" in a440
    d = json.loads(ok("diff", "clips:v0", "clips:v1", "--json", "--store", url))
    assert d["values"]["a220"] == {"status": "removed", "changes": {}}
    assert d["values"]["a330"] == {"status": "added", "changes": {}}
    changes = d["values"]["a440"]["changes"]
    assert changes["sample_rate"] == [16000, 8000] and changes["caption"][1] == "shorter"
    assert "channels" not in changes and "table" not in d["values"]
    assert d["artifact"] == {"metadata.round": [None, 2]}
    same = json.loads(ok("diff", "clips:v1", "clips:latest", "--json", "--store", url))
    assert (same["added"], same["removed"], same["changed"], same["values"]) == ([], [], [], {})


def test_diff_says_samples_changed_only_when_they_did(tmp_path):
    url = str(tmp_path / "store")
    store = open_store(url)
    x = np.arange(-50, 50, dtype=np.int16)
    rec = Audio(np.arange(16000, dtype=np.int16), 16000)
    d = Artifact("df", "dataset")
    d.add(Audio(x, 8000, caption="c"), "a")
    d.add(Audio(x, 8000), "b")
    d.add(rec.segment(0, 1000), "s")
    d.add(Audio(x, 8000), "w")
    v0 = store.commit(d)
    d = v0.new_draft()
    d.add(Audio(x, 8000, caption="c", format="flac"), "a", overwrite=True)  # same samples
    d.add(Audio(x.astype(np.int32) * 65536, 8000), "b", overwrite=True)
    d.add(v0.get("s").recording.segment(5000, 6000), "s", overwrite=True)  # same file
    d.add(Audio(x[::-1].copy(), 8000), "w", overwrite=True)  # same format, other samples
    store.commit(d)
    lines = ok("diff", "df:v0", "df:v1", "--store", url).splitlines()
    said = {ln.split(":")[0].strip(): ln.split(": ", 1)[1] for ln in lines if ": " in ln}
    assert said["a"] == 'format "wav" -> "flac"; file changed, samples equal'
    assert said["b"] == 'dtype "int16" -> "int32"; samples changed'
    assert said["s"] == "start 0 -> 5000; stop 1000 -> 6000; samples changed"
    assert said["w"] == "samples changed"
    values = json.loads(ok("diff", "df:v0", "df:v1", "--json", "--store", url))["values"]
    assert values["a"]["changes"]["format"] == ["wav", "flac"]
    assert "samples" not in values["a"]["changes"] and "extension" not in values["a"]["changes"]
    assert values["s"]["changes"]["samples"] == [None, "changed"]


def test_diff_unknown_version(url):
    assert fails("diff", "clips:v0", "clips:v9", "--store", url).startswith(
        "no version or alias 'clips:v9'"
    )


# -- alias --------------------------------------------------------------------------------
def test_alias_set_and_remove(url):
    assert ok("alias", "set", "clips:v1", "gold", "--store", url).strip() == "clips:gold -> v1"
    assert ok("alias", "set", "clips:best", "silver", "--store", url).strip() == (
        "clips:silver -> v0"
    )
    assert open_store(url).aliases("clips") == {
        "best": "v0",
        "gold": "v1",
        "latest": "v1",
        "silver": "v0",
    }
    assert ok("alias", "remove", "clips:gold", "--store", url).strip() == "removed clips:gold"
    assert ok("alias", "remove", "clips", "silver", "--store", url).strip() == (
        "removed clips:silver"
    )
    assert open_store(url).aliases("clips") == {"best": "v0", "latest": "v1"}
    assert fails("alias", "remove", "clips:gold", "--store", url) == (
        f"no alias clips:gold in {url}"
    )
    assert fails("alias", "remove", "clips:latest", "--store", url) == (
        "'latest' always names the newest version and cannot be removed"
    )
    assert fails("alias", "remove", "clips", "--store", url) == (
        "name the alias to remove: clips:ALIAS or clips ALIAS"
    )
    assert fails("alias", "remove", "clips:v0", "--store", url) == (
        "'v0' is a version, not an alias; versions cannot be removed"
    )
    assert fails("alias", "set", "clips:v5", "x", "--store", url).startswith(
        "no version or alias 'clips:v5'"
    )
    assert "invalid choice: 'move'" in fails("alias", "move", "clips", "x", code=2)


# -- view ---------------------------------------------------------------------------------
def test_view_writes_one_page(url, tmp_path):
    out = ok("view", "clips:v0", "-o", str(tmp_path / "v0.html"), "--store", url)
    assert out.strip() == str(tmp_path / "v0.html")
    page = (tmp_path / "v0.html").read_text()
    assert page.count("<audio ") == 3
    assert "a &lt;b&gt;440&lt;/b&gt; tone" in page and "<b>440</b>" not in page
    assert page.count('class="spectrogram"') == 2  # table cells show a waveform only
    assert page.count('class="waveform"') == 3
    ok("view", "clips:v0", "clips:v1", "--store", url, cwd=tmp_path)
    pair = (tmp_path / "clips-v0-vs-clips-v1.html").read_text()
    assert 'data-status="changed"' in pair and 'data-status="removed"' in pair
    assert "a440: changed (sample_rate 16000 → 8000" in pair
    ok("view", "clips:v0", "--limit", "1", "-o", str(tmp_path / "cap.html"), "--store", url)
    cap = (tmp_path / "cap.html").read_text()
    assert cap.count("<audio ") == 1
    assert "showing 1 of 3 clips (the first 1); use --limit N to show more" in cap


def test_view_usage_errors(url):
    assert "view takes one or two versions" in fails("view", "a", "b", "c", code=2)
    assert "argument --limit: invalid count '0': give a number >= 1" in fails(
        "view", "clips", "--limit", "0", code=2
    )
    assert fails("view", "clips:v3", "--store", url).startswith("no version or alias 'clips:v3'")


# -- the command itself -------------------------------------------------------------------
def test_usage_errors_exit_2():
    done = cli()
    assert done.returncode == 2 and "the following arguments are required: COMMAND" in done.stderr
    assert "invalid choice: 'lss'" in fails("lss", code=2)
    assert "the following arguments are required: name" in fails("versions", code=2)
    done = cli("--help")
    assert done.returncode == 0
    for command in (
        "ls",
        "versions",
        "show",
        "get",
        "put",
        "verify",
        "gc",
        "diff",
        "alias",
        "view",
    ):
        assert command in done.stdout


def test_python_dash_m_is_the_same_command(url):
    done = cli("ls", "--json", "--store", url, entry="module")
    assert done.returncode == 0, done.stderr
    assert [r["name"] for r in json.loads(done.stdout)] == ["clips"]
    done = cli("show", "nope", "--store", url, entry="module")
    assert (done.returncode, done.stderr) == (
        1,
        f"artifacts: error: no artifact named 'nope' in {url}; artifacts: clips\n",
    )


def test_store_that_is_not_a_store(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "store.json").write_text("{}")
    msg = fails("ls", "--store", str(tmp_path / "s"))
    assert msg.startswith(f"{tmp_path / 's'} has a store.json that is not a media-artifacts store")


def test_default_store_is_the_embedded_one(tmp_path):
    write_wavs(tmp_path / "wavs", 1)
    ok("put", "clips", str(tmp_path / "wavs"))
    default = os.environ["MEDIA_ARTIFACTS_STORE"]
    assert artifacts.open_store(default).versions("clips") == ["v0"]
    assert json.loads(ok("ls", "--json"))[0]["name"] == "clips"


@pytest.mark.s3
def test_s3_store(s3_bucket, tmp_path):
    url = f"{s3_bucket}/store"
    wavs = write_wavs(tmp_path / "wavs")
    assert ok("put", "clips", str(tmp_path / "wavs"), "--alias", "best", "--store", url).startswith(
        "committed clips:v0 (3 entries"
    )
    assert [r["name"] for r in json.loads(ok("ls", "--json", "--store", url))] == ["clips"]
    ok("get", "clips:best", "-o", str(tmp_path / "dl"), "--store", url)
    for w in wavs:
        assert (tmp_path / "dl" / w.name).read_bytes() == w.read_bytes()
    out = ok("verify", "--store", url)
    assert out.splitlines() == [
        "ok       clips:v0  3 entries",
        "create-if-absent: honoured (concurrent commits are safe)",
        "verified 1 version(s), 3 entries: all ok",
    ]
    ok("view", "clips", "-o", str(tmp_path / "s3.html"), "--store", url)
    assert (tmp_path / "s3.html").read_text().count("<audio ") == 3
    assert fails("show", "clips:v1", "--store", url).startswith("no version or alias 'clips:v1'")


# -- progress bars ------------------------------------------------------------------------
def run_in_pty(args: list[str], cwd) -> tuple[int, str]:
    """Run the command with stderr (only) on a terminal; returns (exit code, what it showed)."""
    main, child = pty.openpty()
    # a real terminal has a size; tqdm draws nothing on a 0-column one
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(
        [SCRIPT, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=child, stdin=subprocess.DEVNULL
    )
    os.close(child)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        if not ready:
            proc.kill()
            raise AssertionError("the command printed nothing for 60 s")
        try:
            data = os.read(main, 4096)
        except OSError as exc:  # EIO: the child closed the terminal
            if exc.errno != errno.EIO:
                raise
            data = b""
        if not data:
            break
        chunks.append(data)
    os.close(main)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_progress_bars_on_a_terminal_only(tmp_path):
    url = str(tmp_path / "store")
    write_wavs(tmp_path / "wavs", 4)
    # stderr is a pipe: nothing but the result on stdout
    done = cli("put", "a", str(tmp_path / "wavs"), "--store", url)
    assert done.returncode == 0 and done.stderr == ""
    done = cli("verify", "--store", url)
    assert done.returncode == 0 and done.stderr == ""
    # stderr is a terminal: bars (tqdm draws with carriage returns)
    code, shown = run_in_pty(["put", "b", str(tmp_path / "wavs"), "--store", url], tmp_path)
    assert code == 0
    assert "commit b" in shown and "file" in shown and "\r" in shown
    code, shown = run_in_pty(["verify", "--store", url], tmp_path)
    assert code == 0 and "verify" in shown and "\r" in shown
    code, shown = run_in_pty(["get", "b", "-o", str(tmp_path / "dl"), "--store", url], tmp_path)
    assert code == 0 and "download" in shown
    # --quiet: nothing, even on a terminal
    code, shown = run_in_pty(["verify", "--quiet", "--store", url], tmp_path)
    assert (code, shown) == (0, "")
    write_wavs(tmp_path / "more", 5)
    code, shown = run_in_pty(["-q", "put", "c", str(tmp_path / "more"), "--store", url], tmp_path)
    assert (code, shown) == (0, "")


# -- make demo ----------------------------------------------------------------------------
def test_demo_runs_twice_on_the_default_store(tmp_path):
    out = tmp_path / "demo.html"
    cmd = [sys.executable, "-W", "error", "-m", "artifacts.demo", str(out)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == f"store: {os.environ['MEDIA_ARTIFACTS_STORE']}"
    assert (
        lines[1]
        == "1. saved demo-clips:v0 (3 clips) and demo-clips:v1 (+ beep); aliases first, latest"
    )
    assert sum("bit-exact True" in ln for ln in lines) == 4
    # 3 unchanged clips shown once (folded away), the added beep on the new side
    assert lines[-2] == f"preview: {out}" and out.read_text().count("<audio ") == 4
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout  # equal content: no new versions
    store = open_store(os.environ["MEDIA_ARTIFACTS_STORE"])
    assert store.versions("demo-clips") == ["v0", "v1"] and store.names() == [
        "demo-annotated",
        "demo-clips",
    ]
    assert re.search(r"^verified 3 version\(s\), \d+ entries: all ok$", ok("verify"), re.M)


def test_progress_flag_of_the_store(tmp_path, capsys):
    """In-process: ``progress=True`` forces bars onto a non-terminal stderr; the default
    (auto) prints nothing there."""
    wavs = write_wavs(tmp_path / "wavs", 3)
    for progress, url in ((None, tmp_path / "auto"), (True, tmp_path / "forced")):
        store = open_store(url, progress=progress)
        d = Artifact("clips", type="dataset")
        for w in wavs:
            d.add_file(w)
        art = store.commit(d)
        art.verify()
        art.download(tmp_path / f"dl-{progress}")
        # (a committed blob may live there: libsndfile stamps the time in a float WAV)
        (Path(url) / "blobs" / "sha256" / "ab").mkdir(exist_ok=True)
        for n in range(2):
            (Path(url) / "blobs" / "sha256" / "ab" / f"{n:062d}").write_bytes(b"x")
        assert len(store.gc(grace=0).deleted) == 2
        err = capsys.readouterr().err
        if progress is None:
            assert err == ""
        else:
            for desc in ("commit clips", "verify", "download", "gc"):
                assert f"{desc}: " in err
            assert "/3 " in err and "/2 " in err  # the totals: 3 files, 2 orphans
