"""The default face model on real faces from ../shared/media and on synthetic frames."""

from __future__ import annotations

import numpy as np
import pytest

from facepaint.errors import InputError
from facepaint.face import FaceModel, available_face_models, create_face_model, register_face_model
from facepaint.face.ibug import ibug68_from_mesh
from facepaint.regions import build_region_map
from facepaint.types import Face, FeatureClass


def _read(path):
    from facepaint.io import read_image

    return read_image(path)


def _centroid(face: Face, cls: FeatureClass) -> np.ndarray:
    return face.feature_polygons[cls].mean(axis=0)


def _check_face(face: Face, shape) -> None:
    assert face.box.shape == (4,) and face.box.dtype == np.float32
    assert 0.0 <= face.score <= 1.0
    c = face.contour
    assert c.shape == (36, 2) and c.dtype == np.float32
    assert not np.allclose(c[0], c[-1])  # closed implicitly: the last point is not the first
    # inside the box
    assert (c[:, 0] >= face.box[0] - 1e-3).all() and (c[:, 0] <= face.box[2] + 1e-3).all()
    assert (c[:, 1] >= face.box[1] - 1e-3).all() and (c[:, 1] <= face.box[3] + 1e-3).all()
    # ordered: the angle about the centre turns monotonically once round (a simple ring)
    centre = c.mean(axis=0)
    angles = np.unwrap(np.arctan2(c[:, 1] - centre[1], c[:, 0] - centre[0]))
    steps = np.diff(np.append(angles, angles[0] + 2 * np.pi))
    assert (steps > 0).all(), "contour is not clockwise-ordered in image coordinates"
    assert abs(steps.sum() - 2 * np.pi) < 1e-3
    # point 0 is the top of the forehead, point 1 lies towards the image right
    assert c[0, 1] <= np.sort(c[:, 1])[3] + 1e-3
    assert c[1, 0] > c[0, 0]
    # feature mask crop within the frame, labels in 0..6, all six classes present
    h, w = face.feature_mask.shape
    ox, oy = face.mask_offset
    assert 0 <= ox and 0 <= oy and ox + w <= shape[1] and oy + h <= shape[0]
    assert set(np.unique(face.feature_mask)) <= set(range(7))
    assert face.mesh is not None and face.mesh.shape == (468, 2)


def _check_sides(face: Face) -> None:
    """Subject's left features sit on the image right for an upright face facing the camera."""
    assert _centroid(face, FeatureClass.EYE_L)[0] > _centroid(face, FeatureClass.EYE_R)[0]
    assert _centroid(face, FeatureClass.BROW_L)[0] > _centroid(face, FeatureClass.BROW_R)[0]
    for side_eye, side_brow in ((FeatureClass.EYE_L, FeatureClass.BROW_L), (FeatureClass.EYE_R, FeatureClass.BROW_R)):
        assert _centroid(face, side_brow)[1] < _centroid(face, side_eye)[1]
    assert _centroid(face, FeatureClass.MOUTH)[1] > _centroid(face, FeatureClass.NOSE)[1]
    # in the label crop as well
    mask = face.feature_mask
    for cls in (FeatureClass.EYE_L, FeatureClass.EYE_R):
        assert (mask == cls).sum() > 0
    xl = np.nonzero(mask == FeatureClass.EYE_L)[1].mean()
    xr = np.nonzero(mask == FeatureClass.EYE_R)[1].mean()
    assert xl > xr


def test_protocol_and_registry(face_model):
    assert isinstance(face_model, FaceModel)
    assert "mediapipe" in available_face_models()
    with pytest.raises(InputError, match="unknown face model"):
        create_face_model("no-such-model")
    with pytest.raises(InputError, match="unknown option"):
        create_face_model("mediapipe", not_an_option=3)
    with pytest.raises(InputError, match="min_face_px"):
        create_face_model("mediapipe", min_face_px=2)

    class Nothing:
        def process(self, image):
            return []

        def detect(self, image):
            return []

        def reset(self):
            pass

    register_face_model("test-nothing", lambda **kw: Nothing(), replace=True)
    assert isinstance(create_face_model("test-nothing"), FaceModel)
    with pytest.raises(ValueError, match="already registered"):
        register_face_model("test-nothing", lambda **kw: Nothing())


