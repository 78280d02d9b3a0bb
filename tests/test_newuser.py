"""What a new user met first (issue 13): set-up, imports beside look-alike folders, stores that
reading must not create, runs, custom types, immutable versions, the command line."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import fsspec
import numpy as np
import pytest
from conftest import BACKENDS, store_url

import artifacts
import media
import schemas
from artifacts import Artifact, Run, read_history
from artifacts.cli import main as cli
from media import Audio, Value

REPO = Path(__file__).resolve().parents[1]


def run_python(code: str, cwd: Path, script: Path | None = None) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter, as ``python -c`` in ``cwd`` or as a script file."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if script is None:
        argv = [sys.executable, "-c", code]
    else:
        script.write_text(code, encoding="utf-8")
        argv = [sys.executable, str(script)]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def cli_main(*args: str) -> SimpleNamespace:
    """The ``artifacts`` command in this process: exit code, stdout and stderr."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(list(args))
    return SimpleNamespace(code=code, out=out.getvalue(), err=err.getvalue())


# -- 3: folders named like the packages ---------------------------------------------------
IMPORTS = textwrap.dedent(
    """
    from artifacts import open_store
    from media import Audio
    import artifacts, media, schemas
    print(artifacts.__file__, media.__file__, schemas.__file__)
    """
)


def test_the_install_imports_beside_folders_named_artifacts_and_media(tmp_path):
    for name in ("artifacts", "media", "schemas"):
        (tmp_path / name).mkdir()
    (tmp_path / "scripts" / "artifacts").mkdir(parents=True)
    (tmp_path / "scripts" / "media").mkdir()
    for done in (
        run_python(IMPORTS, tmp_path),  # python -c in that folder
        run_python(IMPORTS, tmp_path, tmp_path / "scripts" / "job.py"),  # a script beside them
    ):
        assert done.returncode == 0, done.stderr
        files = done.stdout.split()
        assert [Path(f).parent.name for f in files] == ["artifacts", "media", "schemas"]
        assert all(Path(f).name == "__init__.py" for f in files)


def test_download_by_default_makes_no_folder_that_shadows_the_package(tmp_path):
    code = textwrap.dedent(
        f"""
        import os
        from artifacts import Artifact, open_store
        store = open_store({str(tmp_path / "store")!r})
        draft = Artifact("clips", "dataset")
        with draft.new_file("hello.txt", "wb") as f:
            f.write(b"hello")
        print(store.commit(draft).download())
        """
    )
    work = tmp_path / "work"
    work.mkdir()
    done = run_python(code, work)
    assert done.returncode == 0, done.stderr
    root = Path(done.stdout.strip())
    assert root == work / "artifact-downloads" / "clips-v0"
    assert (root / "hello.txt").read_bytes() == b"hello"
    assert sorted(os.listdir(work)) == ["artifact-downloads"]
    again = run_python(IMPORTS, work)  # and the library still imports there
    assert again.returncode == 0, again.stderr


