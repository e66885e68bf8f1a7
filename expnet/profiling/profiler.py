"""A fitted face seen at another head pose: the textured mesh rendered at the new pose over a
background that moves with the head, and the exact label of the new view.

The background is treated as a depth layer (as 3DDFA's profiling does): the image is first
cleared of the old face (inpainted), then warped piecewise-affinely so that a ring of points just
outside the face turns with the head about its vertical axis while the image border stays put.
The rotation is about a point behind the face (the head's centre, not the model origin), whose
image position is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay, cKDTree

from expnet.face.model import FaceModel
from expnet.face.pose import Pose, euler_to_rotation
from expnet.io.images import to_rgb
from expnet.profiling.texture import mirror_vertices, vertex_colours, visible_vertices
from expnet.render.rasterizer import MeshShader, visible_fragments
from expnet.render.reconstruct import to_image_space

_RING = 24          # points on each background ring
_BORDER = 8         # points per image side
_HEAD_DEPTH = 0.6   # rotation centre behind the nose tip, in face widths
_SKIN_INSET = 0.08  # where the ears and neck take their colour: this far inside the face, in widths
_EDGE_BLUR = 0.08   # blur of an edge-filled canvas, in image widths: out of focus, no streaks

PAD_FILLS = ("black", "edge")


@dataclass(frozen=True)
class View:
    """A target head pose, degrees in AFLW2000-3D's convention."""

    pitch: float
    yaw: float
    roll: float


@dataclass
class ProfiledFace:
    """One synthesised view: the image and its exact label (same shape and expression)."""

    image: np.ndarray       # (H, W, 3) uint8 RGB
    pose: Pose
    landmarks: np.ndarray   # (68, 2) the model's landmark vertices projected at the new pose
    face_pixels: int        # pixels covered by the rendered mesh (the face; with the ears and neck: head=True)


def face_region(vertices: np.ndarray, landmark_indices: np.ndarray) -> np.ndarray:
    """(N,) bool: the vertices of the face proper on a frontal mesh: inside the jaw line and
    the forehead above it, seen from the front. The ears and the neck are left out: their colour
    cannot be sampled reliably (hair, collars, background), so they stay in the background
    layer."""
    jaw = vertices[landmark_indices[:17], :2]
    top = vertices[:, 1].max()
    outline = np.r_[jaw, [[jaw[-1, 0], top], [jaw[0, 0], top]]]
    # point-in-polygon on a 1024-cell raster of the outline: vectorised and exact enough
    lo, span = vertices[:, :2].min(0), np.ptp(vertices[:, :2], 0).max()
    cells = 1024
    grid = np.zeros((cells + 1, cells + 1), np.uint8)
    cv2.fillPoly(grid, [np.rint((outline - lo) / span * cells).astype(np.int32)], 1)
    ij = np.rint((vertices[:, :2] - lo) / span * cells).astype(np.int64)
    return grid[ij[:, 1], ij[:, 0]].astype(bool)


def skin_sources(vertices: np.ndarray, region: np.ndarray) -> np.ndarray:
    """For each vertex outside the face ``region`` (``vertices``: a frontal mesh), the nearest face
    vertex at least ``_SKIN_INSET`` face widths inside the face's outline: the outline itself
    samples the silhouette's edge, which is as often background or hair as skin."""
    depth_in = cKDTree(vertices[~region]).query(vertices[region])[0]
    inside = np.flatnonzero(region)[depth_in > _SKIN_INSET * float(np.ptp(vertices[:, 0]))]
    return inside[cKDTree(vertices[inside]).query(vertices[~region])[1]]


