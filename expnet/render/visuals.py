"""What people look at: overlays of the estimated 3D face on the input, frontal renders, meshes
on disk and overlay videos (the paper-style comparison figure is in :mod:`expnet.evaluation.figure`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from expnet.face.extra_basis import ExtraComponents, extended_face_model
from expnet.face.mesh import write_mesh
from expnet.face.model import FaceModel
from expnet.inference.results import FacePrediction, ImagePrediction
from expnet.inference.video import DETECT_EVERY
from expnet.io.atomic import atomic_path
from expnet.io.images import to_rgb
from expnet.render.rasterizer import MeshShader, blend_shading, draw_landmarks
from expnet.render.reconstruct import frontal_pose, reconstruct


class FaceRenderer:
    """Renders predictions of one face model; the shading set-up is built once."""

    def __init__(self, model: FaceModel | None = None, extra: ExtraComponents | None = None):
        self.model = model or FaceModel.load()
        if extra is not None:  # a model's extra expression components, carried to the whole mesh
            self.model = extended_face_model(self.model, extra)
        self.shader = MeshShader(self.model.triangles, self.model.n_vertices)

    def expression(self, face: FacePrediction) -> np.ndarray:
        """The face's expression in this renderer's model: the ten, then its extra components
        (their prior mean where the prediction has none)."""
        n = self.model.n_expression - len(face.expression)
        if n <= 0:
            return face.expression
        extra = face.expression_extra if face.expression_extra is not None else self.model.expression_mean[-n:]
        return np.concatenate([face.expression, extra[:n]])

    def overlay(self, image: np.ndarray, faces: list[FacePrediction], landmarks: bool = True) -> np.ndarray:
        """The image with every face's shaded mesh (and its 68 projected landmarks) on top."""
        out = to_rgb(image)
        size = out.shape[:2]
        for f in faces:
            mesh = reconstruct(self.model, f.shape, self.expression(f), f.pose)
            pixel, shade = self.shader.shade(mesh.image_vertices, size)
            out = blend_shading(out, pixel, shade)
            if landmarks:
                out = draw_landmarks(out, mesh.image_vertices[self.model.landmark_indices, :2])
        return out

    def frontal(self, shape: np.ndarray | None, expression: np.ndarray | None, size: int = 256,
                yaw: float = 0.0) -> np.ndarray:
        """RGB uint8 render of a face (None = prior mean) seen from the front (or turned by yaw)."""
        pose = frontal_pose(self.model, size, yaw)
        mesh = reconstruct(self.model, shape, expression, pose)
        shaded, mask = self.shader.render(mesh.image_vertices, (size, size))
        img = np.full((size, size, 3), 255, np.uint8)
        img[mask] = (255 * shaded[mask]).astype(np.uint8)
        return img

    def save_face(self, out_dir: Path, stem: str, image: np.ndarray, face: FacePrediction, index: int,
                  mesh_format: str = "obj") -> list[Path]:
        """Overlay PNG, frontal expression-only PNG and the mesh (model space) of one face."""
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        base = out_dir / f"{stem}_face{index}"
        written.append(write_png(base.with_name(base.name + "_overlay.png"), self.overlay(image, [face])))
        expression = self.expression(face)
        written.append(write_png(base.with_name(base.name + "_expression.png"), self.frontal(None, expression)))
        mesh = self.model.vertices(face.shape, expression)
        written.append(write_mesh(base.with_suffix(f".{mesh_format}"), mesh, self.model.triangles))
        return written


def write_png(path: Path, rgb: np.ndarray) -> Path:
    """Atomic PNG write of an RGB (or grey) uint8 image."""
    path = Path(path)
    bgr = rgb[..., ::-1] if rgb.ndim == 3 else rgb
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), np.ascontiguousarray(bgr)):
            raise OSError(f"could not write {path}")
    return path


def render_prediction(renderer: FaceRenderer, prediction: ImagePrediction, image: np.ndarray, out_dir: Path,
                      mesh_format: str = "obj", stem: str | None = None) -> list[Path]:
    """Overlay, frontal expression PNG and mesh of every face, named ``<stem>_face<k>`` (default
    stem: the input file's)."""
    stem = stem or Path(prediction.image).stem
    files = []
    for i, face in enumerate(prediction.faces):
        files += renderer.save_face(out_dir, stem, image, face, i, mesh_format)
    return files


@dataclass(frozen=True)
class VideoOverlay:
    """What :func:`overlay_video` made: the MP4, its frames and the faces drawn on them."""

    path: Path
    frames: int
    faces: int


def overlay_video(renderer: FaceRenderer, net, path: Path, out_path: Path, every: int = 1,
                  detect_every: int = DETECT_EVERY, series_dir: Path | None = None) -> VideoOverlay:
    """An MP4 with the estimated faces drawn on every processed frame (OpenCV's mp4v codec),
    faces tracked across frames; with ``series_dir``, each track's time series (CSV and PNG)."""
    from expnet.inference.series import TrackSeries
    from expnet.inference.video import VideoPredictor, read_frames, video_info
    _, fps = video_info(path)
    frames = VideoPredictor(net, detect_every, rate=fps / every)
    series = TrackSeries(fps / every)
    writer = None
    n_frames = n_faces = 0
    with atomic_path(out_path) as tmp:
        try:
            for index, rgb in read_frames(path, every):
                if rgb is None:
                    continue
                pred = frames(index, rgb, str(path))
                n_frames, n_faces = n_frames + 1, n_faces + len(pred.faces)
                series.add(pred)
                drawn = renderer.overlay(rgb, pred.faces)
                if writer is None:
                    h, w = drawn.shape[:2]
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps / every, (w, h))
                writer.write(np.ascontiguousarray(drawn[..., ::-1]))
        finally:
            if writer is not None:
                writer.release()
        if writer is None:
            raise ValueError(f"{path}: no frame could be decoded")
    if series_dir is not None:
        series.write(series_dir, out_path.stem.removesuffix("_overlay"))
    return VideoOverlay(out_path, n_frames, n_faces)