# -- 4: make demo installs the run-time dependencies only ----------------------------------
def _make_plan(target: str) -> str:
    done = subprocess.run(
        ["make", "-n", "-B", target], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_demo_installs_no_test_extra_and_make_test_does():
    demo = _make_plan("demo")
    installs = [ln for ln in demo.splitlines() if "pip install" in ln and "--upgrade pip" not in ln]
    assert installs and all("[test]" not in ln for ln in installs), demo
    assert "editable_mode=compat" in installs[0]
    assert "artifacts.demo" in demo
    test = _make_plan("test")
    assert re.search(r"pip install .*'\.\[test\]'", test), test
    assert "libsox-fmt-mp3" in test and "pytest" in test


def test_readme_says_how_to_install_into_ones_own_environment():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert "pip install path/to/media-artifacts " in text
    assert 'pip install "path/to/media-artifacts[s3,progress]"' in text


def test_a_regular_install_works_beside_look_alike_folders(tmp_path):
    """What the README's ``pip install path/to/media-artifacts`` makes (not editable)."""
    src = tmp_path / "src"
    tracked = subprocess.run(
        [
            "git",
            "ls-files",
            "setup.cfg",
            "pyproject.toml",
            "README.md",
            "media",
            "artifacts",
            "schemas",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for rel in tracked:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes((REPO / rel).read_bytes())
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    work = tmp_path / "work"
    (work / "artifacts").mkdir(parents=True)
    (work / "media").mkdir()
    code = IMPORTS + textwrap.dedent(
        """
        import numpy as np
        store = open_store("memory://readme-install")
        draft = __import__("artifacts").Artifact("c", "dataset")
        draft.add(Audio(np.zeros(8, np.float32), 8000), "z")
        assert store.commit(draft).get("z").frames == 8
        """
    )
    env = dict(os.environ, PYTHONPATH=str(target))
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert all(f.startswith(str(target)) for f in done.stdout.split()), done.stdout


# -- 5: reading never creates a store -------------------------------------------------------
def _everything_under(url: str) -> list[str]:
    fs, root = fsspec.core.url_to_fs(url)
    return sorted(fs.find(root)) if fs.exists(root) else []


@pytest.fixture(params=BACKENDS)
def nowhere(request, tmp_path) -> str:
    """A location on each backend that holds no store (a local folder that does not exist)."""
    return store_url(request.param, tmp_path, request)


def test_reading_a_location_without_a_store_creates_nothing_and_says_so(nowhere):
    store = artifacts.open_store(nowhere)
    assert store.names() == [] and store.versions("clips") == []
    for read in (
        lambda: store.artifact("clips:v0"),
        lambda: store.artifact("clips:latest"),
        lambda: store.artifact("clips:best"),
        lambda: store.aliases("clips"),
        lambda: store.lineage("clips:v0"),
    ):
        with pytest.raises(artifacts.StoreNotFoundError) as caught:
            read()
        assert store.url in str(caught.value) and "commit" in str(caught.value)
        assert isinstance(caught.value, artifacts.ArtifactNotFoundError)
    with pytest.raises(artifacts.StoreNotFoundError, match="no store at"):
        store.gc()  # a mistyped location: said so, and nothing made
    assert _everything_under(nowhere) == []
    assert not store.exists()
    # the first commit creates it
    draft = Artifact("clips", "dataset")
    draft.add(Audio(np.zeros(8, np.float32), 8000), "z")
    store.commit(draft)
    assert store.exists()
    assert artifacts.open_store(nowhere).artifact("clips:v0").get("z").frames == 8


def test_a_first_commit_that_fails_leaves_no_store(tmp_path):
    url = str(tmp_path / "store")
    store = artifacts.open_store(url)
    gone = tmp_path / "gone.txt"
    gone.write_text("soon gone")
    draft = Artifact("notes", "dataset")
    draft.add_file(gone)
    gone.unlink()
    with pytest.raises(OSError):
        store.commit(draft)
    assert not store.exists() and _everything_under(url) == []


def test_a_local_folder_without_a_store_stays_as_it_was(tmp_path):
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "passwd").write_text("root:x:0:0\n")
    for args in (
        ["ls"],
        ["versions", "clips"],
        ["show", "clips"],
        ["get", "clips", "-o", str(tmp_path / "out")],
        ["verify"],
        ["verify", "clips"],
        ["diff", "clips:v0", "clips:v1"],
        ["view", "clips", "-o", str(tmp_path / "v.html")],
        ["gc"],
    ):
        done = cli_main("--store", str(folder), *args)
        assert done.code == 1, (args, done)
        assert f"no store at {folder}" in done.err and "commit" in done.err, (args, done.err)
        assert "ok" not in done.out
    assert sorted(os.listdir(folder)) == ["passwd"]
    assert sorted(os.listdir(tmp_path)) == ["etc"]


def test_the_empty_default_store_lists_as_empty(tmp_path):
    done = cli_main("ls")
    assert done.code == 0, done.err
    assert "empty" in done.out and artifacts.default_store_path() in done.out
    assert cli_main("ls", "--json").out.strip() == "[]"
    assert not os.path.exists(artifacts.default_store_path())
    done = cli_main("verify")  # nothing to vouch for: not "all ok"
    assert done.code == 1 and "no store at" in done.err


# -- 6: a new run never writes into another run's folder -----------------------------------
def test_a_second_run_on_a_run_folder_is_refused_unless_resumed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = Run(dir=tmp_path / "run")
    first.log({"x": 1})
    before = (tmp_path / "run" / "history.jsonl").read_bytes()
    with pytest.raises(FileExistsError, match=r"already holds a run .*resume=True"):
        Run(dir=tmp_path / "run")
    assert (tmp_path / "run" / "history.jsonl").read_bytes() == before
    again = Run(dir=tmp_path / "run", resume=True)
    assert again.step == 1
    again.log({"x": 2})
    assert [r["x"] for r in read_history(tmp_path / "run")] == [1, 2]
    # two runs without a dir get two folders
    a, b = Run(), Run()
    assert a.dir != b.dir


def test_a_resumed_run_keeps_the_id_its_lineage_recorded(tmp_path):
    store = artifacts.open_store(tmp_path / "store")
    with Run(dir=tmp_path / "run", store=store) as run:
        run.log_artifact(Artifact("clips", "dataset"))
    resumed = Run(dir=tmp_path / "run", store=store, resume=True)
    assert resumed.id == run.id
    resumed.use_artifact("clips:v0")
    assert store.lineage("clips:v0")["used_by"] == [run.id]
    assert Run(dir=tmp_path / "fresh", resume=True).step == 0  # nothing to resume: a new run


# -- 7: custom types the wandb way (no json_schema), plugins that fail to load ------------
class Note(Value):
    """A value type as wandb users write them: a tag, to_json and from_json, no schema."""

    artifact_type = "newuser-note"

    def __init__(self, text):
        self.text = text

    def to_json(self, run_or_artifact):
        return {"_type": self.artifact_type, "text": self.text}

    @classmethod
    def from_json(cls, json_obj, source_artifact):
        return cls(json_obj["text"])

    def _eq_key(self):
        return self.text


def test_a_type_without_a_schema_registers_and_round_trips(own_registry, tmp_path):
    assert media.register(Note) is Note
    assert schemas.load("newuser-note")["properties"] == {"_type": {"const": "newuser-note"}}
    store = artifacts.open_store(tmp_path / "store")
    draft = Artifact("notes", "dataset")
    draft.add(Note("hello"), "n")
    assert store.commit(draft).get("n") == Note("hello")
    assert artifacts.open_store(tmp_path / "store").artifact("notes:v0").get("n") == Note("hello")
    run = Run(dir=tmp_path / "run")
    run.log({"note": Note("again")})
    assert run.history()[0]["note"] == Note("again")
    with pytest.raises(schemas.SchemaError, match=r"\$\._type"):
        schemas.validate({"_type": "another", "text": "x"}, "newuser-note")


def test_a_given_schema_is_used_instead(own_registry):
    class Checked(Note):
        artifact_type = "newuser-checked"
        json_schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["_type", "text"],
            "properties": {"_type": {"const": "newuser-checked"}, "text": {"type": "string"}},
        }

    media.register(Checked)
    assert schemas.load("newuser-checked") == Checked.json_schema
    with pytest.raises(schemas.SchemaError, match=r"\$\.text"):
        Value.init_from_json({"_type": "newuser-checked", "text": 5}, None)


@pytest.fixture
def installed_plugins(own_registry, tmp_path, monkeypatch):
    """A distribution with two entry points on sys.path, as if installed: a schemaless type
    and one whose module cannot be imported."""
    site = tmp_path / "site"
    info = site / "newuser_plugins-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: newuser-plugins\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[media.types]\n"
        "newuser-plain = newuser_plain_types:Plain\n"
        "newuser-broken = newuser_broken_types:Broken\n"
    )
    (site / "newuser_plain_types.py").write_text(
        textwrap.dedent(
            """
            from media import Value

            class Plain(Value):
                artifact_type = "newuser-plain"

                def __init__(self, n):
                    self.n = n

                def to_json(self, run_or_artifact):
                    return {"_type": "newuser-plain", "n": self.n}

                @classmethod
                def from_json(cls, json_obj, source_artifact):
                    return cls(json_obj["n"])

                def _eq_key(self):
                    return self.n
            """
        )
    )
    (site / "newuser_broken_types.py").write_text("import a_dependency_that_is_not_there\n")
    monkeypatch.syspath_prepend(str(site))
    yield
    for name in ("newuser_plain_types", "newuser_broken_types"):
        sys.modules.pop(name, None)


