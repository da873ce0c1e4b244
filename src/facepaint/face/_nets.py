"""The two mediapipe networks, run by the TensorFlow Lite runtime (or OpenCV's TFLite importer).

Why not mediapipe's own graphs: the solution graphs decide the crop themselves (the face mesh
runs its own short-range detector on the whole image, which misses faces under ~250 px at 1080p),
while tracking small faces needs the landmark network on a crop *we* choose, and batched tiles
for detection. OpenCV 4.11 reads ``face_landmark.tflite`` and ``face_detection_short_range.tflite``
as they ship in the mediapipe 0.10.21 wheel (NCHW input). The full-range detector cannot be read
by OpenCV (its weights are stored sparse, op DENSIFY), so :class:`FullRangeDetector` runs it
through mediapipe's own FaceDetection solution graph, one tile per call.

Which runtime: ``tflite-runtime`` (a core dependency on Linux x86-64, the only platform its last
release has Python 3.11 wheels for) with its XNNPACK CPU kernels, on one thread, when it is
installed; else ``cv2.dnn``. Measured on the shared 2-core machine, per call: detector
tile 2.3 ms of CPU against 7.1 (``cv2.dnn`` on its two threads, 3.6 ms wall), mesh 3.1 against
9.4, the outputs equal to 6e-5 (raw regressors) and 6e-7 (scores): a 720p frame's three tiles and
one face cost 10 instead of 31 ms of CPU, taken from the two cores the render needs.

Nothing is downloaded: the files are found inside the installed mediapipe package, which is not
imported (importing it costs a second and pulls in its graph runtime).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from facepaint.errors import FacepaintError, InputError

DETECTOR_INPUT = 128  #: side of the short-range detector's square input, pixels
MESH_INPUT = 192  #: side of the face-landmark network's square input, pixels

_DETECTOR_FILE = ("face_detection", "face_detection_short_range.tflite")
_MESH_FILE = ("face_landmark", "face_landmark.tflite")


class ModelFileError(FacepaintError, FileNotFoundError):
    """A model file that the mediapipe wheel should ship is missing."""


def model_path(parts: tuple[str, str]) -> Path:
    """Path of a model file inside the installed mediapipe package (``mediapipe/modules/...``)."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            "the default face model needs the mediapipe wheel's model files: install it with "
            "`pip install --no-deps mediapipe==0.10.21` (see scripts/install.sh)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "modules" / parts[0] / parts[1]
    if not path.is_file():
        raise ModelFileError(
            f"{path} is missing from the installed mediapipe; reinstall mediapipe==0.10.21 "
            "(`pip install --no-deps --force-reinstall mediapipe==0.10.21`)"
        )
    return path


@lru_cache(maxsize=None)
def _short_range_anchors() -> np.ndarray:
    """(896, 2) float32 anchor centres in [0, 1] of the detector input.

    mediapipe's SsdAnchorsCalculator options for this model: 4 layers, strides 8, 16, 16, 16,
    one aspect ratio plus the interpolated scale, fixed anchor size: 2 anchors per cell on the
    16x16 grid and 6 per cell on the 8x8 grid (layers of equal stride are merged).
    """
    centres = []
    for stride, per_cell in ((8, 2), (16, 6)):
        cells = DETECTOR_INPUT // stride
        ys, xs = np.mgrid[0:cells, 0:cells]
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(centres).astype(np.float32)


def _tflite_interpreter():
    """``tflite_runtime.interpreter.Interpreter``, or None when the runtime is not installed."""
    try:
        from tflite_runtime.interpreter import Interpreter
    except ImportError:
        return None
    return Interpreter


