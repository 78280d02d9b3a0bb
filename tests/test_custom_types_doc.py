"""docs/custom-types.md: its ```python blocks run, in order, as one script in a fresh
interpreter (the guide registers types, so it gets a process of its own)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
GUIDE = ROOT / "docs" / "custom-types.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", GUIDE.read_text(), flags=re.M | re.S)


def test_the_guide_examples_run(tmp_path):
    code = blocks("python")
    assert len(code) >= 8
    script = tmp_path / "guide.py"
    script.write_text("\n\n".join(code) + '\nprint("guide ok")\n')
    out = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "guide ok\n" and out.stderr == ""
    assert (tmp_path / "example-store" / "store.json").is_file()
    assert (tmp_path / "example-run" / "history.jsonl").is_file()


def test_the_guide_entry_point_matches_the_example_plugin():
    (snippet,) = blocks("toml")
    header = '[project.entry-points."media.types"]\n'
    assert snippet == header + 'doc-transcript = "my_media_types:Transcript"\n'
    plugin = (ROOT / "tests" / "plugin_example" / "pyproject.toml").read_text()
    assert header + 'label-track = "media_plugin_example:LabelTrack"\n' in plugin
