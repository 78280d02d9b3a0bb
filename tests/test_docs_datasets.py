"""docs/datasets.md's examples run, in order, as one program (as a reader would paste them)."""

import subprocess
import sys
from pathlib import Path

from test_readme import python_blocks

DOC = Path(__file__).resolve().parents[1] / "docs" / "datasets.md"


def test_datasets_doc_examples_run(tmp_path):
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 8
    script = tmp_path / "datasets_examples.py"
    script.write_text("\n".join(blocks) + "\nprint('DOC OK')\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("DOC OK")