def test_two_people_photo(face_model, media):
    image = _read(media / "photos" / "two_people.jpg")
    faces = face_model.detect(image)
    assert len(faces) == 2
    assert [f.track_id for f in faces] == [0, 1]
    assert faces[0].box[0] < faces[1].box[0]  # left to right
    for face in faces:
        _check_face(face, image.shape[:2])
        _check_sides(face)


def test_mirrored_photo_keeps_anatomical_sides(face_model, media):
    image = _read(media / "photos" / "two_people.jpg")[:, ::-1].copy()
    faces = face_model.detect(image)
    assert len(faces) == 2
    for face in faces:
        _check_sides(face)


def test_grayscale_frame_works(face_model, media):
    import cv2

    image = cv2.cvtColor(_read(media / "photos" / "two_people.jpg"), cv2.COLOR_RGB2GRAY)
    faces = face_model.detect(image)
    assert len(faces) == 2
    faces = face_model.detect(image[:, :, None])
    assert len(faces) == 2


def test_landmarks_match_300w_ground_truth(face_model, media):
    """68-point error normalised by the outer-eye-corner distance, on three hand-labelled faces."""
    from facepaint.annotations import read_pts

    errors = []
    for name in ("18489332_4", "3346359383_3", "test_1"):
        image = _read(media / "landmarks" / "300w" / f"{name}.jpg")
        truth = np.asarray(read_pts(media / "landmarks" / "300w" / f"{name}.pts"), np.float64)
        faces = face_model.detect(image)
        assert faces, name
        centre = truth.mean(axis=0)
        face = min(faces, key=lambda f: np.hypot(*(f.mesh.mean(axis=0) - centre)))
        predicted = ibug68_from_mesh(face.mesh)
        iod = np.linalg.norm(truth[36] - truth[45])
        errors.append(np.linalg.norm(predicted - truth, axis=1).mean() / iod)
    assert np.mean(errors) < 0.07, errors


def _face_40px(media) -> np.ndarray:
    """A 300-W face with its margin, scaled so that the face is 40 px wide."""
    import cv2

    from facepaint.annotations import read_pts

    image = _read(media / "landmarks" / "300w" / "3346359383_3.jpg")
    truth = np.asarray(read_pts(media / "landmarks" / "300w" / "3346359383_3.pts"), np.float64)
    x0, y0 = truth.min(0)
    x1, y1 = truth.max(0)
    width = x1 - x0
    margin = int(0.8 * width)
    crop = image[max(0, int(y0) - margin) : int(y1) + margin, max(0, int(x0) - margin) : int(x1) + margin]
    return cv2.resize(crop, None, fx=40 / width, fy=40 / width, interpolation=cv2.INTER_AREA)


def test_small_face_in_a_big_frame_is_found(face_model, media):
    """A 300-W face scaled to 40 px wide in a 1280x720 grey frame."""
    small = _face_40px(media)
    frame = np.full((720, 1280, 3), 120, np.uint8)
    frame[300 : 300 + small.shape[0], 700 : 700 + small.shape[1]] = small
    faces = face_model.detect(frame)
    assert len(faces) == 1
    assert 30 < faces[0].width_px < 70
    _check_sides(faces[0])


def test_a_small_face_that_enters_a_1080p_frame_is_found_within_half_a_second(media):
    """After a first frame without faces (which scans every tile), a 40 px face appears: the
    rolling detection visits every tile within ``full_pass_frames`` frames (with 3 tiles a
    frame it took up to 55 frames at 1080p)."""
    small = _face_40px(media)
    empty = np.full((1080, 1920, 3), 120, np.uint8)
    frame = empty.copy()
    # there, three tiles a frame found it on the 43rd frame; the default rule on the 12th
    frame[800 : 800 + small.shape[0], 300 : 300 + small.shape[1]] = small
    model = create_face_model("mediapipe", change_tiles=0)
    assert model.config.full_pass_frames == 15
    assert model.process(empty) == []
    found = next((k for k in range(1, 16) if model.process(frame)), None)
    assert found is not None, "not found within 15 frames"


