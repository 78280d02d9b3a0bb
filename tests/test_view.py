"""The HTML preview (artifacts.view): pictures, players, escaping, caps, and compare()."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import struct
import zlib

import numpy as np
import pytest
import soundfile as sf

from artifacts import Artifact, open_store, view
from media import Audio, Table, Value, register


def decode_png(data: bytes) -> np.ndarray:
    """Decode the PNGs view.png writes (8-bit RGB, filter 0), checking every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n : pos + 12 + n])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF
        chunks[tag] = body
        pos += 12 + n
    w, h, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, colour) == (8, 2) and b"IEND" in chunks
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, 1 + 3 * w)
    assert not raw[:, 0].any()  # filter type 0 on every row
    return raw[:, 1:].reshape(h, w, 3)


def tone(freq, seconds=0.5, rate=16000):
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def data_uris(page: str, kind: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(rf'src="data:{kind};base64,([^"]+)"', page)]


def test_png_round_trip():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    assert np.array_equal(decode_png(view.png(img)), img)
    with pytest.raises(ValueError, match=r"Invalid image shape \(4, 4\): expected"):
        view.png(np.zeros((4, 4), np.uint8))


def test_waveform_follows_the_samples():
    x = np.zeros(1000, np.float32)
    x[500:] = 1.0  # silence, then a step up to full scale
    img = decode_png(view.waveform_png(x, 100, 21))
    assert img.shape == (21, 100, 3)
    fg = (img == view._FG).all(axis=2)
    assert fg[:, 60:].any(axis=0).all()  # every column of the loud half is drawn
    assert fg[1, 55:].all() and not fg[0].any() and not fg[2:, 55:].any()  # a line at the top
    assert fg[10, :45].all() and not fg[:10, :45].any()  # a line in the middle while silent
    stereo16 = (np.stack([x, -x], axis=1) * 32767).astype(np.int16)
    assert (decode_png(view.waveform_png(stereo16, 50, 9)) == view._FG).all(axis=2).any()
    silent = decode_png(view.waveform_png(np.zeros(10, np.int32), 40, 9))
    assert (silent == view._FG).all(axis=2)[4].all()  # a flat line, still visible


