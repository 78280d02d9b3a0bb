"""The HTML preview (artifacts.view): pictures, players, escaping, caps, and compare()."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import os
import re
import struct
import zlib

import numpy as np
import pytest
import soundfile as sf

from artifacts import Artifact, Run, cli, open_store, view
from media import Audio, Table, Value, display, register


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
    assert np.array_equal(decode_png(display.png(img)), img)
    with pytest.raises(ValueError, match=r"Invalid image shape \(4, 4\): expected"):
        display.png(np.zeros((4, 4), np.uint8))


def test_waveform_follows_the_samples():
    x = np.zeros(1000, np.float32)
    x[500:] = 1.0  # silence, then a step up to full scale
    img = decode_png(display.waveform_png(x, 100, 21))
    assert img.shape == (21, 100, 3)
    fg = (img == display._FG).all(axis=2)
    assert fg[:, 60:].any(axis=0).all()  # every column of the loud half is drawn
    assert fg[1, 55:].all() and not fg[0].any() and not fg[2:, 55:].any()  # a line at the top
    assert fg[10, :45].all() and not fg[:10, :45].any()  # a line in the middle while silent
    stereo16 = (np.stack([x, -x], axis=1) * 32767).astype(np.int16)
    assert (decode_png(display.waveform_png(stereo16, 50, 9)) == display._FG).all(axis=2).any()
    silent = decode_png(display.waveform_png(np.zeros(10, np.int32), 40, 9))
    assert (silent == display._FG).all(axis=2)[4].all()  # a flat line, still visible


def test_mel_spectrogram_puts_a_tone_at_its_frequency():
    rate = 16000
    for freq in (300.0, 2000.0, 5000.0):
        db, centres = display.mel_spectrogram(tone(freq, 1.0, rate), rate, width=64)
        assert db.shape == (display.N_MELS, 64) and centres.shape == (display.N_MELS,)
        assert db.max() == 0.0 and db.min() >= -display.DB_RANGE
        loudest = int(np.argmax(db.mean(axis=1)))
        assert loudest == int(np.argmin(np.abs(centres - freq))), (freq, centres[loudest])
        # the picture: low bands at the bottom, each band 2 rows tall
        img = decode_png(display.spectrogram_png(tone(freq, 1.0, rate), rate, 64, 128))
        assert img.shape == (128, 64, 3)
        row = int(np.argmax(img.astype(int).sum(axis=2).mean(axis=1)))
        assert row // 2 == display.N_MELS - 1 - loudest
    assert np.all(np.diff(centres) > 0) and centres[-1] < rate / 2
    # mel bands are narrow at the bottom and wide at the top
    assert np.diff(centres)[0] < np.diff(centres)[-1] / 4
    short = decode_png(display.spectrogram_png(tone(2000.0, 0.001, rate), rate, 10, 64))
    assert short.shape == (64, 10, 3)
    silent, _ = display.mel_spectrogram(np.zeros(100, np.int16), 8000, 5)
    assert (silent == -display.DB_RANGE).all()


@pytest.mark.parametrize("rate", [4_000_000, 20_000_000, 2**31 - 1])
def test_a_spectrogram_at_radio_rates_stays_small(rate):
    # a 32 ms frame at 20 MHz was 640k samples x 400 columns: 3 GiB for a 100-sample clip
    short = Audio(np.ones(100, np.float32), rate)
    assert "<img" in short._repr_html_()
    freq = rate / 8
    db, centres = display.mel_spectrogram(tone(freq, 200_000 / rate, rate), rate, width=16)
    loudest = int(np.argmax(db.mean(axis=1)))
    assert abs(centres[loudest] - freq) < freq / 10


def test_a_spectrogram_of_huge_float_samples_is_not_garbage():
    with np.errstate(all="raise"):  # power of samples near 1e300 overflowed to inf
        db, centres = display.mel_spectrogram(
            tone(2000.0, 0.1).astype(np.float64) * 1e300, 16000, 8
        )
    loudest = int(np.argmax(db.mean(axis=1)))
    assert loudest == int(np.argmin(np.abs(centres - 2000.0)))


def test_pictures_have_axes_and_a_db_scale():
    x = tone(1000, 2.5, 16000)
    fig = display.spectrogram_figure(x, 16000, "c", display.data_uri)
    labels = re.findall(r">([^<>]+)</text>", fig)
    assert labels[:6] == ["0", "0.5", "1", "1.5", "2", "2.5"]  # seconds
    assert {"Hz", "0", "250", "1k", "2k", "4k", "8k"} <= set(labels)  # 500: too close to 250
    y_1k = float(re.search(r'y="([\d.]+)" text-anchor="end">1k<', fig)[1]) - 3
    assert abs(y_1k - 127 * (1 - 1000.0 / 2840.0)) < 1  # 1 kHz is 1000 mel of 2840
    assert ["0", "-20", "-40", "-60", "-80", "dB"] == labels[-6:]
    assert 'class="colorbar"' in fig
    wave = display.waveform_figure(x, 16000, "c", display.data_uri, 480, 72)
    assert re.findall(r">([^<>]+)</text>", wave) == ["0", "0.5", "1", "1.5", "2", "2.5", "s"]
    long = re.findall(
        r">([^<>]+)</text>", display.waveform_figure(x[:1], 1, "c", display.data_uri, 480, 72)
    )
    assert long[-1] == "s"
    assert display._time_ticks(125.0) == [0, 50, 100] and display._fmt_s(120.0) == "2:00"


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
    assert page.count("<script>") == 1 and "<script>alert" not in page  # only our filter
    assert "<i>me</i>" not in page
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
    assert len(pngs) == 2 * 3 + 1  # two clips: waveform, spectrogram, dB scale; a table cell
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
    assert edit["changes"]["samples"] == [None, "changed"] and "sha256" in edit["changes"]
    assert {k: v for k, v in edit["changes"].items() if k not in ("sha256", "samples")} == {
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


def test_write_puts_media_beside_the_page_or_embeds_it(tmp_path):
    store = open_store(tmp_path / "s")
    art = committed(store, ("a", Audio(tone(440), 16000)), ("b", Audio(tone(220), 16000)))
    out = tmp_path / "out" / "my page.html"
    assert view.write([art], out) == str(out)
    page = out.read_text()
    files = tmp_path / "out" / "my page_files"
    urls = re.findall(r'src="([^"]+)"', page)
    assert urls and all(u.startswith("my%20page_files/") for u in urls)
    assert ";base64," not in page
    names = sorted(os.listdir(files))
    assert sorted({u.split("/", 1)[1] for u in urls}) == names
    wavs = [n for n in names if n.endswith(".wav")]
    assert sorted(hashlib.sha256((files / n).read_bytes()).hexdigest() for n in wavs) == sorted(
        art.get(v).sha256 for v in ("a", "b")
    )
    assert (
        oct(out.stat().st_mode & 0o777) == "0o644" and oct(files.stat().st_mode & 0o777) == "0o755"
    )
    # written again: the folder is replaced whole, no stale file and no temporary left
    (files / "stale.png").write_bytes(b"x")
    view.write([art], out)
    assert sorted(os.listdir(files)) == names
    assert sorted(os.listdir(tmp_path / "out")) == ["my page.html", "my page_files"]
    # --embed: one file, nothing beside it
    single = tmp_path / "single.html"
    view.write([art], single, embed=True)
    assert not (tmp_path / "single_files").exists()
    assert len(data_uris(single.read_text(), "audio/wav")) == 2
    # a refused call writes nothing
    with pytest.raises(ValueError, match="Invalid limit 0"):
        view.write([art], tmp_path / "no.html", limit=0)
    assert not (tmp_path / "no.html").exists() and not (tmp_path / "no_files").exists()


class Words(Value):
    """A custom type that shows itself through the to_html hook."""

    artifact_type = "view-test-words"
    json_schema = {
        "type": "object",
        "required": ["_type", "words"],
        "properties": {
            "_type": {"const": "view-test-words"},
            "words": {"type": "array", "items": {"type": "string"}},
        },
    }

    def __init__(self, words):
        self.words = list(words)

    def to_json(self, run_or_artifact):
        return {"_type": self.artifact_type, "words": self.words}

    @classmethod
    def from_json(cls, json_obj, source_artifact):
        return cls(json_obj["words"])

    def _eq_key(self):
        return self.words

    def to_html(self):
        if self.words == ["boom"]:
            raise RuntimeError("cannot show <boom>")
        return "<ol>" + "".join(f"<li>{html.escape(w)}</li>" for w in self.words) + "</ol>"


def test_custom_types_show_themselves_through_to_html(tmp_path):
    register(Words)
    store = open_store(tmp_path / "s")
    table = Table(["said"], [[Words(["a", "<b>"])]])
    art = committed(store, ("w", Words(["hello", "<world>"])), ("t", table), ("x", Words(["boom"])))
    page = view.render([art])
    assert "<ol><li>hello</li><li>&lt;world&gt;</li></ol>" in page  # the page
    assert "<td><ol><li>a</li><li>&lt;b&gt;</li></ol></td>" in page  # a table cell
    assert "to_html failed: cannot show &lt;boom&gt;" in page  # a broken hook does not stop it
    assert "<ol><li>hello</li>" in Words(["hello"])._repr_html_()  # the notebook
    assert Value.to_html(Words([])) is None  # the default: shown as JSON


def test_notebook_display_of_audio_table_version_and_run(tmp_path):
    clip = Audio(tone(440, 0.25), 16000, caption="a <clip>")
    shown = clip._repr_html_()
    (wav,) = data_uris(shown, "audio/wav")
    assert hashlib.sha256(wav).hexdigest() == clip.sha256
    assert 'data-duration="0.25"' in shown and "a &lt;clip&gt;" in shown
    assert "0.250 s · 16000 Hz · 1 channel · float32 WAV" in shown
    assert shown.count('class="waveform"') == 1 and shown.count('class="spectrogram"') == 1
    rows = [[Audio(tone(300 + r, 0.05), 16000), r] for r in range(display.TABLE_ROWS + 5)]
    shown = Table(["clip", "n"], rows)._repr_html_()
    assert shown.count("<audio ") == display.TABLE_ROWS
    assert f"showing {display.TABLE_ROWS} of {display.TABLE_ROWS + 5} rows (5 more)" in shown
    store = open_store(tmp_path / "s")
    draft = Artifact("nb", type="dataset", description="for <notebooks>")
    assert draft._repr_html_() is None
    draft.add(clip, "c")
    shown = store.commit(draft)._repr_html_()
    assert "<h2>nb:v0</h2>" in shown and "for &lt;notebooks&gt;" in shown
    assert shown.count("<audio ") == 1
    run = Run(dir=tmp_path / "run")
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1), "clip": Audio(tone(200, 0.1 * (step + 1)), 16000)})
    shown = run._repr_html_()
    assert shown.count("<audio ") == 3 and shown.count('class="step on"') == 1
    assert re.findall(r'data-duration="([^"]+)"', shown) == ["0.1", "0.2", "0.3"]
    assert '<polyline points="' in shown and ">loss</text>" in shown


def test_diff_page_counts_match_artifacts_diff_and_marks_changed_cells(tmp_path, capsys):
    store = open_store(tmp_path / "s")
    t0 = Table(
        ["clip", "label"], [[Audio(tone(300), 16000), "dog"], [Audio(tone(400), 16000), "cat"]]
    )
    a = committed(
        store, ("same", Audio(tone(100), 16000)), ("tab", t0), ("gone", Audio(tone(5), 16000))
    )
    d = a.new_draft()
    t1 = Table(
        ["clip", "label"], [[Audio(tone(300), 16000), "dog"], [Audio(tone(450), 16000), "cow"]]
    )
    d.add(t1, "tab", overwrite=True)
    d.remove("gone")
    d.add(Audio(tone(600), 16000), "new")
    b = store.commit(d)
    page = view.render([a, b])
    assert cli.main(["diff", "clips:v0", "clips:v1", "--store", str(tmp_path / "s")]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    shown = re.search(r'<p class="meta counts">entries: ([^<]+)</p>', page)[1]
    assert shown == last == view.counts(view.compare(a, b))
    assert re.search(r"^\d+ added, \d+ removed, \d+ changed$", last)
    # the two changed cells of row 1 are marked, on the new side only
    assert page.count('<td class="changed">') == 2
    assert "tab: changed (2 cells changed)" in page
    # the unchanged value is folded away, shown once
    folded = page[page.index('<details class="unchanged">') :]
    assert "<summary>1 unchanged</summary>" in folded and 'data-name="same"' in folded
    assert page.count('data-name="same"') == 2  # the card and its player
    assert view.table_cell_changes(t0, t1) == {(1, "clip"), (1, "label")}
    assert view.table_cell_changes(t1, Table(["clip"], [[None]] * 3)) == {
        (0, "clip"),
        (1, "clip"),
        (2, "clip"),  # a cell now None, and a row t1 lacks
    }


def test_view_of_a_run_folder_from_the_command_line(tmp_path, capsys):
    run = Run(dir=tmp_path / "run")
    for step in range(4):
        run.log({"acc": step / 4, "clip": Audio(tone(200 + step, 0.1), 16000), "note": "x"})
    out = tmp_path / "run.html"
    code = cli.main(["view", str(tmp_path / "run"), "-o", str(out), "--store", str(tmp_path / "s")])
    assert code == 0 and capsys.readouterr().out.strip() == str(out)
    page = out.read_text()
    assert page.count("<audio ") == 4 and page.count('class="step on" data-step="3"') == 1
    assert '<input type="range" min="0" max="3" value="3"' in page
    assert len(os.listdir(tmp_path / "run_files")) >= 4
    # --limit caps the steps per key, evenly spaced, the first and last kept
    cli.main(["view", str(tmp_path / "run"), "-o", str(out), "--limit", "2", "--embed"])
    page = out.read_text()
    assert re.findall(r'class="step[^"]*" data-step="(\d+)"', page) == ["0", "3"]
    assert "showing 2 of 4 steps" in page and ";base64," in page
    with pytest.raises(ValueError, match="is not a run folder: it has no history.jsonl"):
        view.write(str(tmp_path), tmp_path / "x.html")
    (tmp_path / "not-a-run").mkdir()
    assert cli.main(["view", str(tmp_path / "not-a-run"), "--store", str(tmp_path / "s")]) == 1
    assert "is a folder but not a run folder (it has no history.jsonl)" in capsys.readouterr().err
