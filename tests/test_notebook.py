"""A real notebook: executed by nbclient on an ipykernel kernel, exported to HTML by nbconvert,
opened in headless chromium.  Every player the notebook shows must decode to its clip's exact
duration, every picture must be drawn, and the page must log no console error."""

from __future__ import annotations

import math
import re

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from test_browser import AUDIO_JS, PICTURES_JS, browser, open_page  # noqa: F401  (a fixture)

pytestmark = pytest.mark.browser

CELLS = [
    """\
import numpy as np
from artifacts import Artifact, Run, open_store
from media import Audio, Table

def tone(freq, frames, rate, channels=1):
    x = 0.4 * np.sin(2 * np.pi * freq * np.arange(frames) / rate)
    return x if channels == 1 else np.stack([x] * channels, axis=1)

clip = Audio(tone(440, 12000, 16000).astype(np.float32), 16000, caption="a <tone>")
clip""",
    """\
rows = [[Audio(tone(300 + 20 * r, 1600 + 160 * r, 16000).astype(np.float32), 16000), f"row {r}"]
        for r in range(25)]
Table(["clip", "label"], rows)""",
    """\
stereo = Audio((tone(330, 27563, 22050, 2) * 32767).astype(np.int16), 22050)
store = open_store("nb-store")
draft = Artifact("clips", type="dataset", description="shown in a notebook")
draft.add(clip, "tone")
draft.add(stereo, "stereo")
store.commit(draft)""",
    """\
run = Run(dir="nb-run")
for step in range(3):
    run.log({"loss": 1 / (step + 1), "clip": Audio(tone(200, 4000 * (step + 1), 8000), 8000)})
run""",
]
# what the notebook shows: the clip, 20 of the 25 table rows, the version's two clips, the
# run's three steps
EXPECTED = (
    [12000 / 16000]
    + [(1600 + 160 * r) / 16000 for r in range(20)]
    + [27563 / 22050, 12000 / 16000]
    + [4000 * (s + 1) / 8000 for s in range(3)]
)

# an nbconvert template without the scripts it would fetch from a CDN (the test is offline)
TEMPLATE = """\
{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
"""


def test_a_real_notebook_shows_players_that_decode(browser, tmp_path, monkeypatch):  # noqa: F811
    # the kernel's connection files and IPython's profile go to the test's folder
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    for cell in nb.cells:
        (out,) = [o for o in cell.outputs if o.output_type == "execute_result"]
        assert out.data["text/html"].startswith('<div class="ma">'), out.data.get("text/plain")
    (tmp_path / "offline.html.j2").write_text(TEMPLATE)
    exporter = HTMLExporter(template_name="lab", template_file=str(tmp_path / "offline.html.j2"))
    text, _ = exporter.from_notebook_node(nb)
    assert not re.findall(r'(?:src|href)="https?:', text)  # nothing fetched from the network
    assert "showing 20 of 25 rows (5 more)" in text and "a &lt;tone&gt;" in text
    assert "<h2>clips:v0</h2>" in text and "shown in a notebook" in text
    path = tmp_path / "notebook.html"
    path.write_text(text)
    page, problems = open_page(browser, path)
    try:
        players = page.evaluate(AUDIO_JS)
        assert len(players) == len(EXPECTED)
        for p, want in zip(players, EXPECTED):
            assert p["error"] is None and math.isfinite(p["duration"]), p
            assert abs(p["expected"] - want) < 1e-9, (p, want)
            assert abs(p["duration"] - want) < 1e-3, (p, want)
        pictures = page.evaluate(PICTURES_JS)
        assert len(pictures) == 2 * 6 + 20  # 6 clips with both pictures, 20 cells
        for p in pictures:
            assert p["complete"] and p["differ"] > 0.01 * p["pixels"] and p["colours"] >= 2, p
        # the run's slider shows one step at a time
        assert page.locator(".steps .step.on").count() == 1
    finally:
        page.close()
    assert problems == []
