"""The HTML preview in a real browser: Debian's chromium, headless, driven by Playwright.

The page must load without console errors, every <audio> element must be decoded by the
browser to the clip's exact duration, and the waveform and spectrogram pictures must be
there and not blank.  ``make test`` installs chromium (the Makefile's ``browser`` target).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from artifacts import Artifact, Run, open_store
from media import Audio, Table

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
DOCS_IMAGES = Path(__file__).parents[1] / "docs" / "images"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # pages refer to pictures in a folder beside them: let the test read their pixels
    # (a file:// picture on a canvas is otherwise cross-origin)
    "--allow-file-access-from-files",
]

# For every <img> of the page: drawn on a canvas, how many pixels differ from the corner
# pixel (the background) and how many distinct colours there are.
PICTURES_JS = """
() => Array.from(document.querySelectorAll('img.waveform, img.spectrogram')).map(img => {
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let differ = 0; const colours = new Set();
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2]) differ++;
    if (colours.size < 64) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
  }
  return {kind: img.className, complete: img.complete, width: img.naturalWidth,
          height: img.naturalHeight, differ, pixels: d.length / 4, colours: colours.size};
})
"""

# Every player, its clip loaded (players past the first few of a page have preload="none":
# load them ten at a time, as a listener pressing play would), and what the browser decoded.
AUDIO_JS = """
async () => {
  const all = Array.from(document.querySelectorAll('audio'));
  for (let i = 0; i < all.length; i += 10) {
    await Promise.all(all.slice(i, i + 10).map(a => new Promise(done => {
      if (a.readyState >= 1 || a.error) return done();
      a.addEventListener('loadedmetadata', done, {once: true});
      a.addEventListener('error', done, {once: true});
      a.preload = 'metadata';
      a.load();
    })));
  }
  return all.map(a => ({name: a.dataset.name, expected: parseFloat(a.dataset.duration),
                        duration: a.duration, error: a.error && a.error.code,
                        ready: a.readyState}));
}
"""


def tone(freq, seconds, rate, channels=1):
    t = np.arange(int(round(seconds * rate))) / rate
    x = 0.4 * np.sin(2 * np.pi * freq * t) * np.linspace(1, 0.2, t.size)
    return x if channels == 1 else np.stack([x * (1 - 0.1 * c) for c in range(channels)], axis=1)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "install Debian's chromium: make browser"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def clips(tmp_path):
    """A store with one version of every kind of clip the preview handles; yields
    (store url, {player name: duration in seconds})."""
    url = str(tmp_path / "store")
    store = open_store(url)
    d = Artifact("clips", type="dataset", description="clips for the browser test")
    expected = {}
    kinds = {
        "float32 mono": (tone(440, 0.75, 16000).astype(np.float32), 16000),
        "int16 stereo": ((tone(330, 1.25, 22050, 2) * 32767).astype(np.int16), 22050),
        "int32 mono": ((tone(550, 0.5, 8000) * 2**31).astype(np.int32), 8000),
        "float64 mono <transcoded>": (tone(660, 0.6, 16000), 16000),
        "six channels": (tone(220, 0.4, 48000, 6).astype(np.float32), 48000),
    }
    for i, (caption, (x, rate)) in enumerate(kinds.items()):
        name = f"clip{i}"
        d.add(Audio(x, rate, caption=caption), name)
        expected[name] = x.shape[0] / rate
    sf.write(tmp_path / "take.flac", (tone(300, 0.9, 16000) * 32767).astype(np.int16), 16000)
    d.add_file(tmp_path / "take.flac", "raw/take.flac")
    expected["raw/take.flac"] = 0.9
    rows = [[Audio(tone(800 + 100 * r, 0.3, 16000).astype(np.float32), 16000), f"row {r}"]
            for r in range(2)]  # fmt: skip
    d.add(Table(["clip", "label"], rows), "table")
    for r in range(2):
        expected[f"table[{r}].clip"] = 0.3
    v0 = store.commit(d)
    d = v0.new_draft()
    d.add(Audio(tone(440, 0.5, 16000).astype(np.float32), 16000, caption="shorter"), "clip0",
          overwrite=True)  # fmt: skip
    d.add(Table(["clip", "label"], [rows[0], [rows[1][0], "row 1, relabelled"]]), "table",
          overwrite=True)  # fmt: skip
    store.commit(d)
    return url, expected


def open_page(browser, path: Path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in (
        "error", "warning") else None)  # fmt: skip
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    def failed(r):
        # a player stops reading its file once it has what preload asks for: Chromium
        # reports that load as aborted, which the listener never sees
        if not (r.resource_type == "media" and r.failure == "net::ERR_ABORTED"):
            problems.append(f"request failed: {r.url} {r.failure}")

    page.on("requestfailed", failed)
    page.goto(path.as_uri())
    page.wait_for_function(
        "Array.from(document.querySelectorAll('audio'))"
        ".every(a => a.preload === 'none' || a.readyState >= 1 || a.error)",
        timeout=30000,
    )
    page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=30000)
    return page, problems


def check_players(page, expected: dict[str, float], names: list[str]) -> None:
    players = page.evaluate(AUDIO_JS)
    assert sorted(p["name"] for p in players) == sorted(names)
    for p in players:
        assert p["error"] is None, p
        assert math.isfinite(p["duration"]), p
        assert abs(p["duration"] - expected[p["name"]]) < 1e-3, p
        assert abs(p["expected"] - expected[p["name"]]) < 1e-9, p


def check_pictures(page, waveforms: int, spectrograms: int) -> None:
    pictures = page.evaluate(PICTURES_JS)
    kinds = [p["kind"] for p in pictures]
    assert (kinds.count("waveform"), kinds.count("spectrogram")) == (waveforms, spectrograms)
    for p in pictures:
        assert p["complete"] and p["width"] > 0 and p["height"] > 0, p
        assert p["differ"] > 0.01 * p["pixels"], p  # not blank
        assert p["colours"] >= 2, p


def view(url: str, out: Path, *refs: str) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "artifacts", "view", *refs, "-o", str(out), "--store", url],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    return out


def screenshot(page, name: str, tmp_path: Path) -> Path:
    """Save a screenshot in tmp_path; with UPDATE_SCREENSHOTS=1 also as docs/images/NAME."""
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=False)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(shot, DOCS_IMAGES / name)
    return shot


@pytest.mark.parametrize("embed", [False, True], ids=["beside", "embed"])
def test_preview_plays_every_clip_and_draws_every_picture(browser, clips, tmp_path, embed):
    url, expected = clips
    path = view(url, tmp_path / "clips.html", "clips:v0", *(["--embed"] if embed else []))
    assert (tmp_path / "clips_files").is_dir() is not embed
    page, problems = open_page(browser, path)
    try:
        check_players(page, expected, list(expected))
        # table cells show a waveform only; every other clip both pictures
        check_pictures(page, waveforms=len(expected), spectrograms=len(expected) - 2)
        notes = page.locator(".note").all_inner_texts()
        assert len(notes) == 2 and all("transcoded" in n for n in notes)
        assert page.locator(".caption").all_inner_texts()[3] == "float64 mono <transcoded>"
        # the axes are there: seconds under the pictures, Hz and dB beside the spectrogram
        labels = page.locator(".spectrogram-figure").first.evaluate(
            "f => Array.from(f.querySelectorAll('text')).map(t => t.textContent)"
        )
        assert "Hz" in labels and "dB" in labels and "s" in labels and "1k" in labels
        if not embed:
            screenshot(page, "version.png", tmp_path)
        # the filter: by name, then by caption
        box = page.locator(".filter input")
        box.fill("clip3")
        assert page.locator(".card:not(.hidden)").count() == 1
        box.fill("TRANSCODED")
        assert page.locator(".card:not(.hidden) .name").all_inner_texts() == ["clip3"]
        assert page.locator(".filter .count").inner_text() == "1 of 7 shown"
        box.fill("")
        assert page.locator(".card.hidden").count() == 0
    finally:
        page.close()
    assert problems == []


def test_diff_page(browser, clips, tmp_path):
    url, expected = clips
    path = view(url, tmp_path / "pair.html", "clips:v0", "clips:v1")
    page, problems = open_page(browser, path)
    try:
        players = page.evaluate(AUDIO_JS)
        # the changed clip and table on both sides; the other clips once, folded away
        assert len(players) == 2 * 3 + (len(expected) - 3)
        durations = sorted(p["duration"] for p in players if p["name"] == "clip0")
        assert durations == [0.5, 0.75]
        for p in players:
            assert p["error"] is None and math.isfinite(p["duration"]), p
            assert abs(p["duration"] - p["expected"]) < 1e-3, p
        status = page.locator('[data-status="changed"] .status').all_inner_texts()
        assert status == ['clip0: changed (duration 0.75 → 0.5; frames 12000 → 8000; caption '
                          '"float32 mono" → "shorter"; samples changed)',
                          "table: changed (1 cell changed)"]  # fmt: skip
        # the changed cell is marked (a coloured background), the unchanged rows folded away
        marked = page.locator("td.changed")
        assert marked.count() == 1 and marked.inner_text() == "row 1, relabelled"
        colour = marked.evaluate("td => getComputedStyle(td).backgroundColor")
        assert colour not in ("rgba(0, 0, 0, 0)", "transparent")
        assert not page.locator("details.unchanged").evaluate("d => d.open")
        assert not page.locator(".same-row").first.is_visible()
        cli_diff = subprocess.run(
            [sys.executable, "-m", "artifacts", "diff", "clips:v0", "clips:v1", "--store", url],
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout.splitlines()[-1]  # fmt: skip
        assert page.locator(".counts").inner_text() == f"entries: {cli_diff}"
        check_pictures(page, 2 * 3 + len(expected) - 3, 2 * 1 + len(expected) - 3)
        screenshot(page, "diff.png", tmp_path)
        page.locator("details.unchanged > summary").click()
        assert page.locator(".same-row").first.is_visible()
    finally:
        page.close()
    assert problems == []


def test_two_hundred_clips_and_a_long_one(browser, tmp_path):
    """200 five-second clips: the page stays small, every player decodes.  A clip of more
    than 32 MB gets a player too, beside the page and embedded in it."""
    url = str(tmp_path / "store")
    store = open_store(url)
    d = Artifact("many", type="dataset")
    base = (tone(220, 5.0, 16000) * 32767).astype(np.int16)
    for i in range(200):
        d.add(Audio(np.roll(base, i * 97), 16000, caption=f"take {i}"), f"clip{i:03d}")
    store.commit(d)
    d = Artifact("long", type="dataset")
    long = tone(110, 100.0, 48000, 2).astype(np.float32)  # 100 s, 36.6 MiB of WAV
    d.add(Audio(long, 48000, caption="a long one"), "long")
    assert store.commit(d).get("long").size > 32 << 20
    path = view(url, tmp_path / "many.html", "many")
    size = path.stat().st_size
    assert size < 5 * 1024 * 1024, size
    print(f"200 five-second clips: page {size / 1e6:.2f} MB")
    pages = [
        (path, {f"clip{i:03d}": 5.0 for i in range(200)}),
        (view(url, tmp_path / "long.html", "long"), {"long": 100.0}),
        (view(url, tmp_path / "long1.html", "long", "--embed"), {"long": 100.0}),
    ]
    for path, expected in pages:
        page, problems = open_page(browser, path)
        try:
            check_players(page, expected, list(expected))
            check_pictures(page, len(expected), len(expected))
        finally:
            page.close()
        assert problems == []


def test_run_page_steps_and_plots(browser, tmp_path):
    run = Run(dir=tmp_path / "run")
    for step in range(5):
        run.log({
            "loss": 1.0 / (step + 1),
            "lr": 0.1,
            "sample": Audio(tone(200 + 100 * step, 0.2 * (step + 1), 16000), 16000,
                            caption=f"step {step}"),
            "pair": [Audio(tone(300, 0.1, 8000), 8000), Audio(tone(400, 0.3, 8000), 8000)],
        })  # fmt: skip
    path = view(str(tmp_path / "no-store"), tmp_path / "run.html", str(tmp_path / "run"))
    page, problems = open_page(browser, path)
    try:
        players = page.evaluate(AUDIO_JS)
        assert len(players) == 5 + 10
        for p in players:
            assert p["error"] is None and abs(p["duration"] - p["expected"]) < 1e-3, p
        assert sorted(p["expected"] for p in players if p["name"].startswith("sample")) == [
            0.2, 0.4, 0.6, 0.8, 1.0]  # fmt: skip
        screenshot(page, "run.png", tmp_path)  # as it opens: the last step shown
        # one plot per number, drawn as a line through every step
        plots = page.locator("svg.plot-svg")
        assert plots.count() == 2
        points = plots.first.locator("polyline").get_attribute("points").split()
        assert len(points) == 5 and len(set(points)) == 5
        box = plots.first.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100
        # the slider: the last step shows first; moving it shows another, one at a time
        panel = page.locator(".steps", has=page.locator("h3", has_text="sample"))
        visible = panel.locator(".step:visible audio")
        assert visible.count() == 1 and visible.get_attribute("data-name") == "sample 4"
        slider = panel.locator("input[type=range]")
        for i in (0, 2):
            slider.fill(str(i))
            assert panel.locator(".step:visible").count() == 1
            assert visible.get_attribute("data-name") == f"sample {i}"
            assert panel.locator("output").inner_text() == f"step {i}"
        check_pictures(page, 15, 15)
    finally:
        page.close()
    assert problems == []
