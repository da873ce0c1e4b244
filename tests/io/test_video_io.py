"""Reading and writing video: round trips with audio, rates, sizes, frame folders, damaged input."""

from __future__ import annotations

import re
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from videoclips import beep_onset_s, make_clip
from facepaint.errors import InputError, OutputError
from facepaint.io import DecodeWarning, VideoWriter, open_video, probe, read_image, write_image


def _flash_index(frames) -> int:
    return int(np.argmax([f.image.mean() for f in frames]))


def _copy(source: Path, target: Path, **reader_options) -> tuple[list, VideoWriter]:
    reader = open_video(source, **reader_options)
    frames = list(reader)
    with VideoWriter(target, fps=reader.fps, audio_from=source if reader.info.has_audio else None,
                     audio_start_s=reader_options.get("start_s") or 0.0) as writer:
        for frame in frames:
            writer.write(frame.image)
    return frames, writer


def test_round_trip_keeps_frames_rate_duration_and_audio_sync(clip, tmp_path):
    out = tmp_path / "out.mp4"
    frames, writer = _copy(clip, out)
    assert len(frames) == 50 and writer.audio_remuxed is True  # AAC into mp4 is copied, not re-encoded
    info = probe(out)
    assert info.frame_count == 50 and info.fps == pytest.approx(25.0) and info.duration_s == pytest.approx(2.0, abs=0.04)
    assert info.has_audio and info.audio_codec == "aac"
    decoded = list(open_video(out))
    flash_s = _flash_index(decoded) / info.fps
    assert flash_s == pytest.approx(20 / 25)
    assert abs(beep_onset_s(out) - flash_s) < 1 / 25  # in sync within one frame


def test_non_remuxable_audio_is_encoded_to_aac_in_sync(tmp_path):
    source = make_clip(tmp_path / "pcm.mkv", audio_codec="pcm_s16le", container="matroska")
    out = tmp_path / "out.mp4"
    _, writer = _copy(source, out)
    assert writer.audio_remuxed is False
    info = probe(out)
    assert info.audio_codec == "aac" and info.frame_count == 50
    flash_s = _flash_index(list(open_video(out))) / info.fps
    assert abs(beep_onset_s(out) - flash_s) < 1 / 25


def test_trimmed_range_keeps_audio_in_sync(clip, tmp_path):
    out = tmp_path / "trim.mp4"
    frames, _ = _copy(clip, out, start_s=0.4, max_frames=30)
    assert len(frames) == 30 and frames[0].index == 0
    decoded = list(open_video(out))
    assert len(decoded) == 30
    flash_s = _flash_index(decoded) / 25
    assert flash_s == pytest.approx(0.4)  # flash at 0.8 s in the input, 0.4 s after the start
    assert abs(beep_onset_s(out) - flash_s) < 1 / 25


def test_start_after_a_later_key_frame_reads_the_right_frames(tmp_path):
    """A start past the second key frame: the reader seeks to the key frame before it, and frames
    are still counted from the first frame of the input (not from that key frame). The clip has a
    key frame every 10 frames and the flash at frame 80 (3.2 s)."""
    path = make_clip(tmp_path / "gop.mp4", frames=100, flash_frame=80, keyframe_every=10, audio_codec=None)
    frames = list(open_video(path, start_s=3.0, max_frames=10))
    assert len(frames) == 10 and _flash_index(frames) == 5
    every = list(open_video(path))
    for frame, same in zip(frames, every[75:85]):
        np.testing.assert_array_equal(frame.image, same.image)


def _rss_mb() -> float:
    import os

    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the resident size from /proc (Linux)")
def test_decoding_memory_does_not_grow_with_the_length(tmp_path):
    """Frames stream: between frame 40 and frame 239 of a 320x240 clip the process's resident
    memory grows by less than 8 MB (measured 0.03 MB; the 200 frames themselves are 46 MB)."""
    path = make_clip(tmp_path / "long.mp4", frames=240, size=(320, 240), flash_frame=None, audio_codec=None)
    resident = {}
    for frame in open_video(path):
        if frame.index in (40, 239):
            resident[frame.index] = _rss_mb()
    assert len(resident) == 2
    assert resident[239] - resident[40] < 8, resident


