"""Tests of facepaint.temporal: deletion reasons, uncovered pixels, merging, scene cuts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from facepaint.errors import InputError
from facepaint.flow import FlowResult
from facepaint.physics import rest_lengths_of
from facepaint.temporal import (
    TemporalConfig,
    buried_at_birth,
    buried_strokes,
    cap_strokes,
    colour_means,
    deletion_reasons,
    face_track_changed,
    hidden_cell_px,
    merge_strokes,
    refresh_colours,
    scene_cut_score,
    scene_signature,
    select_strokes,
    take_end_distances,
    uncovered_mask,
)
from facepaint.strokes.models import material_weights
from facepaint.types import Painting, Region, RegionMap, StrokeSet

SPRINGS6 = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [0, 2], [1, 3], [2, 4], [3, 5]], np.int32)
H, W = 80, 100


def _strokes(positions, colors, region=Region.BACKGROUND, first_id=0) -> StrokeSet:
    positions = np.asarray(positions, np.float32)
    n = positions.shape[0]
    return StrokeSet(
        positions=positions,
        velocities=np.zeros_like(positions),
        rest_lengths=rest_lengths_of(positions, SPRINGS6),
        springs=SPRINGS6,
        colors=np.asarray(colors, np.float32).reshape(n, 3),
        thickness=np.full(n, 3.0, np.float32),
        brush=np.zeros(n, np.uint8),
        region=np.full(n, region, np.uint8),
        age=np.zeros(n, np.int32),
        ids=np.arange(first_id, first_id + n, dtype=np.int64),
    )


def _line(x, y, n=6, dx=2.0):
    return [[x + i * dx, y] for i in range(n)]


def _regions(face_box=None) -> RegionMap:
    labels = np.full((H, W), Region.BACKGROUND, np.uint8)
    if face_box is not None:
        x0, y0, x1, y1 = face_box
        labels[y0:y1, x0:x1] = Region.INNER_FACE
    return RegionMap(labels=labels, feature_alpha=np.zeros((H, W), np.float32))


def _image(color=(0.2, 0.4, 0.6)):
    img = np.empty((H, W, 3), np.uint8)
    img[:] = np.round(np.array(color) * 255).astype(np.uint8)
    return img


def test_each_reason_flags_exactly_its_stroke():
    pos = np.array([
        _line(10, 10),  # 0: fine
        _line(10, 30),  # 1: colour no longer matches (the frame is red there)
        _line(40, 10),  # 2: stretched
        _line(100.5, 40, dx=3.0),  # 3: every particle left the frame
        _line(10, 50),  # 4: on an occluded area
        _line(62, 62),  # 5: background stroke now on a face
    ], np.float32)
    strokes = _strokes(pos, np.tile([0.2, 0.4, 0.6], (6, 1)))
    # Stretch stroke 2 after birth.
    stretched = strokes.positions.copy()
    stretched[2] = np.array(_line(40, 10, dx=4.0))
    strokes = StrokeSet(**{**strokes.__dict__, "positions": stretched})
    img = _image()
    img[25:35, 5:30] = (255, 0, 0)
    img[45:55, 5:30] = np.round(np.array([0.35, 0.4, 0.6]) * 255)  # occluded, colour drifting
    occ = np.zeros((H, W), bool)
    occ[45:55, 5:30] = True
    zeros = np.zeros((H, W, 2), np.float32)
    flow = FlowResult(zeros, zeros, occ, np.zeros((H, W), bool), 1.0, (H, W))
    r = deletion_reasons(strokes, img, _regions((55, 55, 90, 75)), flow=flow, previous_positions=stretched)
    assert r.color.tolist() == [False, True, False, False, False, False]
    assert r.strain.tolist() == [False, False, True, False, False, False]
    assert r.outside.tolist() == [False, False, False, True, False, False]
    assert r.occluded.tolist() == [False, False, False, False, True, False]
    assert r.region.tolist() == [False, False, False, False, False, True]
    assert r.any.tolist() == [False, True, True, True, True, True]
    assert not r.hidden.any()
    assert not r.hidden.any()
    assert r.counts() == {"color": 1, "strain": 1, "outside": 1, "occluded": 1, "region": 1, "hidden": 0}
    # A stroke whose centre has left but whose first particles are still in the frame shows
    # there: it stays (removing it would pop a hole along the border of a pan).
    leaving = _strokes(np.array([_line(96, 40, dx=3.0)], np.float32), np.tile([0.2, 0.4, 0.6], (1, 1)))
    assert not deletion_reasons(leaving, _image(), _regions()).outside[0]
    # Occlusion alone, with the colour still matching, keeps the stroke (no churn on flat areas).
    r2 = deletion_reasons(strokes, _image(), _regions(), flow=flow, previous_positions=stretched)
    assert not r2.occluded.any()


def test_buried_strokes_keep_the_top_of_each_cell():
    centres = np.array([[1, 1], [2, 2], [3, 1], [4, 4], [40, 40], [1.5, 1.5]], np.float32)
    # Cell 6 px: strokes 0, 1, 2, 3, 5 share a cell; the top three (5, 3, 2) stay.
    got = buried_strokes(centres, cell_px=6.0, keep=3)
    assert got.tolist() == [True, True, False, False, False, False]
    assert not buried_strokes(centres, cell_px=6.0, keep=0).any()
    assert buried_strokes(np.zeros((0, 2), np.float32), cell_px=6.0, keep=3).shape == (0,)
    # Strokes fading out (here 3 and 5) bury nothing: stroke 0 has only 2 and 1 above it that count.
    fading = np.array([False, False, False, True, False, True])
    assert buried_strokes(centres, cell_px=6.0, keep=3, bury=~fading).tolist() == [False] * 6
    assert buried_strokes(centres, cell_px=6.0, keep=2, bury=~fading).tolist() == [True, False, False, False, False, False]


def test_face_stroke_outside_the_face_is_deleted():
    pos = np.array([_line(60, 60, dx=1.0), _line(10, 10, dx=1.0)], np.float32)
    strokes = _strokes(pos, np.tile([0.2, 0.4, 0.6], (2, 1)), region=Region.INNER_FACE)
    r = deletion_reasons(strokes, _image(), _regions((55, 55, 90, 75)))
    assert r.region.tolist() == [False, True]


def test_a_face_track_ending_or_beginning_is_told_from_a_stroke_crossing_an_outline():
    ids_before = np.full((H, W), -1, np.int32)
    ids_before[10:40, 10:40] = 7  # face 7, lost in this frame
    ids_before[10:40, 60:90] = 3  # face 3, still tracked, moved right by 5 px
    ids_now = np.full((H, W), -1, np.int32)
    ids_now[10:40, 65:95] = 3
    ids_now[50:75, 10:40] = 9  # face 9, found in this frame
    face = _strokes(np.array([_line(20, 20, dx=1.0), _line(62, 20, dx=1.0), _line(80, 20, dx=1.0)], np.float32),
                    np.zeros((3, 3)), region=Region.INNER_FACE)
    # moved 1 px this frame: read where they were (positions - velocities)
    face = replace(face, velocities=np.full_like(face.positions, 1.0))
    background = _strokes(np.array([_line(20, 60, dx=1.0), _line(66, 20, dx=1.0), _line(20, 45, dx=1.0)], np.float32),
                          np.zeros((3, 3)))
    # lost face / left its face's outline (still tracked) / inside its tracked face
    assert face_track_changed(face, ids_before, ids_now).tolist() == [True, False, False]
    # on a new face / overrun by a tracked face moving / on no face
    assert face_track_changed(background, ids_before, ids_now).tolist() == [True, False, False]
    assert not face_track_changed(face, None, ids_now).any()
    assert not face_track_changed(background, ids_now, ids_now).any(), "no track began or ended"
    assert not face_track_changed(face, ids_before, ids_now, tracked_before=[3], tracked_now=[3]).any()
    with pytest.raises(InputError, match="differ in size"):
        face_track_changed(face, ids_before[:10], ids_now)


def test_content_vanishing_removes_strokes_and_new_content_is_uncovered():
    """A grey square on blue disappears: its strokes go; the hole they leave is flagged for filling."""
    img0 = _image((0.1, 0.1, 0.8))
    img0[20:60, 30:70] = 128
    pos = np.array([_line(35, y) for y in range(25, 56, 5)] + [_line(5, y) for y in range(5, 76, 10)], np.float32)
    colors = np.array([[128 / 255] * 3] * 7 + [[0.1, 0.1, 0.8]] * 8, np.float32)
    strokes = _strokes(pos, colors)
    img1 = _image((0.1, 0.1, 0.8))
    r = deletion_reasons(strokes, img1, _regions())
    assert r.any[:7].all() and not r.any[7:].any()
    kept = select_strokes(strokes, ~r.any)
    assert len(kept) == 8 and kept.ids.tolist() == list(range(7, 15))
    coverage = np.ones((H, W), np.float32)
    coverage[20:60, 30:70] = 0.0  # what the deleted strokes covered
    need = uncovered_mask(coverage, _regions())
    assert need[20:60, 30:70].all() and need.sum() == 40 * 40


def test_uncovered_ignores_features_and_specks():
    regions = _regions((50, 20, 90, 60))
    labels = regions.labels.copy()
    labels[30:40, 60:80] = Region.FEATURES
    regions = RegionMap(labels=labels, feature_alpha=regions.feature_alpha)
    coverage = np.zeros((H, W), np.float32)
    need = uncovered_mask(coverage, regions)
    assert not need[30:40, 60:80].any() and need[0:10, 0:10].all()
    coverage = np.ones((H, W), np.float32)
    coverage[5, 5] = 0.0  # a one-pixel gap between strokes
    coverage[10:20, 10:20] = 0.0
    need = uncovered_mask(coverage, _regions(), config=TemporalConfig(min_hole_px=120 * (1080 / 80) ** 2))
    assert need[10:20, 10:20].sum() == 0
    need = uncovered_mask(coverage, _regions(), config=TemporalConfig(min_hole_px=50 * (1080 / 80) ** 2))
    assert not need[5, 5] and need[10:20, 10:20].all()
    with pytest.raises(InputError, match="differ"):
        uncovered_mask(np.zeros((3, 3), np.float32), regions)


def test_merge_puts_new_strokes_underneath_and_cap_drops_bottom():
    a = _strokes(np.array([_line(10, 10)] * 3), np.zeros((3, 3)), first_id=0)
    b = _strokes(np.array([_line(20, 20)] * 2), np.ones((3, 3)) if False else np.ones((2, 3)), first_id=10)
    merged = merge_strokes(b, a)
    assert merged.ids.tolist() == [10, 11, 0, 1, 2]
    assert merged.springs is b.springs
    face = _strokes(np.zeros((0, 6, 2)), np.zeros((0, 3)), region=Region.INNER_FACE)
    capped, dropped = cap_strokes(Painting(background=merged, face=face), 3)
    assert dropped == 2 and capped.background.ids.tolist() == [0, 1, 2]
    other = StrokeSet(**{**a.__dict__, "positions": a.positions[:, :4], "springs": SPRINGS6[:3]})
    with pytest.raises(InputError, match="different models"):
        merge_strokes(a, other)


def test_empty_stroke_set():
    empty = _strokes(np.zeros((0, 6, 2)), np.zeros((0, 3)))
    r = deletion_reasons(empty, _image(), _regions())
    assert r.any.shape == (0,)
    with pytest.raises(InputError, match="differ in size"):
        deletion_reasons(empty, np.zeros((10, 10, 3), np.uint8), _regions())


def _textured(seed, shift=0):
    import cv2

    rng = np.random.default_rng(seed)
    small = (rng.random((20, 26, 3)) * 255).astype(np.uint8)
    img = cv2.resize(small, (260 + 20, 200), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(img[:, shift : shift + 260])


def test_scene_cut_detected_but_not_camera_motion():
    a = _textured(0)
    panned = _textured(0, shift=6)
    cut = _textured(1)
    threshold = TemporalConfig().scene_cut_threshold
    assert scene_cut_score(scene_signature(a), scene_signature(panned)) < threshold
    assert scene_cut_score(scene_signature(a), scene_signature(cut)) > threshold
    with pytest.raises(InputError, match="uint8"):
        scene_signature(np.zeros((10, 10), np.uint8))


def test_a_fade_to_black_and_back_is_no_cut_but_a_cut_to_black_is(media):
    """anchor_woman_700's first frame faded to black in 20 steps and back (the fade stress
    clip's recipe): no step is a cut; the frame cut straight to black, and black to the frame,
    are."""
    from facepaint.io import open_video

    frame = next(iter(open_video(media / "video" / "anchor_woman_700.mp4", max_frames=1))).image.astype(np.float32)
    threshold = TemporalConfig().scene_cut_threshold
    gains = [1 - k / 20 for k in range(21)] + [0.0] * 3 + [k / 20 for k in range(1, 21)]
    signatures = [scene_signature((frame * g + 0.5).astype(np.uint8)) for g in gains]
    scores = [scene_cut_score(a, b) for a, b in zip(signatures, signatures[1:])]
    assert max(scores) < threshold, np.round(scores, 2)
    black = scene_signature(np.zeros(frame.shape, np.uint8))
    assert black.dark and not signatures[0].dark
    assert scene_cut_score(signatures[0], black) > threshold
    assert scene_cut_score(black, signatures[0]) > threshold


def test_scene_cuts_in_real_clip(media):
    """stage_scene_cuts_360p has hard cuts at frames 20, 82 and 211; nothing else crosses the bar."""
    import cv2

    path = media / "video" / "stage_scene_cuts_360p.mp4"
    cap = cv2.VideoCapture(str(path))
    prev, cuts, index = None, [], 0
    threshold = TemporalConfig().scene_cut_threshold
    while index < 230:
        ok, frame = cap.read()
        if not ok:
            break
        sig = scene_signature(np.ascontiguousarray(frame[:, :, ::-1]))
        if prev is not None and scene_cut_score(prev, sig) > threshold:
            cuts.append(index)
        prev, index = sig, index + 1
    assert cuts == [20, 82, 211]


def test_colour_test_reads_the_mean_of_nine_bilinear_samples():
    """The box sums give the mean of the nine clamped bilinear reads around the material point
    (the definition of the colour test), anywhere in the frame, borders included."""
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    centres = np.concatenate([rng.uniform(0, [W - 1, H - 1], (40, 2)), [[0, 0], [W - 1, H - 1], [0.3, 50.7], [99.0, 0.4]]])
    pos = np.array([_line(0.0, 0.0)] * len(centres), np.float32)
    pos += (centres - np.einsum("npk,p->nk", pos, material_weights(6)))[:, None, :]  # material points at the centres
    strokes = _strokes(pos, np.zeros((len(pos), 3), np.float32))
    mp = np.einsum("npk,p->nk", pos, material_weights(6))
    f = img.astype(np.float64) / 255.0

    def bilinear(x, y):
        x, y = min(max(x, 0.0), W - 1.0), min(max(y, 0.0), H - 1.0)
        x0, y0 = min(int(x), W - 2), min(int(y), H - 2)
        ax, ay = x - x0, y - y0
        top = (1 - ax) * f[y0, x0] + ax * f[y0, x0 + 1]
        bot = (1 - ax) * f[y0 + 1, x0] + ax * f[y0 + 1, x0 + 1]
        return (1 - ay) * top + ay * bot

    want = np.array([np.linalg.norm(np.mean([bilinear(x + ox, y + oy) for oy in (-1, 0, 1) for ox in (-1, 0, 1)], axis=0))
                     for x, y in mp])
    # the test at the material point alone (the ends' test is off)
    r = deletion_reasons(strokes, img, _regions(), config=TemporalConfig(max_color_distance=0.0, max_end_color_distance=np.inf))
    got = r.color  # every stroke with a nonzero distance is flagged at threshold 0
    assert got.all()
    for threshold in np.quantile(want, [0.2, 0.5, 0.8]):
        config = TemporalConfig(max_color_distance=float(threshold), max_end_color_distance=np.inf)
        r = deletion_reasons(strokes, img, _regions(), config=config)
        near = np.abs(want - threshold) < 1e-4
        assert (r.color[~near] == (want[~near] > threshold)).all()


def test_uncovered_mask_matches_the_whole_frame_filtering():
    """Filtering only the box of the candidate pixels gives the whole frame's opening and specks."""
    import cv2

    rng = np.random.default_rng(11)
    regions = RegionMap(labels=np.full((120, 160), Region.BACKGROUND, np.uint8), feature_alpha=np.zeros((120, 160), np.float32))
    cfg = TemporalConfig(min_hole_px=30 * (1080 / 120) ** 2)  # 30 pixels in this frame
    yy, xx = np.ogrid[:120, :160]
    cases = [
        ([(20, 30, 6), (25, 40, 2), (90, 140, 9), (60, 5, 4), (118, 80, 3)], 0.01),  # all over, specks
        ([(40, 60, 5), (48, 75, 2), (44, 52, 1)], 0.0),  # a few spots: a small box inside the frame
    ]
    for spots, speckle in cases:
        coverage = np.ones((120, 160), np.float32)
        for y, x, r in spots:
            coverage[(yy - y) ** 2 + (xx - x) ** 2 <= r * r] = 0.0
        coverage[rng.random((120, 160)) < speckle] = 0.0
        opened = cv2.morphologyEx((coverage < cfg.min_uncovered_coverage).astype(np.uint8), cv2.MORPH_OPEN,
                                  np.ones((3, 3), np.uint8))
        _, lab, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
        keep = stats[:, cv2.CC_STAT_AREA] >= 30
        keep[0] = False
        want = keep[lab]
        got = uncovered_mask(coverage, regions, config=cfg)
        assert want.any() and (opened.astype(bool) & ~want).any()  # kept holes and dropped specks
        np.testing.assert_array_equal(got, want)