def test_a_face_that_appears_is_found_in_the_next_frame_by_the_change_it_makes(media):
    """The same face appearing in a 1080p frame (and, later, a second one beside the first,
    tracked, face) is found at once: the finest tile that changed most is scanned besides the
    rolling ones (change_tiles)."""
    small = _face_40px(media)
    empty = np.full((1080, 1920, 3), 120, np.uint8)
    one = empty.copy()
    one[800 : 800 + small.shape[0], 300 : 300 + small.shape[1]] = small
    two = one.copy()
    two[200 : 200 + small.shape[0], 1500 : 1500 + small.shape[1]] = small
    model = create_face_model("mediapipe")
    assert model.config.change_tiles >= 1
    assert model.process(empty) == []
    assert len(model.process(one)) == 1
    assert len(model.process(one)) == 1
    assert len(model.process(two)) == 2


def test_a_face_that_jumps_within_its_crop_is_meshed_again_on_its_own(media):
    """A 100 px face moves by a third of its width between two frames (a head turned quickly):
    meshed on the crop of its last place, its contour lands off the face; meshed again on a crop
    centred on that first answer, it lands on it."""
    import cv2

    small = _face_40px(media)
    face = cv2.resize(small, None, fx=2.5, fy=2.5, interpolation=cv2.INTER_CUBIC)  # a 100 px face
    h, w = face.shape[:2]
    offsets = {}
    for shift in (0.05, 10.0):  # the default; a threshold no move reaches: no second meshing
        model = create_face_model("mediapipe", recrop_shift=shift)
        frames = []
        for x in (300, 334):
            frame = np.full((480, 640, 3), 120, np.uint8)
            frame[120 : 120 + h, x : x + w] = face
            frames.append(frame)
        first = model.process(frames[0])[0].contour.mean(axis=0)
        second = model.process(frames[1])[0].contour.mean(axis=0)
        offsets[shift] = float(np.hypot(second[0] - first[0] - 34, second[1] - first[1]))
    # measured: 3.8 px (the smoothing filter keeps a little lag) against 12.4 px
    assert offsets[0.05] < 5.0 and offsets[0.05] < 0.5 * offsets[10.0], offsets


def test_no_face_frames(face_model):
    rng = np.random.default_rng(0)
    for image in (np.full((240, 320, 3), 128, np.uint8), rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)):
        assert face_model.detect(image) == []
        model = create_face_model()
        assert model.process(image) == []
        regions = build_region_map([], image.shape[:2])
        assert (regions.labels == 3).all()


def test_tracking_keeps_ids_and_resets(media):
    from facepaint.io import open_video

    model = create_face_model()
    frames = [f.image for f in open_video(media / "video" / "akiyo.mp4", max_frames=12)]
    tracks = [model.process(image) for image in frames]
    assert all(len(faces) == 1 for faces in tracks)
    assert len({faces[0].track_id for faces in tracks}) == 1
    contours = np.stack([faces[0].contour for faces in tracks])
    # a news anchor sitting still: the smoothed contour moves well under a pixel a frame
    assert np.abs(np.diff(contours, axis=0)).mean() < 0.5
    for faces in tracks:
        _check_face(faces[0], frames[0].shape[:2])
    model.reset()
    again = model.process(frames[0])
    assert len(again) == 1 and again[0].track_id == 0


def test_face_cut_by_the_frame_border(face_model, media):
    image = _read(media / "photos" / "two_people.jpg")
    faces = face_model.detect(image)
    right = max(faces, key=lambda f: f.box[0])
    cut = int((right.box[0] + right.box[2]) / 2 + 0.15 * right.width_px)  # keep ~65% of the face
    part = np.ascontiguousarray(image[:, :cut])
    found = face_model.detect(part)
    assert len(found) == 2
    edge = max(found, key=lambda f: f.box[0])
    assert edge.box[2] > cut - 1  # the contour runs past the border
    regions = build_region_map(found, part.shape[:2])
    assert set(np.unique(regions.labels)) == {1, 2, 3}