def test_variable_frame_rate_maps_to_constant_rate(tmp_path):
    import av

    path = tmp_path / "vfr.mkv"
    times_ms = [0, 40, 80, 200, 220, 240]  # a 120 ms gap, then two frames 20 ms apart
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.options = {"bframes": "0"}
        for n, t in enumerate(times_ms):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), n * 40, np.uint8), format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    reader = open_video(path, fps=25)
    frames = list(reader)
    levels = [int(round(f.image.mean() / 40)) for f in frames]
    # slots every 40 ms: 0, 40, 80 ms -> frames 0-2; slots 120 and 160 ms hold frame 2; 200 ms -> frame 3;
    # 220 ms rounds to slot 240 ms -> frame 4, and the frame at 240 ms falls in the same slot: dropped.
    assert levels == [0, 1, 2, 2, 2, 3, 4]
    assert reader.stats.duplicated == 2 and reader.stats.dropped == 1
    assert [f.index for f in frames] == list(range(len(frames)))


def test_odd_frame_size_is_padded_by_its_last_row_and_column(tmp_path):
    """33x47 frames are written 34x48 for yuv420p, the extra column a copy of the last one and the
    extra row a copy of the last row (not black, not a reflection): grey levels that change along
    the last column and row and differ from the dark inside, at CRF 0 (grey has no chroma to
    subsample), come back within 2 levels."""
    image = np.full((33, 47, 3), 30, np.uint8)
    image[:, 46] = (100 + 4 * np.arange(33))[:, None]
    image[32, :] = (90 + 3 * np.arange(47))[:, None]
    with VideoWriter(tmp_path / "odd.mp4", fps=10, crf=0) as writer:
        for _ in range(5):
            writer.write(image)
    info = probe(tmp_path / "odd.mp4")
    assert (info.width, info.height) == (48, 34) and info.frame_count == 5
    got = list(open_video(tmp_path / "odd.mp4"))[2].image.astype(int)
    assert np.abs(got[:33, :47] - image).max() <= 2
    assert np.abs(got[:33, 47] - image[:, 46]).max() <= 2, "the extra column repeats the last"
    assert np.abs(got[33, :47] - image[32]).max() <= 2, "the extra row repeats the last"
    assert np.abs(got[33, 47] - image[32, 46]).max() <= 2


def test_written_colours_decode_as_they_were(tmp_path):
    """The writer's own RGB -> YUV 4:2:0 conversion (BT.601, limited range) is the one decoders
    invert: flat colours come back within 3 levels (8-bit YUV rounding) at CRF 0, a red/blue ramp
    within 2 levels on average (its chroma is subsampled), and a grey ramp within 2 levels."""
    flats = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0), (200, 120, 40), (30, 90, 160)]
    ramp = np.zeros((64, 96, 3), np.uint8)
    ramp[..., 0] = np.linspace(0, 255, 96).astype(np.uint8)[None, :]
    ramp[..., 2] = np.linspace(255, 0, 64).astype(np.uint8)[:, None]
    grey = np.repeat(np.repeat(np.linspace(16, 235, 96).astype(np.uint8)[None, :, None], 64, 0), 3, 2)
    images = [np.full((64, 96, 3), c, np.uint8) for c in flats] + [ramp, grey]
    with VideoWriter(tmp_path / "c.mp4", fps=10, crf=0) as writer:
        for image in images:
            writer.write(image)
    decoded = [f.image.astype(int) for f in open_video(tmp_path / "c.mp4")]
    assert len(decoded) == len(images)
    for colour, got in zip(flats, decoded):
        assert np.abs(got - np.array(colour)).max() <= 3, (colour, got.mean(axis=(0, 1)))
    assert np.abs(decoded[-2] - ramp).mean() < 2.0
    assert np.abs(decoded[-1] - grey).max() <= 2