def test_a_schemaless_plugin_loads(installed_plugins):
    plain = Value.init_from_json({"_type": "newuser-plain", "n": 3}, None)
    assert type(plain).__name__ == "Plain" and plain.n == 3


def test_a_plugin_that_fails_to_load_is_named_as_installed_but_broken(installed_plugins):
    with pytest.warns(media.PluginWarning, match="newuser-broken"):
        with pytest.raises(media.UnknownTypeError) as caught:
            Value.init_from_json({"_type": "newuser-broken"}, None)
    message = str(caught.value)
    assert "installed but could not be loaded" in message
    assert "a_dependency_that_is_not_there" in message
    assert "install the plugin" not in message
    with pytest.raises(media.UnknownTypeError, match="installed but could not be loaded"):
        media.lookup("newuser-broken")  # asked again: still said, without a second warning


# -- 8: committed versions are immutable ---------------------------------------------------
@pytest.fixture
def committed(tmp_path):
    store = artifacts.open_store(tmp_path / "store")
    draft = Artifact("clips", "dataset", metadata={"k": 1, "tags": ["a"], "more": {"x": 1}})
    draft.add(Audio(np.zeros(8, np.float32), 8000), "z")
    return store, store.commit(draft)


def _edits(v0):
    entry = next(iter(v0.manifest.entries))
    return [
        lambda: v0.metadata.__setitem__("k", 2),
        lambda: v0.metadata.update(k=2),
        lambda: v0.metadata.pop("k"),
        lambda: v0.metadata["tags"].append("b"),
        lambda: v0.metadata["more"].__setitem__("x", 2),
        lambda: v0.manifest["metadata"].__setitem__("k", 2),
        lambda: v0.manifest.entries.__setitem__("new.txt", {"size": 0}),
        lambda: v0.manifest.entries.pop(entry),
        lambda: v0.manifest.entries[entry].__setitem__("size", 1),
        lambda: v0.manifest.obj["entries"].clear(),
    ]


