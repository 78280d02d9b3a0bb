"""What a new user met first (issue 13): set-up, imports beside look-alike folders, stores that
reading must not create, runs, custom types, immutable versions, the command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

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
