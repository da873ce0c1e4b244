"""The default face model: mediapipe's shipped networks, tiled detection and mesh tracking.

How a frame is processed (:meth:`MediapipeFaceModel.process`):

1. **Track.** Every face of the previous frame is meshed again on a crop placed from its previous
   landmarks (mediapipe's own tracking rule: the landmarks' box, eye-levelled, x1.5). The crop is
   upscaled to the network's 192 px, so a 24 px face is meshed like a large one. A face whose
   presence score falls under ``keep_threshold`` is looked for once more by the detector on a
   square three times its size around its last place; if it is not found there (about the same
   size, about the same place), the track ends.
2. **Detect, a few tiles a frame.** The short-range detector scans a pyramid of overlapping
   tiles (finest tiles find faces of ``min_face_px``, 24 px by default; the last tile is the whole
   frame). The first frame after a reset scans every tile; later frames scan ``tiles_per_frame``
   tiles in turn, as many as a full pass over the frame in ``full_pass_frames`` (15, half a
   second) takes, so the cost per frame stays flat and a face that enters, or comes out from
   behind someone, is found within half a second at any frame size; and, each frame, the finest
   tile that changed most since it was last scanned (``change_tiles``), which finds such a face
   in the next frame or two. Detections on faces already
   tracked are ignored; new ones are meshed (twice: from the detector's crop, then from their own
   landmarks) and start a track if present.
3. **Smooth.** Output landmarks go through a One Euro filter per track (speeds in face sizes per
   second, so small and large faces are smoothed alike); tracking uses the raw landmarks.

The contour is the mesh's 36-point FACE_OVAL; the feature polygons are rings of mesh points
(see :mod:`facepaint.face.topology`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import cv2
import numpy as np

from facepaint.errors import InputError
from facepaint.face._detect import Detections, box_iou, detect_in_squares, scan_schedule, tile_squares
from facepaint.face._mesh import crops_from_detections, crops_from_landmarks, run_mesh, verify_faces
from facepaint.face._nets import FullRangeDetector, Networks, ShortRangeDetector
from facepaint.face.base import register_face_model
from facepaint.face.features import feature_mask, polygons_from_mesh
from facepaint.face.smoothing import OneEuroConfig, OneEuroFilter
from facepaint.face.topology import FACE_OVAL
from facepaint.types import Face


@dataclass(frozen=True)
class MediapipeConfig:
    """Options of :class:`MediapipeFaceModel`.

    detector : ``"short"`` (mediapipe's short-range model run by the TFLite runtime, the default) or
        ``"full"`` (the full-range model, run by mediapipe's FaceDetection graph, ~3x the cost
        of a tile). On the figures of benchmarks/face_model.py the short-range tiles found more
        faces of 30-40 px (100 % vs 91-94 %) and faces cut by the frame border; both found the
        same number in crowd_1080p frames.
    min_face_px : smallest face width to look for, frame pixels (the finest tiles are
        ``min_face_px / share`` wide, share 0.065 full / 0.11 short); smaller values cost more
    detection_score : detector score threshold in [0, 1]
    presence_threshold : landmark network's face-presence threshold in [0, 1] for a new face
    keep_threshold : presence under which a tracked face is lost, in [0, presence_threshold]
        (hysteresis: a face looking down or turning away scores lower for a while, and a track
        that ends and restarts would change its id)
    verify_score : a new face is kept only if the detector, run again on an upright crop three
        times the face's size, scores it at least this (0 disables the check), in [0, 1]
    max_faces : most faces kept per frame (the largest win)
    tiles_per_frame : detector tiles run per frame while tracking (the first frame runs all);
        None: for the short-range detector enough to visit every tile in ``full_pass_frames``
        (at least 3: 11 at 1080p, about 25 ms of CPU; with 3, as before, a 50 px face at 1080p
        waited up to 55 frames to be found, and crowd_1080p lost a face for a second after
        someone walked past it), 1 for the full-range one
    full_pass_frames : see ``tiles_per_frame``
    change_tiles : besides those, the finest tiles that changed most since they were last
        scanned (mean absolute grey change over the tile, faces already tracked left out, summed
        frame by frame), up to this many a frame: a face that enters or comes out from behind
        someone changes its tile, and is found in a frame or two instead of when the rolling
        scan comes round (up to ``full_pass_frames``). Three: in a crowd many tiles change at
        once, and with one a frame a man stepping out from behind someone in crowd_1080p (a
        63 px face, seen by dlib from frame 50) was found at frame 53, painted as background
        until then; with three at frame 48 (each more tile: about 2.3 ms of CPU at 1080p)
    change_floor : grey levels of accumulated mean change below which a tile is not picked
    tile_overlap : overlap of neighbouring tiles, share of their side, in [0, 0.9]
    level_ratio : growth of the tile side between pyramid levels, in [1.5, 6]
    nms_iou : IoU above which two detections are merged
    crop_scale : side of the mesh crop over the face size (mediapipe uses 1.5)
    recrop_shift : a tracked face whose mesh centre moved more than this share of its crop's side
        from the crop's centre is meshed again on a crop centred on it
    recrop_passes : at most this many such new crops per face and frame (a fast move needs
        several: the mesh on an off-centre crop lags towards the crop's centre)
    fps : frame rate assumed by the smoothing filter (its time step is ``1 / fps``)
    smoothing : One Euro parameters, or None for raw landmarks
    """

    detector: str = "short"
    min_face_px: float = 24.0
    detection_score: float = 0.5
    presence_threshold: float = 0.5
    keep_threshold: float = 0.2
    verify_score: float = 0.5
    max_faces: int = 32
    tiles_per_frame: int | None = None
    full_pass_frames: int = 15
    change_tiles: int = 3
    change_floor: float = 1.0
    tile_overlap: float = 0.4
    level_ratio: float = 3.0
    nms_iou: float = 0.3
    crop_scale: float = 1.5
    recrop_shift: float = 0.05
    recrop_passes: int = 3
    fps: float = 30.0
    smoothing: OneEuroConfig | None = field(default_factory=OneEuroConfig)

    def __post_init__(self) -> None:
        if self.detector not in ("full", "short"):
            raise InputError(f"MediapipeConfig.detector must be 'full' or 'short', got {self.detector!r}")
        checks = [
            ("min_face_px", self.min_face_px >= 8, "at least 8 (pixels)"),
            ("detection_score", 0 <= self.detection_score <= 1, "in [0, 1]"),
            ("presence_threshold", 0 <= self.presence_threshold <= 1, "in [0, 1]"),
            ("keep_threshold", 0 <= self.keep_threshold <= self.presence_threshold, "in [0, presence_threshold]"),
            ("verify_score", 0 <= self.verify_score <= 1, "in [0, 1]"),
            ("max_faces", self.max_faces >= 1, "at least 1"),
            ("tiles_per_frame", self.tiles_per_frame is None or self.tiles_per_frame >= 0, "None or at least 0"),
            ("full_pass_frames", self.full_pass_frames >= 1, "at least 1"),
            ("change_tiles", self.change_tiles >= 0, "at least 0"),
            ("change_floor", self.change_floor >= 0, "at least 0"),
            ("tile_overlap", 0 <= self.tile_overlap <= 0.9, "in [0, 0.9]"),
            ("level_ratio", 1.5 <= self.level_ratio <= 6, "in [1.5, 6]"),
            ("nms_iou", 0 < self.nms_iou < 1, "in (0, 1)"),
            ("crop_scale", 1.0 <= self.crop_scale <= 3.0, "in [1, 3]"),
            ("recrop_shift", self.recrop_shift >= 0, "at least 0"),
            ("recrop_passes", self.recrop_passes >= 0, "at least 0"),
            ("fps", self.fps > 0, "positive"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise InputError(f"MediapipeConfig.{name} must be {expected}, got {getattr(self, name)!r}")


@dataclass
class _Track:
    track_id: int
    raw: np.ndarray  # (468, 2) float32 landmarks of the last frame, unsmoothed
    presence: float
    smoother: OneEuroFilter | None


def as_rgb(image: np.ndarray) -> np.ndarray:
    """Check a frame and return it as ``(H, W, 3) uint8`` RGB (grayscale is replicated)."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"expected an image as a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InputError(
            f"expected a uint8 image (0-255), got dtype {image.dtype}; convert with "
            "(np.clip(image, 0, 1) * 255).astype(np.uint8) for float images in [0, 1]"
        )
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"expected an (H, W, 3) RGB or (H, W) grayscale image, got shape {image.shape}")
    if image.shape[0] < 8 or image.shape[1] < 8:
        raise InputError(f"expected an image at least 8x8 pixels, got {image.shape[1]}x{image.shape[0]}")
    return np.ascontiguousarray(image)


def _contour_boxes(meshes: np.ndarray) -> np.ndarray:
    """(n, 4) boxes of the FACE_OVAL contours of ``(n, 468, 2)`` meshes."""
    ring = meshes[:, FACE_OVAL]
    return np.concatenate([ring.min(1), ring.max(1)], axis=1)


class MediapipeFaceModel:
    """The default :class:`~facepaint.face.base.FaceModel` (see the module docstring)."""

    name = "mediapipe"

    def __init__(self, config: MediapipeConfig | None = None, **options) -> None:
        if config is None:
            try:
                config = MediapipeConfig(**options)
            except TypeError as error:
                known = ", ".join(f.name for f in fields(MediapipeConfig))
                raise InputError(f"unknown option for the mediapipe face model ({error}); known: {known}") from None
        elif options:
            raise InputError("give either config=MediapipeConfig(...) or keyword options, not both")
        self.config = config
        self._nets = Networks()
        self._detector = FullRangeDetector() if config.detector == "full" else ShortRangeDetector(self._nets)
        self.reset()

    # -- the FaceModel interface -------------------------------------------------------------

    def reset(self) -> None:
        """Forget every track; the next :meth:`process` scans the whole frame."""
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._shape: tuple[int, int] | None = None
        self._squares = np.zeros((0, 3), np.float32)
        self._schedule = np.zeros(0, np.int64)
        self._cursor = 0
        self._fresh = True
        self._thumb: np.ndarray | None = None  # the last frame, grey, 1/8 size (for change_tiles)
        self._change = np.zeros(0, np.float64)  # per square: mean grey change since its last scan

    def process(self, image: np.ndarray) -> list[Face]:
        """Faces of the next video frame, tracked and smoothed; sorted by track id.

        Parameters
        ----------
        image : (H, W, 3) uint8 RGB or (H, W) uint8 grayscale

        Returns
        -------
        list of :class:`~facepaint.types.Face` (empty when no face is found)
        """
        rgb = as_rgb(image)
        shape = (rgb.shape[0], rgb.shape[1])
        if shape != self._shape:
            self.reset()
            self._shape = shape
            self._squares = self._tile_squares(shape)
            self._schedule = scan_schedule(self._squares)
            self._change = np.zeros(len(self._squares), np.float64)
        self._track(rgb)
        self._note_change(rgb)
        if self._fresh:
            squares = self._squares
            self._change[:] = 0.0
            self._fresh = False
        else:
            squares = self._next_squares()
        if len(squares):
            self._add_new(rgb, squares)
        self._drop_duplicates()
        return [self._face_of(track, shape) for track in sorted(self._tracks, key=lambda t: t.track_id)]

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces of a single still: every tile scanned, each face meshed twice, no smoothing.

        Does not touch the tracking state. Track ids are 0..n-1, left to right.
        """
        rgb = as_rgb(image)
        shape = (rgb.shape[0], rgb.shape[1])
        squares = self._tile_squares(shape)
        meshes, presence = self._mesh_detections(rgb, squares, existing=np.zeros((0, 4), np.float32))
        keep = _non_duplicates(_contour_boxes(meshes), np.arange(len(meshes)))
        meshes, presence = meshes[keep], presence[keep]
        meshes, presence = self._largest(meshes, presence)
        order = np.argsort(_contour_boxes(meshes)[:, 0], kind="stable") if len(meshes) else []
        faces = []
        for new_id, i in enumerate(order):
            faces.append(_build_face(meshes[i], float(presence[i]), new_id, shape))
        return faces

    # -- steps ---------------------------------------------------------------------------------

    def _tile_squares(self, shape: tuple[int, int]) -> np.ndarray:
        cfg = self.config
        return tile_squares(
            shape,
            min_face_px=cfg.min_face_px,
            level_ratio=cfg.level_ratio,
            overlap=cfg.tile_overlap,
            min_face_share=self._detector.min_face_share,
        )

    def _next_squares(self) -> np.ndarray:
        per_frame = self.config.tiles_per_frame
        if per_frame is None:
            per_frame = max(3, -(-len(self._schedule) // self.config.full_pass_frames)) if self.config.detector == "short" else 1
        n = min(per_frame, len(self._schedule))
        idx = self._schedule[(self._cursor + np.arange(n)) % len(self._schedule)] if n else np.zeros(0, np.int64)
        self._cursor = int((self._cursor + n) % len(self._schedule)) if len(self._schedule) else 0
        if self.config.change_tiles and len(self._squares):
            # The finest tiles that changed most since their last scan (see change_tiles).
            finest = np.flatnonzero(self._squares[:, 2] == self._squares[:, 2].min())
            change = self._change[finest].copy()
            change[np.isin(finest, idx)] = -1.0  # scanned anyway
            order = np.argsort(-change, kind="stable")[: self.config.change_tiles]
            picked = finest[order[change[order] >= self.config.change_floor]]
            idx = np.concatenate([idx, picked])
        idx = np.unique(idx)
        self._change[idx] = 0.0
        return self._squares[idx]

    def _note_change(self, rgb: np.ndarray) -> None:
        """Add this frame's change to every square's ``_change``: the mean absolute grey
        difference to the previous frame (both at 1/8 size) over the square, with the faces
        being tracked (their boxes, grown by half) left out."""
        if not self.config.change_tiles:
            return
        h, w = rgb.shape[:2]
        size = (max(1, -(-w // 8)), max(1, -(-h // 8)))
        thumb = cv2.cvtColor(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
        previous, self._thumb = self._thumb, thumb
        if previous is None or previous.shape != thumb.shape:
            return
        diff = cv2.absdiff(thumb, previous).astype(np.float32)
        sx, sy = size[0] / w, size[1] / h
        for track in self._tracks:  # a few faces
            x0, y0 = track.raw[:, :2].min(axis=0)
            x1, y1 = track.raw[:, :2].max(axis=0)
            gx, gy = 0.5 * (x1 - x0), 0.5 * (y1 - y0)
            diff[max(0, int((y0 - gy) * sy)):max(0, int(np.ceil((y1 + gy) * sy))),
                 max(0, int((x0 - gx) * sx)):max(0, int(np.ceil((x1 + gx) * sx)))] = 0.0
        total = cv2.integral(diff)
        sq = self._squares
        xa = np.clip(np.floor(sq[:, 0] * sx), 0, size[0]).astype(np.int64)
        ya = np.clip(np.floor(sq[:, 1] * sy), 0, size[1]).astype(np.int64)
        xb = np.clip(np.ceil((sq[:, 0] + sq[:, 2]) * sx), 0, size[0]).astype(np.int64)
        yb = np.clip(np.ceil((sq[:, 1] + sq[:, 2]) * sy), 0, size[1]).astype(np.int64)
        area = np.maximum((xb - xa) * (yb - ya), 1)
        self._change += (total[yb, xb] - total[ya, xb] - total[yb, xa] + total[ya, xa]) / area

    def _track(self, rgb: np.ndarray) -> None:
        if not self._tracks:
            return
        cfg = self.config
        previous = np.stack([t.raw for t in self._tracks])
        crops = crops_from_landmarks(previous, crop_scale=cfg.crop_scale)
        meshes, presence = run_mesh(self._nets, rgb, crops)
        # A face that moved far within its crop is meshed again on a crop of its own: the
        # network's landmarks are off on a face far from the crop's centre (lp_s13, a model
        # turning her head 8 px a frame: contours a third of a face width off, her eyes and
        # mouth pasted beside her face), and a crop from the moved mesh centres it.
        # On a fast move (12-24 px a frame in lp_s13) one new crop is not enough: the mesh on an
        # off-centre crop is pulled towards the crop's centre (and shrinks), so the crop from it
        # still lags; the face is meshed again until its crop stops moving (at most
        # ``recrop_passes`` times).
        used = crops
        for _ in range(cfg.recrop_passes):
            again = crops_from_landmarks(meshes, crop_scale=cfg.crop_scale)
            moved = np.hypot(again[:, 0] - used[:, 0], again[:, 1] - used[:, 1]) > cfg.recrop_shift * used[:, 2]
            if not moved.any():
                break
            second, second_presence = run_mesh(self._nets, rgb, again[moved])
            better = second_presence >= presence[moved]
            rows = np.flatnonzero(moved)[better]
            if not len(rows):
                break
            meshes[rows], presence[rows] = second[better], second_presence[better]
            # Every crop tried is used, kept or not: a face whose new crop was refused keeps its
            # mesh, whose crop is the one just tried, and is not meshed on it again.
            used = used.copy()
            used[moved] = again[moved]
        boxes = _contour_boxes(previous)
        kept = []
        for i, (track, mesh, score, crop) in enumerate(zip(self._tracks, meshes, presence, crops)):
            if score < cfg.keep_threshold:
                mesh, score = self._find_again(rgb, crop, others=np.delete(boxes, i, axis=0))
                if mesh is None:
                    continue
            if not self._plausible(mesh):
                continue
            track.raw, track.presence = mesh, float(score)
            kept.append(track)
        self._tracks = kept

    def _find_again(
        self, rgb: np.ndarray, crop: np.ndarray, *, others: np.ndarray
    ) -> tuple[np.ndarray | None, float]:
        """Look for a lost face with the detector on a square 2x its crop around its last place.

        Only a face of about the same size (within 1.5x), within one face width of the last place
        and not on another track (``others``: (n, 4) boxes) continues the track: a neighbour found
        in the square must not inherit its id.
        """
        cx, cy, side, _ = crop
        square = np.array([[cx - side, cy - side, 2.0 * side]], np.float32)
        meshes, presence = self._mesh_detections(rgb, square, existing=others)
        if not len(meshes):
            return None, 0.0
        found = crops_from_landmarks(meshes, crop_scale=self.config.crop_scale)
        distance = np.hypot(found[:, 0] - cx, found[:, 1] - cy)
        ratio = found[:, 2] / side
        ok = (distance < side / self.config.crop_scale) & (ratio > 1 / 1.5) & (ratio < 1.5)
        if not ok.any():
            return None, 0.0
        best = int(np.argmin(np.where(ok, distance, np.inf)))
        return meshes[best], float(presence[best])

    def _plausible(self, mesh: np.ndarray) -> bool:
        """A mesh that shrank under half the smallest face or left the frame ends its track."""
        height, width = self._shape
        x0, y0, x1, y1 = _contour_boxes(mesh[None])[0]
        if max(x1 - x0, y1 - y0) < 0.5 * self.config.min_face_px:
            return False
        return x1 > 0 and y1 > 0 and x0 < width - 1 and y0 < height - 1

    def _mesh_detections(
        self, rgb: np.ndarray, squares: np.ndarray, *, existing: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Detect in ``squares``, drop detections centred inside ``existing`` boxes, mesh the rest
        twice; returns the present ones: meshes (n, 468, 2), presence (n,)."""
        cfg = self.config
        found = detect_in_squares(
            self._detector, rgb, squares, min_score=cfg.detection_score, nms_iou=cfg.nms_iou
        )
        if len(found) and len(existing):
            centres = (found.boxes[:, :2] + found.boxes[:, 2:]) / 2.0
            inside = (
                (centres[:, None, 0] >= existing[None, :, 0])
                & (centres[:, None, 0] <= existing[None, :, 2])
                & (centres[:, None, 1] >= existing[None, :, 1])
                & (centres[:, None, 1] <= existing[None, :, 3])
            ).any(axis=1)
            found = Detections(found.boxes[~inside], found.keypoints[~inside], found.scores[~inside])
        empty = (np.zeros((0, 468, 2), np.float32), np.zeros(0, np.float32))
        if not len(found):
            return empty
        first, first_presence = run_mesh(self._nets, rgb, crops_from_detections(found, crop_scale=cfg.crop_scale))
        # second pass on the face's own crop: the detector's box is coarse for small, tilted
        # faces (a 54 px face scored 0.13 from the full-range box, 0.93 from its own mesh)
        meshes, presence = run_mesh(self._nets, rgb, crops_from_landmarks(first, crop_scale=cfg.crop_scale))
        worse = presence < first_presence
        meshes[worse], presence[worse] = first[worse], first_presence[worse]
        ok = presence >= cfg.presence_threshold
        meshes, presence = meshes[ok], presence[ok]
        if cfg.verify_score > 0 and len(meshes):
            ok = verify_faces(self._nets, rgb, meshes) >= cfg.verify_score
            meshes, presence = meshes[ok], presence[ok]
        return meshes, presence

    def _add_new(self, rgb: np.ndarray, squares: np.ndarray) -> None:
        existing = (
            _contour_boxes(np.stack([t.raw for t in self._tracks])) if self._tracks else np.zeros((0, 4), np.float32)
        )
        meshes, presence = self._mesh_detections(rgb, squares, existing=existing)
        for mesh, score in zip(meshes, presence):
            if not self._plausible(mesh):
                continue
            smoother = OneEuroFilter(self.config.smoothing) if self.config.smoothing is not None else None
            self._tracks.append(_Track(self._next_id, mesh, float(score), smoother))
            self._next_id += 1

    def _drop_duplicates(self) -> None:
        """Two tracks on one face (a detection next to a drifting track): the older one stays;
        then at most ``max_faces``, the largest."""
        if not self._tracks:
            return
        boxes = _contour_boxes(np.stack([t.raw for t in self._tracks]))
        ages = np.array([t.track_id for t in self._tracks])
        keep = _non_duplicates(boxes, ages)
        tracks = [self._tracks[i] for i in keep]
        if len(tracks) > self.config.max_faces:
            sizes = np.array([boxes[i, 2] - boxes[i, 0] for i in keep])
            tracks = [tracks[i] for i in np.argsort(-sizes, kind="stable")[: self.config.max_faces]]
        self._tracks = tracks

    def _largest(self, meshes: np.ndarray, presence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(meshes) <= self.config.max_faces:
            return meshes, presence
        boxes = _contour_boxes(meshes)
        order = np.argsort(-(boxes[:, 2] - boxes[:, 0]), kind="stable")[: self.config.max_faces]
        return meshes[order], presence[order]

    def _face_of(self, track: _Track, shape: tuple[int, int]) -> Face:
        mesh = track.raw
        if track.smoother is not None:
            box = _contour_boxes(mesh[None])[0]
            size = float(max(box[2] - box[0], box[3] - box[1]))
            mesh = track.smoother(mesh, dt_s=1.0 / self.config.fps, scale=size)
        return _build_face(mesh, track.presence, track.track_id, shape)


def _non_duplicates(boxes: np.ndarray, priority: np.ndarray, iou: float = 0.3) -> list[int]:
    """Indices of boxes kept when each box that duplicates a kept box of lower ``priority`` is
    dropped. Two boxes are one face when they overlap by IoU > ``iou`` or their centres are
    closer than a third of the wider box (a good and a skewed mesh of one face overlap little).
    A loop over faces, not pixels."""
    keep: list[int] = []
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    widths = boxes[:, 2] - boxes[:, 0]
    for i in np.argsort(priority, kind="stable"):
        if keep:
            k = np.asarray(keep)
            close = np.hypot(*(centres[k] - centres[i]).T) < np.maximum(widths[k], widths[i]) / 3.0
            if (box_iou(boxes[i], boxes[k]) > iou).any() or close.any():
                continue
        keep.append(int(i))
    return sorted(keep)


def _build_face(mesh: np.ndarray, score: float, track_id: int, shape: tuple[int, int]) -> Face:
    mesh = np.ascontiguousarray(mesh, dtype=np.float32)
    contour = mesh[FACE_OVAL]
    box = np.concatenate([contour.min(0), contour.max(0)]).astype(np.float32)
    polygons = polygons_from_mesh(mesh)
    mask, offset = feature_mask(polygons, shape)
    return Face(
        box=box,
        score=float(score),
        track_id=int(track_id),
        contour=contour,
        feature_mask=mask,
        mask_offset=offset,
        feature_polygons=polygons,
        mesh=mesh,
    )


register_face_model("mediapipe", MediapipeFaceModel, replace=True)