def test_png_sequence_out_and_frame_folder_in(clip, tmp_path):
    out_dir = tmp_path / "frames"
    frames, _ = _copy(clip, out_dir)
    files = sorted(out_dir.glob("*.png"))
    assert len(files) == 50 and not list(tmp_path.glob(".*part*"))
    back = list(open_video(out_dir, fps=25))
    assert len(back) == 50 and np.array_equal(back[7].image, frames[7].image)
    globbed = open_video(str(out_dir / "frame_00001*.png"))
    assert globbed.info.fps_assumed and len(list(globbed)) == 10


def test_raw_h264_stream_assumes_25_fps_or_takes_fps(tmp_path):
    path = make_clip(tmp_path / "raw.h264", frames=30, audio_codec=None, container="h264")
    info = probe(path)
    assert info.fps_assumed and info.fps == 25.0 and info.frame_count == 30
    info = probe(path, fps=30)
    assert not info.fps_assumed and info.fps == 30.0
    assert len(list(open_video(path, fps=30))) == 30


def _manifest_counts(media: Path) -> dict[str, int]:
    counts = {}
    for line in (media / "MANIFEST.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) > 3 and re.fullmatch(r"[\w.-]+\.(mp4|h264)", cells[1]):
            # the third cell reads "size / fps / frames / audio"
            counts[cells[1]] = int(cells[3].split("/")[2])
    return counts


@pytest.mark.slow
def test_every_shared_video_decodes_to_the_manifest_frame_count(media):
    counts = _manifest_counts(media)
    files = sorted(p.name for p in (media / "video").iterdir())
    assert counts and set(counts) == set(files), "MANIFEST.md and the video folder disagree"
    for name, expected in counts.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error", DecodeWarning)
            reader = open_video(media / "video" / name)
            got = sum(1 for _ in reader)
        assert got == expected, f"{name}: {got} frames decoded, MANIFEST says {expected}"
        assert reader.info.frame_count == expected


# -- bad input --------------------------------------------------------------------------------
def test_missing_and_non_video_inputs_are_rejected(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        open_video(tmp_path / "nope.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(InputError, match="not a video"):
        open_video(text)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="holds no frames"):
        open_video(empty)
    with pytest.raises(InputError, match="not an image"):
        read_image(text)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"fps": -1.0}, "--fps"),
        ({"start_s": 2.0, "end_s": 1.0}, "must come after"),
        ({"max_frames": 0}, "--max-frames"),
        ({"start_s": float("nan")}, "--start"),
    ],
)
def test_bad_reader_options(clip, options, message):
    with pytest.raises(InputError, match=message):
        open_video(clip, **options)


def test_bad_writer_options_and_paths(clip, tmp_path):
    with pytest.raises(InputError, match="--crf"):
        VideoWriter(tmp_path / "a.mp4", fps=25, crf=99)
    with pytest.raises(InputError, match="expected an .mp4"):
        VideoWriter(tmp_path / "a.gif", fps=25)
    with pytest.raises(OutputError, match="does not exist"):
        VideoWriter(tmp_path / "missing" / "a.mp4", fps=25)
    with pytest.raises(OutputError, match="is the input"):
        VideoWriter(clip, fps=25, audio_from=clip)


def test_zero_frames_leave_no_output(clip, tmp_path):
    out = tmp_path / "none.mp4"
    with pytest.raises(InputError, match="zero frames"):
        _copy(clip, out, start_s=100.0)
    assert not out.exists() and list(tmp_path.iterdir()) == [clip]


def test_failure_midway_leaves_no_partial_file(clip, tmp_path):
    out = tmp_path / "partial.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, fps=25, audio_from=clip) as writer:
            for frame in open_video(clip):
                writer.write(frame.image)
                if frame.index == 10:
                    raise RuntimeError("the painter crashed")
    assert list(tmp_path.iterdir()) == [clip]


