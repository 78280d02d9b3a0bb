"""The HTML preview in a real browser: Debian's chromium, headless, driven by Playwright.

The page must load without console errors, every <audio> element must be decoded by the
browser to the clip's exact duration, and the waveform and spectrogram pictures must be
there and not blank.  ``make test`` installs chromium (the Makefile's ``browser`` target).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from artifacts import Artifact, open_store
from media import Audio, Table

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
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

AUDIO_JS = """
() => Array.from(document.querySelectorAll('audio')).map(a => ({
  name: a.dataset.name, expected: parseFloat(a.dataset.duration), duration: a.duration,
  error: a.error && a.error.code, ready: a.readyState}))
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
    store.commit(d)
    return url, expected


def open_page(browser, path: Path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in (
        "error", "warning") else None)  # fmt: skip
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url[:80]}"))
    page.goto(path.as_uri())
    page.wait_for_function(
        "Array.from(document.querySelectorAll('audio')).every(a => a.readyState >= 1 || a.error)",
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
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    return out


def test_preview_plays_every_clip_and_draws_every_picture(browser, clips, tmp_path):
    url, expected = clips
    path = view(url, tmp_path / "clips.html", "clips:v0")
    page, problems = open_page(browser, path)
    try:
        check_players(page, expected, list(expected))
        # table cells show a waveform only; every other clip both pictures
        check_pictures(page, waveforms=len(expected), spectrograms=len(expected) - 2)
        notes = page.locator(".note").all_inner_texts()
        assert len(notes) == 2 and all("transcoded" in n for n in notes)
        assert page.locator(".caption").all_inner_texts()[3] == "float64 mono <transcoded>"
        shot = tmp_path / "clips.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    finally:
        page.close()
    assert problems == []


def test_side_by_side_page(browser, clips, tmp_path):
    url, expected = clips
    path = view(url, tmp_path / "pair.html", "clips:v0", "clips:v1")
    page, problems = open_page(browser, path)
    try:
        players = page.evaluate(AUDIO_JS)
        assert len(players) == 2 * len(expected)
        durations = sorted(p["duration"] for p in players if p["name"] == "clip0")
        assert durations == [0.5, 0.75]
        for p in players:
            assert p["error"] is None and math.isfinite(p["duration"]), p
            assert abs(p["duration"] - p["expected"]) < 1e-3, p
        status = page.locator('[data-status="changed"] .status').all_inner_texts()
        assert status == ['clip0: changed (duration 0.75 → 0.5; frames 12000 → 8000; caption '
                          '"float32 mono" → "shorter"; samples changed)']  # fmt: skip
        check_pictures(page, 2 * len(expected), 2 * (len(expected) - 2))
        page.screenshot(path=str(tmp_path / "pair.png"), full_page=True)
    finally:
        page.close()
    assert problems == []