@contextlib.contextmanager
def _stderr_silenced():
    """Hide what native code writes to file descriptor 2 meanwhile: the TFLite runtime announces
    its XNNPACK delegate there ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.") on every
    interpreter it sets up, with no switch to turn it off."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class _TFLiteNet:
    """One network in a TFLite interpreter (one thread, XNNPACK): NHWC float32 in, outputs by name."""

    def __init__(self, interpreter_class, path: Path) -> None:
        self._interpreter = interpreter_class(str(path), num_threads=1)
        with _stderr_silenced():
            self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._outputs = {o["name"]: o["index"] for o in self._interpreter.get_output_details()}

    def __call__(self, blob: np.ndarray) -> dict[str, np.ndarray]:
        """``blob`` (1, H, W, 3) float32 -> each output (``get_tensor`` returns copies)."""
        self._interpreter.set_tensor(self._input, blob)
        self._interpreter.invoke()
        return {name: self._interpreter.get_tensor(index) for name, index in self._outputs.items()}


class Networks:
    """The detector and the landmark network, loaded once per face model.

    Run by the TFLite runtime when it is installed (``backend="tflite"``), else by ``cv2.dnn``
    (``"opencv"``); see the module docstring. Neither runtime's objects are thread-safe: one
    instance per thread.
    """

    def __init__(self, backend: str | None = None) -> None:
        interpreter = _tflite_interpreter()
        if backend is None:
            backend = "opencv" if interpreter is None else "tflite"
        if backend not in ("tflite", "opencv"):
            raise InputError(f"Networks backend must be 'tflite' or 'opencv', got {backend!r}")
        if backend == "tflite" and interpreter is None:
            raise ModelFileError("the 'tflite' backend needs tflite-runtime: `pip install tflite-runtime==2.14.0`")
        self.backend = backend
        if backend == "tflite":
            self._detector = _TFLiteNet(interpreter, model_path(_DETECTOR_FILE))
            self._mesh = _TFLiteNet(interpreter, model_path(_MESH_FILE))
        else:
            self._detector = cv2.dnn.readNetFromTFLite(str(model_path(_DETECTOR_FILE)))
            self._mesh = cv2.dnn.readNetFromTFLite(str(model_path(_MESH_FILE)))
            self._detector_outputs = list(self._detector.getUnconnectedOutLayersNames())
            self._mesh_outputs = list(self._mesh.getUnconnectedOutLayersNames())

    def detect(self, tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run the short-range detector on a batch of tiles.

        Parameters
        ----------
        tiles : (B, 128, 128, 3) uint8 RGB

        Returns
        -------
        scores : (B, 896) float32 in [0, 1]
        raw : (B, 896, 16) float32 regressors in input pixels relative to the anchors:
            ``cx, cy, w, h`` then 6 keypoints ``(x, y)`` (subject's right eye, left eye, nose tip,
            mouth, right ear tragion, left ear tragion).
        """
        # the model expects [-1, 1] (mediapipe's ImageToTensor range for this model)
        blob = tiles.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)
        logits = np.empty((len(tiles), 896), np.float32)
        raw = np.empty((len(tiles), 896, 16), np.float32)
        # One tile per forward: the TFLite model's input is a single image, and OpenCV's import
        # folds the batch into its anchor reshape (a batch of 4 gives 1 x 3584 mixed rows).
        for i in range(len(tiles)):
            if self.backend == "tflite":
                outputs = self._detector(np.ascontiguousarray(blob[i : i + 1]))
            else:
                self._detector.setInput(np.ascontiguousarray(blob[i : i + 1].transpose(0, 3, 1, 2)))
                outputs = dict(zip(self._detector_outputs, self._detector.forward(self._detector_outputs)))
            logits[i] = outputs["classificators"].reshape(896)
            raw[i] = outputs["regressors"].reshape(896, 16)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -30.0, 30.0)))
        return scores.astype(np.float32), raw

    def mesh(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run the landmark network on a batch of aligned face crops.

        Parameters
        ----------
        crops : (B, 192, 192, 3) uint8 RGB, the face upright and centred, 1.5x its size

        Returns
        -------
        landmarks : (B, 468, 2) float32 ``(x, y)`` in crop pixels
        presence : (B,) float32 in [0, 1], the network's face-presence probability
        """
        blob = crops.astype(np.float32) * np.float32(1.0 / 255.0)  # range [0, 1]
        n = crops.shape[0]
        if self.backend == "tflite":
            # one crop per invoke: resizing the interpreter's input for each batch size costs more
            flag = np.empty(n, np.float32)
            points = np.empty((n, 1404), np.float32)
            for i in range(n):
                for value in self._mesh(np.ascontiguousarray(blob[i : i + 1])).values():
                    if value.size == 1404:
                        points[i] = value.reshape(1404)
                    else:
                        flag[i] = value.reshape(-1)[0]
        else:
            self._mesh.setInput(np.ascontiguousarray(blob.transpose(0, 3, 1, 2)))
            outputs = self._mesh.forward(self._mesh_outputs)
            flag = next(o for o in outputs if o.size == n)
            points = next(o for o in outputs if o.size == n * 1404)
        landmarks = points.reshape(n, 468, 3)[:, :, :2]
        presence = 1.0 / (1.0 + np.exp(-np.clip(flag.reshape(-1), -30.0, 30.0)))
        return landmarks.astype(np.float32), presence.astype(np.float32)


class ShortRangeDetector:
    """mediapipe's short-range detector (BlazeFace, 128 px input), run by :class:`Networks`.

    Finds faces from ~11 % of its input (10/11 300-W faces at 12 px, 11/11 at 14 px); ~2.3 ms of
    CPU a tile with the TFLite runtime on the shared 2-core machine (7 with ``cv2.dnn``).
    """

    input_size = DETECTOR_INPUT
    min_face_share = 0.11

    def __init__(self, nets: Networks) -> None:
        self._nets = nets

    def detect_tiles(self, tiles: np.ndarray, *, min_score: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per tile ``(boxes (n, 4), keypoints (n, 6, 2), scores (n,))`` in input pixels."""
        scores, raw = self._nets.detect(tiles)
        return decode_detections(scores, raw, min_score=min_score)


class FullRangeDetector:
    """mediapipe's full-range detector (192 px input, for faces up to ~5 m away), run by the
    mediapipe FaceDetection solution (``model_selection=1``) on each tile.

    Finds faces from ~6 % of its input (faces of 31 px in 480 px tiles of crowd_1080p), and on
    the crowd clip more of the faces that look down or are blurred than the short-range model;
    ~5 ms a tile. Its own non-maximum suppression runs inside the graph.
    """

    input_size = 192
    min_face_share = 0.065

    def __init__(self) -> None:
        try:
            from mediapipe.python.solutions.face_detection import FaceDetection
        except ImportError as error:  # pragma: no cover - mediapipe is a core dependency
            raise ModelFileError(
                f"the full-range detector needs mediapipe ({error}): install it with "
                "`pip install --no-deps mediapipe==0.10.21` (see scripts/install.sh)"
            ) from None
        self._graph = FaceDetection(model_selection=1, min_detection_confidence=0.05)

    def detect_tiles(self, tiles: np.ndarray, *, min_score: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        size = float(self.input_size)
        out = []
        for tile in tiles:
            result = self._graph.process(tile)
            boxes, keypoints, scores = [], [], []
            for det in result.detections or ():
                score = float(det.score[0])
                if score < min_score:
                    continue
                b = det.location_data.relative_bounding_box
                boxes.append([b.xmin * size, b.ymin * size, (b.xmin + b.width) * size, (b.ymin + b.height) * size])
                keypoints.append([[k.x * size, k.y * size] for k in det.location_data.relative_keypoints])
                scores.append(score)
            out.append(
                (
                    np.asarray(boxes, np.float32).reshape(-1, 4),
                    np.asarray(keypoints, np.float32).reshape(-1, 6, 2),
                    np.asarray(scores, np.float32),
                )
            )
        return out

    def close(self) -> None:
        self._graph.close()


def decode_detections(
    scores: np.ndarray, raw: np.ndarray, *, min_score: float
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Decode detector outputs into boxes per tile (before non-maximum suppression).

    Returns, per tile, ``(boxes (n, 4) x0 y0 x1 y1, keypoints (n, 6, 2), scores (n,))`` float32 in
    detector-input pixels.
    """
    anchors = _short_range_anchors() * DETECTOR_INPUT
    out = []
    for tile_scores, tile_raw in zip(scores, raw):
        keep = np.flatnonzero(tile_scores >= min_score)
        r = tile_raw[keep]
        a = anchors[keep]
        centre = r[:, 0:2] + a
        half = r[:, 2:4] * 0.5
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        keypoints = r[:, 4:16].reshape(-1, 6, 2) + a[:, None, :]
        out.append((boxes.astype(np.float32), keypoints.astype(np.float32), tile_scores[keep]))
    return out