@pytest.mark.parametrize("damage", ["truncate", "corrupt"])
def test_damaged_stream_keeps_what_decodes_and_warns(tmp_path, damage):
    source = make_clip(tmp_path / "ok.mkv", frames=50, container="matroska")
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    if damage == "truncate":
        data = data[:middle]
    else:
        data[middle : middle + 3000] = bytes(3000)
    broken = tmp_path / f"{damage}.mkv"
    broken.write_bytes(bytes(data))
    with pytest.warns(DecodeWarning, match="frame\\(s\\) were lost"):
        reader = open_video(broken)
        frames = list(reader)
    assert 5 < len(frames) < 50 and reader.stats.lost_frames > 0


def test_input_is_never_modified(clip, tmp_path):
    before = clip.read_bytes()
    _copy(clip, tmp_path / "x.mp4")
    with pytest.raises(OutputError):
        VideoWriter(clip, fps=25, audio_from=clip)
    assert clip.read_bytes() == before


def test_write_image_round_trip(tmp_path):
    image = (np.arange(12 * 10 * 3) % 256).astype(np.uint8).reshape(12, 10, 3)
    write_image(tmp_path / "x.png", image)
    assert np.array_equal(read_image(tmp_path / "x.png"), image)
    with pytest.raises(InputError, match=r"\(H, W, 3\) uint8"):
        write_image(tmp_path / "y.png", image.astype(np.float32))


def test_rotation_metadata_is_applied(tmp_path):
    """A phone-style 90-degree clockwise display matrix turns the frames upright."""
    import struct

    source = make_clip(tmp_path / "plain.mp4", frames=5, size=(64, 48), flash_frame=None, audio_codec=None)
    data = bytearray(source.read_bytes())
    identity = struct.pack(">9i", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    clockwise = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    at = data.find(identity, data.find(b"tkhd"))
    assert at > 0
    data[at : at + 36] = clockwise
    rotated = tmp_path / "rotated.mp4"
    rotated.write_bytes(bytes(data))
    reader = open_video(rotated)
    assert (reader.info.width, reader.info.height, reader.info.rotation_deg) == (48, 64, 270)
    upright = list(open_video(source))[0].image
    turned = list(reader)[0].image
    assert turned.shape == (64, 48, 3)
    assert np.abs(turned.astype(int) - np.rot90(upright, k=-1)).mean() < 2


@pytest.mark.parametrize(
    "name, codec, pix_fmt",
    [
        ("a.webm", "libvpx-vp9", "yuv420p"),
        ("a.avi", "mpeg4", "yuv420p"),
        ("a.mov", "libx264", "yuv420p"),
        ("hevc.mkv", "libx265", "yuv420p"),
        ("ten_bit.mkv", "libx264", "yuv420p10le"),
        ("rgb.mkv", "libx264rgb", "rgb24"),
    ],
)
def test_containers_codecs_and_bit_depths_decode(tmp_path, name, codec, pix_fmt):
    import av

    path = tmp_path / name
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, pix_fmt
        for i in range(8):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 30 * i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    reader = open_video(path)
    frames = list(reader)
    assert len(frames) == 8 and frames[0].image.dtype == np.uint8 and frames[0].image.shape == (48, 64, 3)
    assert abs(frames[5].image.mean() - 150) < 6
    assert reader.info.bit_depth == (10 if "10" in pix_fmt else 8)


def test_outputs_get_ordinary_permissions(clip, tmp_path):
    """Temporary files are private (0600); the finished output must not stay so."""
    import os

    umask = os.umask(0o022)
    try:
        _copy(clip, tmp_path / "x.mp4")
        write_image(tmp_path / "x.png", np.zeros((4, 4, 3), np.uint8))
        _copy(clip, tmp_path / "frames")
    finally:
        os.umask(umask)
    assert (tmp_path / "x.mp4").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "x.png").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "frames").stat().st_mode & 0o777 == 0o755
