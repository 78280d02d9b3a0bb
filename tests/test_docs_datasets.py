"""docs/datasets.md's examples run, in order, as one program (as a reader would paste them)."""

from pathlib import Path

from doc_examples import python_blocks, run_blocks

DOC = Path(__file__).resolve().parents[1] / "docs" / "datasets.md"


def test_datasets_doc_examples_run(tmp_path):
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 8
    run_blocks(blocks, tmp_path, "datasets_examples.py", "DOC OK", timeout=300)