class FaceProfiler:
    """Render fitted faces at new poses.

    ``head``: render the whole mesh, the ears and the neck too, coloured from the nearest vertex of
    the face proper (skin; their own pixels are hair, collars or background too often). A face
    turned past 60 degrees then shows an ear where a real one has it, instead of the background
    layer's smear.

    >>> profiler = FaceProfiler(FaceModel.load())
    >>> view = profiler.render(image, shape, expression, pose, View(pitch=0, yaw=60, roll=0))
    """

    def __init__(self, model: FaceModel, head: bool = False):
        self.model = model
        self.head = head
        self.shader = MeshShader(model.triangles, model.n_vertices)
        mean = model.vertices()
        tri = np.asarray(model.triangles, dtype=np.int64)
        region = face_region(mean, model.landmark_indices)
        self._corners = np.ascontiguousarray(tri[region[tri].all(1)].T)
        self._face_vertices = np.unique(self._corners)  # the face proper's vertices
        # what is rendered at the new pose, and where each vertex outside the face takes its colour
        self._drawn = np.ascontiguousarray(tri.T) if head else self._corners
        self._outside = np.flatnonzero(~region)
        self._skin_source = skin_sources(mean, region) if head else None
        self.mirror = mirror_vertices(mean)
        width = float(np.ptp(mean[:, 0]))
        self.centre = np.array([0.5 * (mean[:, 0].min() + mean[:, 0].max()),
                                0.5 * (mean[:, 1].min() + mean[:, 1].max()),
                                mean[:, 2].max() - _HEAD_DEPTH * width])

    def render(self, image: np.ndarray, shape: np.ndarray, expression: np.ndarray, pose: Pose,
               view: View, pad: float = 0.0, pad_fill: str = "black") -> ProfiledFace:
        """The face of ``image`` (fitted as ``shape``, ``expression``, ``pose``) at ``view``.

        Parameters
        ----------
        image : ndarray
            (H, W) grey or (H, W, 3) RGB uint8, the image the fit was made on.
        shape, expression : ndarray
            Raw model coefficients of the fit (expression: the model's own components).
        pose : Pose
            The fitted pose.
        view : View
            Target angles, degrees.
        pad : float
            Widen the canvas by this fraction of the image on every side: room for the turned head
            and its background when the face fills the image.
        pad_fill : {"black", "edge"}
            The widened canvas: black (as training crops are padded), or the image's edge
            stretched outwards and blurred (a background that goes on, out of focus: a turned head
            moves into the canvas, and on black its outline would give the pose away).

        Returns
        -------
        ProfiledFace
            The new image (the image's size, or the padded canvas) and the label of the new view,
            in its pixel coordinates.
        """
        if pad_fill not in PAD_FILLS:
            raise ValueError(f"pad_fill must be one of {PAD_FILLS}, got {pad_fill!r}")
        rgb = to_rgb(image)
        if pad > 0:
            px, py = (int(round(pad * n)) for n in rgb.shape[1::-1])
            rgb = _widen(rgb, px, py, pad_fill)
            pose = Pose(pose.rotation, np.asarray(pose.translation, dtype=np.float64) + [px, py], pose.scale)
        size = rgb.shape[:2]
        verts = self.model.vertices(shape, expression).astype(np.float64)
        old = to_image_space(verts, pose)
        seen = visible_fragments(old.astype(np.float32), self._corners, size, corner_major=True)
        normals = self.shader.vertex_normals(verts)
        visible = visible_vertices(old, seen, normals @ pose.rotation[2], size)
        colours = vertex_colours(rgb, old, visible, self.mirror, verts)
        if self.head:
            colours[self._outside] = colours[self._skin_source]
            # the old ears and neck leave the background too, or they would show twice
            seen = visible_fragments(old.astype(np.float32), self._drawn, size, corner_major=True)
        new_pose = self.turn(pose, view)
        new = to_image_space(verts, new_pose)
        background = self._background(rgb, old, seen.pixel, pose, new_pose)
        frags = visible_fragments(new.astype(np.float32), self._drawn, size, corner_major=True)
        tri = self._drawn[:, frags.triangle]  # (3, F) vertex of each corner
        face = (colours[tri[0]] * frags.bary[:, :1] + colours[tri[1]] * frags.bary[:, 1:2]
                + colours[tri[2]] * frags.bary[:, 2:])
        flat = background.reshape(-1, 3)
        flat[frags.pixel] = np.clip(np.rint(face), 0, 255).astype(np.uint8)
        _close_pinholes(background, frags.pixel)
        landmarks = new[self.model.landmark_indices, :2]
        return ProfiledFace(background, new_pose, landmarks, int(len(np.unique(frags.pixel))))

    def turn(self, pose: Pose, view: View) -> Pose:
        """``pose`` turned to ``view``'s angles about the head's centre, which stays in place."""
        rot = euler_to_rotation(*np.radians([view.pitch, view.yaw, view.roll]))
        flip = np.array([1.0, -1.0])
        shift = pose.scale * ((pose.rotation @ self.centre)[:2] - (rot @ self.centre)[:2]) * flip
        return Pose(rot, np.asarray(pose.translation, dtype=np.float64) + shift, float(pose.scale))

    def _background(self, rgb: np.ndarray, old: np.ndarray, old_pixels: np.ndarray, pose: Pose,
                    new_pose: Pose) -> np.ndarray:
        """The image without the old face (covering ``old_pixels``), warped as a depth layer that
        turns with the head."""
        h, w = rgb.shape[:2]
        mask = np.zeros(h * w, np.uint8)
        mask[old_pixels] = 255
        face_w = float(np.ptp(old[self._face_vertices, 0]))
        grow = max(3, int(round(0.04 * face_w)))
        mask = cv2.dilate(mask.reshape(h, w), np.ones((grow, grow), np.uint8))
        clean = _fill(rgb, mask)
        src, dst = self._anchors(old, pose, new_pose, (h, w))
        tri = Delaunay(dst).simplices
        frags = visible_fragments(np.c_[dst, np.zeros(len(dst))].astype(np.float32), tri, (h, w))
        corner = tri[frags.triangle]  # (F, 3)
        where = np.einsum("fk,fkj->fj", frags.bary, src[corner]).astype(np.float32)
        # The anchors' hull is the whole image, so every pixel has a source; the default (itself)
        # covers any pixel a rounding tie leaves out.
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        map_x, map_y = xs.ravel(), ys.ravel()
        map_x[frags.pixel], map_y[frags.pixel] = where[:, 0], where[:, 1]
        return cv2.remap(clean, map_x.reshape(h, w), map_y.reshape(h, w), cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)

    def _anchors(self, old: np.ndarray, pose: Pose, new_pose: Pose, size: tuple[int, int]
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Source and destination positions of the warp's anchor points: the image border (fixed),
        a far ring (fixed) and a near ring at the head centre's depth (turning with the head)."""
        h, w = size
        t = np.linspace(0.0, 1.0, _BORDER, endpoint=False)
        lo_x, hi_x, lo_y, hi_y = -0.5, w - 0.5, -0.5, h - 0.5
        border = np.concatenate([np.c_[lo_x + t * (hi_x - lo_x), np.full_like(t, lo_y)],
                                 np.c_[np.full_like(t, hi_x), lo_y + t * (hi_y - lo_y)],
                                 np.c_[hi_x - t * (hi_x - lo_x), np.full_like(t, hi_y)],
                                 np.c_[np.full_like(t, lo_x), hi_y - t * (hi_y - lo_y)]])
        centre = pose.project(self.centre[None])[0]
        face = old[self._face_vertices]
        radius = 0.5 * max(float(np.ptp(face[:, 0])), float(np.ptp(face[:, 1])))
        angle = np.linspace(0.0, 2 * np.pi, _RING, endpoint=False)
        circle = np.c_[np.cos(angle), np.sin(angle)]
        near = centre + 1.15 * radius * circle
        far = centre + 2.0 * radius * circle
        # Near ring: image points at the centre's depth, back into model space, turned, projected.
        flip = np.array([1.0, -1.0])
        cam = np.c_[(near - centre) * flip / pose.scale, np.zeros(len(near))] + pose.rotation @ self.centre
        turned = new_pose.project(cam @ pose.rotation)  # rows: R^T cam, back in model space
        src = np.concatenate([border, far, near])
        dst = np.concatenate([border, far, turned])
        inside = ((src[:, 0] >= lo_x) & (src[:, 0] <= hi_x) & (src[:, 1] >= lo_y) & (src[:, 1] <= hi_y)
                  & (dst[:, 0] >= lo_x) & (dst[:, 0] <= hi_x) & (dst[:, 1] >= lo_y) & (dst[:, 1] <= hi_y))
        inside[: len(border)] = True
        return src[inside], dst[inside]


def _widen(rgb: np.ndarray, px: int, py: int, fill: str) -> np.ndarray:
    """``rgb`` with ``px`` columns and ``py`` rows added on each side, black or its edge stretched
    outwards and blurred (the image itself untouched)."""
    if fill == "black":
        return cv2.copyMakeBorder(rgb, py, py, px, px, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    out = cv2.copyMakeBorder(rgb, py, py, px, px, cv2.BORDER_REPLICATE)
    soft = cv2.GaussianBlur(out, (0, 0), _EDGE_BLUR * rgb.shape[1])
    h, w = rgb.shape[:2]
    soft[py:py + h, px:px + w] = rgb
    return soft


def _fill(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``rgb`` with the ``mask`` region filled from its surroundings: inpainted at a quarter of the
    size and blurred (a soft, out-of-focus fill: full-size inpainting of a face-sized hole leaves
    streaks that read as structure)."""
    if not mask.any():
        return rgb.copy()
    h, w = mask.shape
    small = (max(w // 4, 8), max(h // 4, 8))
    lo = cv2.inpaint(cv2.resize(rgb, small, interpolation=cv2.INTER_AREA),
                     (cv2.resize(mask, small, interpolation=cv2.INTER_AREA) > 0).astype(np.uint8), 2,
                     cv2.INPAINT_TELEA)
    lo = cv2.GaussianBlur(lo, (0, 0), 1.5)
    filled = cv2.resize(lo, (w, h), interpolation=cv2.INTER_LINEAR)
    out = rgb.copy()
    out[mask > 0] = filled[mask > 0]
    return out


def _close_pinholes(image: np.ndarray, face_pixels: np.ndarray) -> None:
    """Fill, in place, the pixels inside the rendered face that no triangle covered (the folds of
    the nostrils let the background show through in pinholes) from the face around them."""
    h, w = image.shape[:2]
    mask = np.zeros(h * w, np.uint8)
    mask[face_pixels] = 1
    mask = mask.reshape(h, w)
    holes = (cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)) > mask).astype(np.uint8)
    if holes.any():
        image[:] = cv2.inpaint(image, holes, 2, cv2.INPAINT_TELEA)