def test_buried_strokes_counting_matches_the_sort():
    """The counting pass and the sorting fallback (far-flung centres) agree."""
    rng = np.random.default_rng(2)
    centres = rng.uniform(0, 60, (3000, 2)).astype(np.float32)
    far = np.concatenate([centres, [[1e9, 1e9]]]).astype(np.float32)  # too many cells to count densely
    bury = rng.random(3001) < 0.7
    for mask in (None, bury):
        fast = buried_strokes(centres, cell_px=4.0, keep=3, bury=None if mask is None else mask[:-1])
        slow = buried_strokes(far, cell_px=4.0, keep=3, bury=mask)[:-1]
        assert fast.any() and (~fast).any()
        np.testing.assert_array_equal(fast, slow)


def test_colour_means_are_3x3_means_read_bilinearly():
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (7, 9, 3), np.uint8)
    pad = np.pad(img.astype(np.float64), ((1, 1), (1, 1), (0, 0)), mode="edge")  # border replicated
    box = sum(pad[dy:dy + 7, dx:dx + 9] for dy in range(3) for dx in range(3)) / (9 * 255)

    def want(x, y):
        x, y = min(max(x, 0.0), 8.0), min(max(y, 0.0), 6.0)
        x0, y0 = min(int(x), 7), min(int(y), 5)
        ax, ay = x - x0, y - y0
        top = (1 - ax) * box[y0, x0] + ax * box[y0, x0 + 1]
        bot = (1 - ax) * box[y0 + 1, x0] + ax * box[y0 + 1, x0 + 1]
        return (1 - ay) * top + ay * bot

    pts = np.array([[4, 3], [0, 0], [8, 6], [2.25, 4.5], [-3, 2], [8.9, 6.9], [7.5, 0.25]], np.float32)
    got = colour_means(img, pts)
    assert got.shape == (7, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, [want(x, y) for x, y in pts], atol=1e-6)
    assert np.allclose(got[0], img[2:5, 3:6].reshape(-1, 3).mean(0) / 255)  # an interior pixel: its 3x3 mean
    np.testing.assert_allclose(colour_means(img.astype(np.float32) / 255, pts), got, atol=1e-6)
    assert colour_means(img, np.zeros((0, 2), np.float32)).shape == (0, 3)
    with pytest.raises(InputError, match="colour_means"):
        colour_means(np.zeros((4, 4), np.uint8), pts)