def test_bad_images_are_rejected(face_model):
    with pytest.raises(InputError, match="uint8"):
        face_model.detect(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(InputError, match="RGB"):
        face_model.detect(np.zeros((64, 64, 4), np.uint8))
    with pytest.raises(InputError, match="numpy"):
        face_model.process([[0, 1], [2, 3]])


def test_full_range_detector_option(media):
    image = _read(media / "photos" / "two_people.jpg")
    model = create_face_model(detector="full")
    faces = model.detect(image)
    assert len(faces) == 2
    for face in faces:
        _check_face(face, image.shape[:2])
        _check_sides(face)
    with pytest.raises(InputError, match="detector"):
        create_face_model(detector="medium")


def test_two_moving_faces_keep_their_ids(media):
    """The two_people photo sliding right 12 px a frame: two tracks, ids never swap."""
    image = _read(media / "photos" / "two_people.jpg")
    model = create_face_model()
    positions: dict[int, list[float]] = {}
    for step in range(6):
        frame = np.zeros_like(image)
        shift = 12 * step
        frame[:, shift:] = image[:, : image.shape[1] - shift]
        faces = model.process(frame)
        assert len(faces) == 2
        for face in faces:
            positions.setdefault(face.track_id, []).append(float(face.contour[:, 0].mean()))
    assert len(positions) == 2
    for xs in positions.values():
        assert np.all(np.diff(xs) > 4)  # each track follows its own face to the right


def test_lazy_exports():
    from facepaint.face import MediapipeConfig, MediapipeFaceModel

    assert MediapipeConfig().detector == "short"
    assert isinstance(MediapipeFaceModel(min_face_px=40), FaceModel)
    with pytest.raises(InputError, match="either"):
        MediapipeFaceModel(MediapipeConfig(), min_face_px=40)


def test_tflite_and_opencv_runtimes_agree_on_real_faces(media):
    """The two runtimes of the networks give the same detections and landmarks (to a fraction of
    a pixel), and the TFLite one is the default when installed."""
    pytest.importorskip("tflite_runtime")
    from facepaint.face._detect import cut_tiles
    from facepaint.face._nets import Networks

    tflite, opencv = Networks(), Networks("opencv")
    assert tflite.backend == "tflite"
    image = _read(media / "landmarks" / "300w" / "test_1.jpg")
    h, w = image.shape[:2]
    side = float(min(h, w))
    tiles, _ = cut_tiles(image, np.array([[(w - side) / 2, (h - side) / 2, side]], np.float32))
    (s1, r1), (s2, r2) = tflite.detect(tiles), opencv.detect(tiles)
    assert s1.max() > 0.5  # a face is there
    np.testing.assert_allclose(s1, s2, atol=1e-4)
    np.testing.assert_allclose(r1, r2, atol=1e-2)
    crops = np.ascontiguousarray(np.stack([
        _resized(image[: int(side), : int(side)], 192), _resized(image[-int(side):, -int(side):], 192)
    ]))
    (l1, p1), (l2, p2) = tflite.mesh(crops), opencv.mesh(crops)
    assert l1.shape == (2, 468, 2) and p1.shape == (2,)
    np.testing.assert_allclose(l1, l2, atol=0.05)
    np.testing.assert_allclose(p1, p2, atol=1e-4)
    with pytest.raises(InputError):
        Networks("onnx")


def _resized(image, size):
    import cv2

    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def test_a_face_that_jumps_far_is_meshed_again_until_its_crop_settles(media):
    """A jump of a third of a face width down (lp_s13 moves 12-24 px a frame at 77 px): the mesh
    on the crop of the last place, and on one new crop from it, both lag towards their crop's
    centre; re-cropping until the crop stops moving lands on the face."""
    import cv2

    small = _face_40px(media)
    face = cv2.resize(small, None, fx=2.5, fy=2.5, interpolation=cv2.INTER_CUBIC)  # a 100 px face
    h, w = face.shape[:2]
    offsets = {}
    for passes in (1, 3):
        model = create_face_model("mediapipe", recrop_passes=passes)
        contours = []
        for y in (60, 60 + 32):
            frame = np.full((480, 640, 3), 120, np.uint8)
            frame[y : y + h, 250 : 250 + w] = face
            contours.append(model.process(frame)[0].contour.mean(axis=0))
        offsets[passes] = float(np.hypot(contours[1][0] - contours[0][0], contours[1][1] - contours[0][1] - 32))
    # measured: 4.6 px against 16.5 px with one new crop
    assert offsets[3] < 6.0 and offsets[3] < 0.5 * offsets[1], offsets
