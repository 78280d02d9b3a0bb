"""The README's examples run, in order, as one program (as a reader would paste them)."""

import re
import subprocess
import sys
from pathlib import Path

from doc_examples import python_blocks, run_blocks, run_script

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_starts_with_the_two_setup_commands():
    text = README.read_text(encoding="utf-8")
    first = re.search(r"```sh\n(.*?)```", text, flags=re.S)
    assert first is not None
    commands = [line.split("#")[0].strip() for line in first.group(1).splitlines()]
    assert [c for c in commands if c] == ["make demo", "make test"]
    assert text.index("make demo") < text.index("```python")


def test_readme_examples_run(tmp_path):
    """All blocks run in a fresh interpreter (registrations stay out of this process), twice
    in a row in the same folder and store, as a reader trying them again would."""
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 3
    script = run_blocks(blocks, tmp_path, "readme_examples.py", "README OK", timeout=120)
    run_script(script, "README OK", timeout=120)


def test_architecture_backend_example_runs(tmp_path):
    """docs/architecture.md's example of running the shipped suites on a backend passes."""
    doc = README.parent / "docs" / "architecture.md"
    (block,) = python_blocks(doc.read_text(encoding="utf-8"))
    (tmp_path / "test_doc_backend.py").write_text(block, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b\d{2} passed", done.stdout), done.stdout