def test_a_committed_version_cannot_be_changed_through_its_objects(committed, tmp_path):
    store, v0 = committed
    before = v0.manifest.to_bytes()
    for edit in _edits(v0):
        with pytest.raises(artifacts.ReadOnlyError, match="read-only"):
            edit()
    picked = Artifact("picked", "dataset")
    picked.add(v0.get("z"), "z")  # a value of another artifact: its entries are references
    p0 = store.commit(picked)
    refs = [e for e in p0.manifest.entries.values() if "ref" in e]
    assert refs
    with pytest.raises(artifacts.ReadOnlyError):
        refs[0]["ref"]["path"] = "elsewhere"
    entry = next(e for e in p0.entries.values() if e.ref)
    with pytest.raises(artifacts.ReadOnlyError):
        entry.ref["artifact"] = "other:v0"
    again = store.artifact("clips:v0")
    assert again.metadata == {"k": 1, "tags": ["a"], "more": {"x": 1}}
    assert again.manifest.to_bytes() == before
    # a draft with {"k": 2} is a new version, as the file says v0 has {"k": 1}
    draft = again.new_draft()
    draft.metadata["k"] = 2  # a draft's metadata is its own
    assert store.commit(draft).version == "v1"
    assert store.artifact("clips:v0").metadata["k"] == 1


def test_read_only_metadata_still_serializes_compares_and_copies(committed):
    import copy
    import json
    import pickle

    _, v0 = committed
    plain = {"k": 1, "tags": ["a"], "more": {"x": 1}}
    assert v0.metadata == plain and json.loads(json.dumps(v0.metadata)) == plain
    assert pickle.loads(pickle.dumps(v0.metadata)) == plain
    mine = copy.deepcopy(v0.metadata)
    mine["tags"].append("b")  # a deep copy is the caller's to change
    assert mine == {"k": 1, "tags": ["a", "b"], "more": {"x": 1}}
    mine = dict(v0.metadata)
    mine["k"] = 5  # a copy is the caller's to change
    assert v0.metadata["k"] == 1


