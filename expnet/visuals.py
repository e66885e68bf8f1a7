"""What people look at: overlays of the estimated 3D face on the input, frontal renders, meshes
on disk, overlay videos and the paper-style comparison figure (its Fig. 5-6)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from expnet.facemodel import FaceModel
from expnet.images import to_rgb
from expnet.mesh import write_mesh
from expnet.predictor import FacePrediction, ImagePrediction
from expnet.reconstruct import frontal_pose, reconstruct
from expnet.render import MeshShader, blend_shading, draw_landmarks


class FaceRenderer:
    """Renders predictions of one face model; the shading set-up is built once."""

    def __init__(self, model: FaceModel | None = None):
        self.model = model or FaceModel.load()
        self.shader = MeshShader(self.model.triangles, self.model.n_vertices)

    def overlay(self, image: np.ndarray, faces: list[FacePrediction], landmarks: bool = True) -> np.ndarray:
        """The image with every face's shaded mesh (and its 68 projected landmarks) on top."""
        out = to_rgb(image)
        size = out.shape[:2]
        for f in faces:
            mesh = reconstruct(self.model, f.shape, f.expression, f.pose)
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
        written.append(write_png(base.with_name(base.name + "_expression.png"), self.frontal(None, face.expression)))
        mesh = self.model.vertices(face.shape, face.expression)
        written.append(write_mesh(base.with_suffix(f".{mesh_format}"), mesh, self.model.triangles))
        return written


def write_png(path: Path, rgb: np.ndarray) -> Path:
    """Atomic PNG write of an RGB (or grey) uint8 image."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    bgr = rgb[..., ::-1] if rgb.ndim == 3 else rgb
    if not cv2.imwrite(str(tmp), np.ascontiguousarray(bgr)):
        raise OSError(f"could not write {path}")
    os.replace(tmp, path)
    return path


def render_prediction(renderer: FaceRenderer, prediction: ImagePrediction, image: np.ndarray, out_dir: Path,
                      mesh_format: str = "obj") -> list[Path]:
    stem = Path(prediction.image).stem
    files = []
    for i, face in enumerate(prediction.faces):
        files += renderer.save_face(out_dir, stem, image, face, i, mesh_format)
    return files


def overlay_video(renderer: FaceRenderer, net, path: Path, out_path: Path, every: int = 1) -> Path:
    """An MP4 with the estimated faces drawn on every processed frame (OpenCV's mp4v codec)."""
    from expnet.images import to_gray
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"{path} cannot be opened as a video")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    tmp = out_path.with_name(f".{out_path.stem}.tmp.mp4")
    writer = None
    index = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if index % every == 0:
                rgb = frame[..., ::-1]
                pred = net.predict(to_gray(rgb))
                drawn = renderer.overlay(rgb, pred.faces)
                if writer is None:
                    h, w = drawn.shape[:2]
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps / every, (w, h))
                writer.write(np.ascontiguousarray(drawn[..., ::-1]))
            index += 1
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if writer is None:
        raise ValueError(f"{path}: no frame could be decoded")
    os.replace(tmp, out_path)
    return out_path


def paper_figure(images: list[str | Path], out: Path, model: str | None = None,
                 scales=(1.0, 0.2), detector: str = "dlib-hog") -> Path:
    """The paper's qualitative figure: per image and scale, the input, then for ExpNet and for the
    landmark baseline (dlib 68 + fit) the subject's shape alone and shape + expression, frontal.
    The face box is found once at full scale and scaled with the image (same box for both)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from expnet.evaluation import downscale
    from expnet.fitting import LandmarkFitter
    from expnet.images import load_image
    from expnet.landmarks import DlibLandmarker
    from expnet.predictor import ExpNet

    renderer = FaceRenderer()
    net = ExpNet(model, detector=detector)
    landmarker = DlibLandmarker()
    fitter = LandmarkFitter(renderer.model.landmarks)
    rows = []
    for path in images:
        full = load_image(path, "L")
        boxes = net.find_faces(full)
        if not boxes:
            raise ValueError(f"{path}: no face found")
        box = boxes[0]
        for scale in scales:
            img = downscale(full, scale)
            f = img.shape[1] / full.shape[1]
            b = [box.x0 * f, box.y0 * f, box.x1 * f, box.y1 * f]
            pred = net.predict(img, boxes=[b]).faces[0]
            fit = fitter.fit(landmarker.predict(img, np.array(b)))
            rows.append((Path(path).name, scale, img, [
                renderer.frontal(pred.shape, None), renderer.frontal(pred.shape, pred.expression),
                renderer.frontal(fit.shape[0], None), renderer.frontal(fit.shape[0], fit.expression[0])]))
    titles = ["input", "ExpNet: shape", "ExpNet: shape + expression", "landmarks + fit: shape",
              "landmarks + fit: shape + expression"]
    fig, axes = plt.subplots(len(rows), 5, figsize=(12.5, 2.6 * len(rows)), squeeze=False)
    for r, (name, scale, img, renders) in enumerate(rows):
        axes[r, 0].imshow(img, cmap="gray", interpolation="nearest")
        axes[r, 0].set_ylabel(f"{name}\nscale {scale:g} ({img.shape[1]}x{img.shape[0]})", fontsize=8)
        for c, rgb in enumerate(renders, 1):
            axes[r, c].imshow(rgb)
        for c in range(5):
            axes[r, c].set_xticks([]), axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(titles[c], fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, out)
    return out