def test_spectrogram_puts_a_tone_at_its_frequency():
    rate, freq = 16000, 2000.0
    img = decode_png(view.spectrogram_png(tone(freq, 1.0, rate), width=64)).astype(int)
    assert img.shape == (view.N_FFT // 2 + 1, 64, 3)
    brightness = img.sum(axis=2).mean(axis=1)
    bin_ = freq / (rate / view.N_FFT)  # 32
    loudest_row = int(np.argmax(brightness))
    assert loudest_row == view.N_FFT // 2 - int(bin_)  # low frequencies at the bottom
    short = decode_png(view.spectrogram_png(tone(freq, 0.001, rate), width=10))
    assert short.shape == (129, 10, 3)


def committed(store, *values, name="clips"):
    d = Artifact(name, type="dataset")
    for n, v in values:
        d.add(v, n)
    return store.commit(d)


def test_page_lists_every_clip_with_players_and_pictures(tmp_path):
    store = open_store(tmp_path / "s")
    art = committed(
        store,
        ("a", Audio(tone(440), 16000, caption='"quoted" <script>alert(1)</script> & more')),
        ("b", Audio((tone(220) * 32767).astype(np.int16), 8000)),
        ("t", Table(["clip", "who"], [[Audio(tone(880, 0.1), 16000), "<i>me</i>"], [None, 3]])),
    )
    page = view.render([art])
    assert "<script>" not in page and "<i>me</i>" not in page
    assert "&quot;quoted&quot; &lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert "&lt;i&gt;me&lt;/i&gt;" in page
    wavs = data_uris(page, "audio/wav")
    assert len(wavs) == page.count("<audio ") == 3
    # players embed the stored bytes when browsers play them as they are
    stored = {art.get(n).sha256 for n in ("a", "b")}
    assert stored <= {hashlib.sha256(w).hexdigest() for w in wavs}
    assert re.findall(r'data-duration="([^"]+)"', page) == ["0.5", "1.0", "0.1"]
    assert "0.500 s · 16000 Hz · 1 channel · float32 WAV" in page
    assert "1.000 s · 8000 Hz · 1 channel · int16 WAV" in page
    pngs = data_uris(page, "image/png")
    assert len(pngs) == 2 * 2 + 1  # two clips with both pictures, one table cell
    for p in pngs:
        img = decode_png(p)
        assert len(np.unique(img.reshape(-1, 3), axis=0)) > 1  # not blank
    assert "table: 2 rows, 2 columns" in page and "<td>3</td>" in page


def test_float64_and_many_channels_are_transcoded_for_the_player_only(tmp_path):
    store = open_store(tmp_path / "s")
    six = np.stack([tone(100 * (i + 1)) for i in range(6)], axis=1)
    f64 = tone(440).astype(np.float64)
    art = committed(store, ("six", Audio(six, 16000)), ("f64", Audio(f64, 16000)))
    page = view.render([art])
    previews = data_uris(page, "audio/wav")
    assert len(previews) == 2
    for data in previews:
        info = sf.info(io.BytesIO(data))
        assert (info.subtype, info.samplerate, info.frames) == ("PCM_16", 16000, 8000)
    channels = sorted(sf.info(io.BytesIO(d)).channels for d in previews)
    assert channels == [1, 1]
    assert (
        "player: transcoded from float64 WAV to 16-bit PCM WAV (the stored clip is unchanged)"
        in page
    )
    assert (
        "player: transcoded from float32 WAV to 16-bit PCM WAV, mixed down from 6 channels to "
        "mono (the stored clip is unchanged)" in page
    )
    assert art.verify() == [] and np.array_equal(store.artifact("clips").get("f64").numpy(), f64)


def test_audio_files_that_no_value_holds_get_players(tmp_path):
    store = open_store(tmp_path / "s")
    sf.write(tmp_path / "x.flac", (tone(300) * 32767).astype(np.int16), 16000)
    sf.write(tmp_path / "y.aiff", tone(300), 16000, subtype="FLOAT")
    (tmp_path / "notes.txt").write_text("<b>hi</b>")
    d = Artifact("raw", type="dataset")
    for f in ("x.flac", "y.aiff", "notes.txt"):
        d.add_file(tmp_path / f)
    page = view.render([store.commit(d)])
    assert len(data_uris(page, "audio/flac")) == 1  # played as stored
    assert "transcoded from float32 AIFF to 16-bit PCM WAV" in page
    assert '<span class="name">notes.txt</span>' in page
    assert page.count('class="spectrogram"') == 2


def test_custom_values_and_unknown_types_are_shown_as_json(tmp_path):
    class Score(Value):
        artifact_type = "view-test-score"
        json_schema = {
            "type": "object",
            "required": ["_type", "value"],
            "properties": {"_type": {"const": "view-test-score"}, "value": {"type": "number"}},
        }

        def __init__(self, value):
            self.value = value

        def to_json(self, run_or_artifact):
            return {"_type": self.artifact_type, "value": self.value}

        @classmethod
        def from_json(cls, json_obj, source_artifact):
            return cls(json_obj["value"])

        def _eq_key(self):
            return self.value

    register(Score)
    store = open_store(tmp_path / "s")
    d = Artifact("mixed", type="dataset")
    d.add(Score(0.5), "score")
    with d.new_file("alien.unknown-tag.json") as f:
        f.write('{"_type": "unknown-tag", "x": "<b>"}')
    page = view.render([store.commit(d)])
    assert "Score (view-test-score)" in page and "&quot;value&quot;: 0.5" in page
    assert "OpaqueValue (unknown-tag)" in page and "&quot;&lt;b&gt;&quot;" in page


def test_cap_says_how_many_are_shown(tmp_path):
    store = open_store(tmp_path / "s")
    clips = [(f"c{i:02d}", Audio(tone(200 + i, 0.05), 16000)) for i in range(7)]
    table = Table(["clip"], [[Audio(tone(500 + i, 0.05), 16000)] for i in range(4)])
    art = committed(store, *clips, ("zt", table))
    page = view.render([art], limit=5)
    assert page.count("<audio ") == 5
    assert "showing 5 of 11 clips (the first 5); use --limit N to show more" in page
    assert "showing 0 of 4 rows" in page
    assert view.render([art], limit=100).count("<audio ") == 11
    with pytest.raises(ValueError, match=r"^Invalid limit 0: give a positive number of clips$"):
        view.render([art], limit=0)
    with pytest.raises(ValueError, match=r"^Invalid artifacts: give one or two versions, not 0$"):
        view.render([])
    with pytest.raises(ValueError, match=r"^clips:draft is a draft; commit it before viewing it$"):
        view.render([Artifact("clips", "dataset")])


def test_compare_and_the_side_by_side_page(tmp_path):
    store = open_store(tmp_path / "s")
    a = committed(
        store,
        ("keep", Audio(tone(100), 16000)),
        ("gone", Audio(tone(200), 16000)),
        ("edit", Audio(tone(300), 16000, caption="old")),
        ("tab", Table(["x"], [[1]])),
    )
    d = a.new_draft()
    d.remove("gone")
    d.add(
        Audio(np.stack([tone(300)[::2]] * 2, axis=1), 8000, caption="new"), "edit", overwrite=True
    )
    d.add(Audio(tone(400), 16000), "new")
    d.add(Table(["x", "y"], [[1, 2], [3, 4]]), "tab", overwrite=True)
    d.metadata = {"k": 1}
    d.description = "second"
    b = store.commit(d)
    diff = view.compare(a, b)
    assert diff["a"] == "clips:v0" and diff["b"] == "clips:v1"
    assert "gone.audio-file.json" in diff["removed"]
    assert all(p.startswith("media/") for p in diff["removed"] if p != "gone.audio-file.json")
    assert "new.audio-file.json" in diff["added"]
    assert diff["changed"] == ["edit.audio-file.json", "tab.table.json"]
    edit = diff["values"]["edit"]
    assert edit["status"] == "changed"
    assert {k: v for k, v in edit["changes"].items() if k != "sha256"} == {
        "sample_rate": [16000, 8000],
        "channels": [1, 2],
        "frames": [8000, 4000],
        "caption": ["old", "new"],
    }
    assert diff["values"]["tab"]["changes"] == {"columns": [["x"], ["x", "y"]], "rows": [1, 2]}
    assert diff["values"]["gone"] == {"status": "removed", "changes": {}}
    assert "keep" not in diff["values"]
    assert diff["artifact"] == {"description": [None, "second"], "metadata.k": [None, 1]}
    page = view.render([a, b])
    rows = re.findall(r'data-status="(\w+)"><div class="status \w+">([^:<]+):', page)
    status = {name: s for s, name in rows}
    assert status["keep"] == "same" and status["gone"] == "removed" and status["new"] == "added"
    assert status["edit"] == "changed" and status["tab"] == "changed"
    assert "edit: changed (sample_rate 16000 → 8000; channels 1 → 2; frames 8000 → 4000; " in page
    assert "description: null → &quot;second&quot;" in page
    assert page.count('<div class="absent">(absent)</div>') == 2