# -- 9: the command line ------------------------------------------------------------------
@pytest.fixture
def two_versions(tmp_path):
    """clips:v0 and v1 of a store: a clip whose caption has '→' in it changes."""
    url = str(tmp_path / "store")
    store = artifacts.open_store(url)
    draft = Artifact("clips", "dataset")
    draft.add(Audio(np.zeros(800, np.int16), 8000, caption="A → B"), "a440")
    with draft.new_file("notes.txt", "w") as f:
        f.write("plain notes")
    v0 = store.commit(draft)
    draft = v0.new_draft()
    draft.add(Audio(np.ones(800, np.int16), 8000, caption="C → D"), "a440", overwrite=True)
    store.commit(draft)
    return url, v0


def test_get_of_one_media_value_to_a_file_name_writes_that_file(two_versions, tmp_path):
    url, v0 = two_versions
    out = tmp_path / "x.wav"
    done = cli_main("--store", url, "get", "clips:v0", "a440", "-o", str(out))
    assert done.code == 0, done.err
    assert out.is_file()
    media_path = json.loads(v0.read_bytes("a440.audio-file.json"))["path"]
    assert out.read_bytes() == v0.read_bytes(media_path)
    assert done.out.strip() == str(out)
    # a file name whose extension is not the value's file's: refused, nothing written
    done = cli_main("--store", url, "get", "clips:v0", "a440", "-o", str(tmp_path / "x.flac"))
    assert done.code == 1 and ".wav" in done.err
    assert not (tmp_path / "x.flac").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["get", "clips:v0", "-o", "{missing}/out"],
        ["get", "clips:v0", "notes.txt", "-o", "{missing}/notes.txt"],
        ["get", "clips:v0", "a440", "-o", "{missing}/x.wav"],
        ["get", "clips:v0", "a440", "-o", "{missing}/folder/"],
        ["view", "clips:v0", "-o", "{missing}/page.html"],
    ],
)
def test_get_and_view_create_no_missing_parent_folders(two_versions, tmp_path, args):
    url, _ = two_versions
    missing = tmp_path / "no" / "such"
    done = cli_main("--store", url, *[a.format(missing=missing) for a in args])
    assert done.code == 1
    assert "does not exist" in done.err and str(tmp_path / "no") in done.err
    assert not (tmp_path / "no").exists()


def test_diff_keeps_the_characters_of_captions(two_versions):
    url, _ = two_versions
    done = cli_main("--store", url, "diff", "clips:v0", "clips:v1")
    assert done.code == 0, done.err
    assert 'caption "A → B" -> "C → D"' in done.out


def test_the_commit_progress_bar_counts_files(tmp_path, capsys, monkeypatch):
    import tqdm

    closed = []
    close = tqdm.tqdm.close

    def record(bar):  # how far each bar got, of how many, as it closes
        if not bar.disable:
            closed.append((bar.desc, bar.n, bar.total, bar.unit))
        close(bar)

    monkeypatch.setattr(tqdm.tqdm, "close", record)
    store = artifacts.open_store(tmp_path / "store", progress=True)
    draft = Artifact("many", "dataset")
    for i in range(40):  # 40 new small files (and 40 inline JSONs): one pack
        draft.add(Audio(np.full(8, i, np.int16), 8000), f"c{i}")
    v0 = store.commit(draft)
    packs = {e.get("pack") for e in v0.manifest.entries.values() if "inline" not in e}
    assert len(packs) == 1 and None not in packs
    assert ("commit many", 40, 40, "file") in closed, closed
    assert "/40" in capsys.readouterr().err


def test_version_option(capsys):
    with pytest.raises(SystemExit) as done:
        cli(["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert (
        out.strip()
        == f"artifacts (media-artifacts) {importlib.metadata.version('media-artifacts')}"
    )


def test_show_lists_values_and_files_on_request(two_versions):
    url, v0 = two_versions
    done = cli_main("--store", url, "show", "clips:v0")
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    assert any(re.match(r"a440\s+audio-file\s", ln) for ln in lines), done.out
    assert any(re.match(r"notes\.txt\s+file\s", ln) for ln in lines), done.out
    media_path = next(p for p in v0.manifest.entries if p.startswith("media/"))
    assert media_path not in done.out  # hash-named files only with --files
    files = cli_main("--store", url, "show", "clips:v0", "--files")
    assert files.code == 0 and media_path in files.out and "a440.audio-file.json" in files.out
