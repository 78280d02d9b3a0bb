"""The repository carries every file its tests read, and the wandb files are the client's.

``tests/fixtures/wandb_generated/`` is committed; its ``make.py`` writes it with the real wandb
client (installed by the test extra).  Here the client writes it again, into a temporary
folder, and every file must come out byte for byte as committed: the fixtures are what the
client writes, not hand-made copies.
"""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GENERATED = REPO / "tests" / "fixtures" / "wandb_generated"


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_the_wandb_fixtures_are_what_the_client_writes(tmp_path):
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true")
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR"):
        env[var] = str(tmp_path / "wandb-home")
    out = tmp_path / "out"
    subprocess.run(
        [sys.executable, str(GENERATED / "make.py"), str(out)],
        check=True,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=300,
    )
    made = _files(out)
    committed = [f for f in _files(GENERATED) if f not in ("make.py", "README.md")]
    assert made == committed
    assert "basic/run_history_audio_list.json" in made
    _, mismatch, errors = filecmp.cmpfiles(out, GENERATED, made, shallow=False)
    assert (mismatch, errors) == ([], [])


def test_no_test_reads_files_from_outside_the_repository():
    # a clone has nothing beside it: no test, conftest or make target may look there
    needles = ("/work/" + "shared", "../" + "shared", '"' + 'shared" / "fixtures')
    texts = [REPO / "Makefile", REPO / "setup.cfg", REPO / "pyproject.toml"]
    texts += [p for p in (REPO / "tests").rglob("*") if p.suffix in (".py", ".cfg", ".toml")]
    found = [
        f"{p.relative_to(REPO)}: {n}"
        for p in texts
        if p.is_file()
        for n in needles
        if n in p.read_text(encoding="utf-8")
    ]
    assert found == []