def test_deletion_needs_the_complete_flow():
    zeros = np.zeros((H, W, 2), np.float32)
    forward_only = FlowResult(zeros, None, None, None, 1.0, (H, W))
    strokes = _strokes(np.array([_line(10, 10)], np.float32), np.array([[0.2, 0.4, 0.6]], np.float32))
    with pytest.raises(InputError, match="complete flow"):
        deletion_reasons(strokes, _image(), _regions(), flow=forward_only)


def _ladder(cx, cy, half_length=10.0, half_width=1.5):
    """A straight 6-particle stroke: row 0 (particles 0-2) above row 1 (3-5), centred at (cx, cy)."""
    xs = [cx - half_length, cx, cx + half_length]
    return [[x, cy - half_width] for x in xs] + [[x, cy + half_width] for x in xs]


def test_a_stroke_dragged_half_across_an_edge_is_deleted_by_its_end() -> None:
    # Two strokes of colour A: one on A, one whose centre is on A but whose right end reaches B.
    img = _image((200 / 255, 60 / 255, 60 / 255))
    img[:, W // 2:] = (40, 60, 200)
    pos = np.array([_ladder(W / 2 - 20, H / 2), _ladder(W / 2 - 4, H / 2)], np.float32)
    strokes = _strokes(pos, np.tile(np.array([200, 60, 60], np.float32) / 255, (2, 1)))
    on = deletion_reasons(strokes, img, _regions())
    off = deletion_reasons(strokes, img, _regions(), config=TemporalConfig(max_end_color_distance=np.inf))
    assert on.color.tolist() == [False, True]
    assert off.color.tolist() == [False, False]


def test_the_end_test_allows_what_an_end_by_an_edge_read_at_birth() -> None:
    # A stroke of colour A whose right end sits by a sharp edge to B when placed (a caption's
    # letter): against the bare threshold it fails at once (and was placed again, frame after
    # frame); with the distance it was born with allowed, it stays while the frame stays, and
    # goes when it is dragged farther onto B, as does a stroke born wholly on A.
    img = _image((200 / 255, 60 / 255, 60 / 255))
    img[:, W // 2:] = (40, 60, 200)
    pos = np.array([_ladder(W / 2 - 10, H / 2)], np.float32)  # right end on the first pixel of B
    strokes = _strokes(pos, np.array([[200, 60, 60]], np.float32) / 255)
    assert deletion_reasons(strokes, img, _regions()).color.tolist() == [True]  # unknown: the bare threshold
    placed = take_end_distances(strokes, img)
    assert placed.born_end_distance[0] > 0.5 and np.isnan(strokes.born_end_distance).all()
    assert deletion_reasons(placed, img, _regions()).color.tolist() == [False]
    further = replace(placed, positions=placed.positions + np.float32([3.0, 0.0]))
    assert deletion_reasons(further, img, _regions()).color.tolist() == [True]
    inside = take_end_distances(_strokes(pos - np.float32([12.0, 0.0]), strokes.colors), img)  # wholly on A
    dragged = replace(inside, positions=inside.positions + np.float32([14.0, 0.0]))  # its right end now on B
    assert deletion_reasons(inside, img, _regions()).color.tolist() == [False]
    assert deletion_reasons(dragged, img, _regions()).color.tolist() == [True]


def test_refresh_colours_moves_colours_part_way_to_the_frame() -> None:
    img = _image((100 / 255, 100 / 255, 100 / 255))
    strokes = _strokes(np.array([_ladder(30.0, 20.0)], np.float32), np.array([[1.0, 0.0, 0.0]], np.float32))
    out = refresh_colours(strokes, img, rate=0.25)
    np.testing.assert_allclose(out.colors[0], [0.75 + 0.25 * 100 / 255, 0.25 * 100 / 255, 0.25 * 100 / 255], atol=1e-5)
    assert refresh_colours(strokes, img, rate=0.0) is strokes
    with pytest.raises(InputError, match="rate"):
        refresh_colours(strokes, img, rate=1.5)


def test_the_hidden_test_grid_stands_still_while_the_median_thickness_wobbles():
    # The cell is the median thickness rounded, kept while the median stays within a quarter of
    # it: strokes coming and going nudge the median (10.84 -> 10.86 px), and a grid whose lines
    # sit at multiples of a nudged cell moved by pixels at the far side of the frame, burying a
    # different set of strokes every frame.
    config = TemporalConfig()
    assert hidden_cell_px(np.array([10.84, 10.9, 10.7], np.float32), config) == 11.0
    for median in (10.84, 10.86, 9.0, 13.5):
        assert hidden_cell_px(np.full(5, median, np.float32), config, previous=11.0) == 11.0
    assert hidden_cell_px(np.full(5, 14.0, np.float32), config, previous=11.0) == 14.0  # a zoom: a new grid
    assert hidden_cell_px(np.zeros(0, np.float32), config) == 1.0
    # The same strokes over a 720p frame with two medians: the kept cell buries the same ones,
    # cells of the raw medians do not.
    rng = np.random.default_rng(2)
    centres = rng.uniform(0, 1270, (20000, 2)).astype(np.float32) * np.float32([1.0, 0.56])
    strokes = _strokes(np.stack([_line(x, y, dx=0.1) for x, y in centres]), np.tile([0.2, 0.4, 0.6], (20000, 1)))
    image = np.full((720, 1280, 3), 100, np.uint8)
    regions = RegionMap(labels=np.full((720, 1280), Region.BACKGROUND, np.uint8), feature_alpha=np.zeros((720, 1280), np.float32))
    kept, raw = {}, {}
    for median in (10.84, 10.86):
        s = replace(strokes, thickness=np.full(20000, median, np.float32))
        kept[median] = deletion_reasons(s, image, regions, hidden_cell=hidden_cell_px(s.thickness, config, previous=11.0)).hidden
        raw[median] = deletion_reasons(s, image, regions, hidden_cell=median).hidden
    assert kept[10.84].any()
    np.testing.assert_array_equal(kept[10.84], kept[10.86])
    assert (raw[10.84] != raw[10.86]).sum() > 100


def test_a_stroke_born_under_a_full_cell_is_not_placed_to_be_deleted_next_frame():
    # Four strokes (thickness 3: cells of 3 px) centred in one cell; new strokes go under them.
    # One born in that cell would be deleted as hidden by the next deletion test; one born in an
    # empty cell, or under strokes that are fading out (they bury nothing), is kept.
    old = _strokes([_line(10.2, 10.5, dx=0.1)] * 4, np.tile([0.2, 0.4, 0.6], (4, 1)), first_id=10)
    new = _strokes([_line(10.4, 10.6, dx=0.1), _line(40, 40, dx=0.1)], np.tile([0.2, 0.4, 0.6], (2, 1)), first_id=20)
    assert buried_at_birth(new, old).tolist() == [True, False]
    joined = merge_strokes(new, old)
    assert deletion_reasons(joined, _image(), _regions()).hidden[:2].tolist() == [True, False]
    fading = replace(old, fading_out=np.ones(4, bool))
    assert buried_at_birth(new, fading).tolist() == [False, False]
    assert not buried_at_birth(new, old, replace(TemporalConfig(), hidden_keep=0)).any()
