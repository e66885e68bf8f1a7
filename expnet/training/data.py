"""Training samples for the network: face crops cut from the full-resolution images whose labels
were fitted, and the degraded-input augmentation computed from them on the fly.

A sample is stored once as a *context crop*: the network's crop box (the dlib-hog-convention box
implied by the labelled landmarks, squared and enlarged 1.25x, as at inference) enlarged by a
further ``CONTEXT`` factor, so that box jitter can move inside it. Crops are cached in one ``.npz``
(derived from the datasets: it stays under ``outputs/``, out of git).

Horizontal flips are used with correctly mirrored labels: the mirrored landmarks are refitted,
which gives the mirrored expression, shape and pose in this basis (its components are not
themselves symmetric). A crop is stored once; its mirrored twin is flipped when a batch is cut.
Profiled views (rows of ``expnet profile``) are not mirrored: their yaw sign is already random, and
their mirrored labels would come from a landmark refit at up to 90 degrees of yaw, which is
exactly where the refit is least sure.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
from tqdm import tqdm

from expnet.detection.boxes import box_from_landmarks
from expnet.detection.crop import ENLARGE, crop, square_box
from expnet.face.extra_basis import ExtraComponents
from expnet.face.ibug68 import mirror_landmarks
from expnet.face.pose import mirror_pose
from expnet.inference.targets import TargetCoder
from expnet.io.atomic import atomic_path
from expnet.io.images import ImageError, load_image
from expnet.io.labels import POSE_SOURCE_MESH, read_usable
from expnet.teacher.fitting import LandmarkFitter
from expnet.training.sunglasses import GlassesFrame, draw_sunglasses

CONTEXT = 1.3
FIT_CHUNK = 4096  # faces per batched refit of mirrored landmarks


@dataclass
class SampleSet:
    """Context crops and labels, one label row per (image, flip).

    ``crops`` holds each image once (M crops); label rows ``i`` and ``i + M`` are the image and its
    mirrored twin (N = 2M), or N = M when no twins were made.
    """

    crops: np.ndarray        # (M, C, C) uint8, C = round(CONTEXT * input_size)
    expression: np.ndarray   # (N, Ke) raw coefficients
    shape: np.ndarray        # (N, Ks)
    rotation: np.ndarray     # (N, 3, 3)
    scale: np.ndarray        # (N,) image pixels per model unit
    translation: np.ndarray  # (N, 2) image pixels
    affine: np.ndarray       # (N, 2, 3) image -> context crop
    identity: np.ndarray     # (N,) str
    source: np.ndarray       # (N,) str image path
    flipped: np.ndarray      # (N,) bool
    group: np.ndarray | None = None     # (N,) int: which label file the row came from
    profiled: np.ndarray | None = None  # (N,) bool: a view made by ``expnet profile``

    def __post_init__(self):
        n = len(self.flipped)
        if self.group is None:
            self.group = np.zeros(n, np.int64)
        if self.profiled is None:
            self.profiled = np.zeros(n, bool)

    def __len__(self) -> int:
        return len(self.flipped)

    def mirror_of(self, index: np.ndarray) -> np.ndarray:
        """Index of each sample's mirrored twin (samples are stored originals first, then mirrors)."""
        half = len(self) // 2
        return np.where(index < half, index + half, index - half)

    def crop(self, i: int) -> np.ndarray:
        """The context crop of label row ``i`` (flipped for a mirrored twin)."""
        c = self.crops[i % len(self.crops)]
        return c[:, ::-1] if self.flipped[i] else c

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp:
            np.savez(tmp, **self.__dict__)

    @classmethod
    def load(cls, path: Path) -> SampleSet:
        with np.load(path, allow_pickle=False) as d:
            return cls(**{k: d[k] for k in d.files})


def network_box(landmarks: np.ndarray, enlarge: float = ENLARGE) -> np.ndarray:
    """The square box the network sees, from landmarks (the same convention as at inference)."""
    return square_box(box_from_landmarks(landmarks), enlarge)


def build_samples(label_files: list[str], input_size: int, fitter: LandmarkFitter,
                  progress: bool = True, extra: ExtraComponents | None = None, enlarge: float = ENLARGE) -> SampleSet:
    """Cut context crops for every labelled image, plus mirrored copies with refitted labels.

    With ``extra`` the labels' ``expression_extra`` (made with those components: ``fitter`` fits
    10 + K) follow the ten in ``expression``.
    """
    rows, groups = [], []
    for k, f in enumerate(label_files):
        got = read_usable(f)
        rows += got
        groups += [k] * len(got)
    if extra is not None:
        other = {r.get("extra_version") for r in rows} - {extra.version}
        if other:
            raise ValueError(f"labels made without the extra components {extra.version} (found "
                             f"{sorted(map(str, other))}): label with expnet label --extra and the same components")
    side = int(round(CONTEXT * input_size))
    crops = np.empty((len(rows), side, side), np.uint8)  # filled in place: no second copy of every crop
    affines = np.empty((len(rows), 2, 3))
    ok = np.zeros(len(rows), bool)

    def cut(i: int) -> None:
        try:
            gray = load_image(rows[i]["image"], "L")
        except ImageError:
            return
        crops[i], affines[i] = crop(gray, network_box(np.asarray(rows[i]["landmarks"], np.float64), enlarge), side,
                                    enlarge=CONTEXT)
        ok[i] = True

    # JPEG decoding and OpenCV's resampling release Python's lock: one thread per core
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        for _ in tqdm(pool.map(cut, range(len(rows))), total=len(rows), desc="crops", unit="img",
                      disable=not progress):
            pass
    keep = np.flatnonzero(ok)
    crops = crops[keep] if len(keep) < len(rows) else crops
    landmark_rows = [np.asarray(rows[i]["landmarks"], np.float64) for i in keep]
    rows = [rows[i] for i in keep]
    group = np.array([groups[i] for i in keep], dtype=np.int64)
    profiled = np.array(["profiled_from" in r for r in rows], dtype=bool)
    n = len(rows)
    affine = affines[keep]
    exp = np.array([r["expression"] + (r["expression_extra"] if extra is not None else []) for r in rows])
    shp = np.array([r["shape"] for r in rows])
    rot = np.array([r["pose"]["rotation"] for r in rows])
    scl = np.array([r["pose"]["scale"] for r in rows])
    trn = np.array([r["pose"]["translation"] for r in rows])
    # Mirror: flip the crop; the mirrored image's landmarks are refitted for mirrored labels.
    lm = np.array(landmark_rows)
    widths = np.array([r["width"] for r in rows], dtype=np.float64)
    mirrored = mirror_landmarks(lm, widths)
    # in chunks: the batched fit's Jacobians of 100,000+ faces at once would take gigabytes
    parts = [fitter.fit(mirrored[k:k + FIT_CHUNK]) for k in range(0, max(len(mirrored), 1), FIT_CHUNK)]
    fit = SimpleNamespace(**{key: np.concatenate([getattr(f, key) for f in parts])
                             for key in ("expression", "shape", "rotation", "scale", "translation")})
    # A pose that is not the landmark fit's (``expnet label --pose mesh``) is mirrored exactly,
    # x -> W-1-x: the refit would put the 2D fit's flatter pitch back in the twin.
    exact = np.array([r["pose"].get("source") == POSE_SOURCE_MESH for r in rows], dtype=bool)
    if exact.any():
        fit.rotation[exact], fit.translation[exact] = mirror_pose(rot[exact], trn[exact], widths[exact])
        fit.scale[exact] = scl[exact]
    # Image -> crop affine of the mirrored image: x' = W-1-x, then the crop, then flip the crop.
    m_aff = affine.copy()
    a = affine[:, 0, 0]
    m_aff[:, 0, 2] = (side - 1) - (a * (widths - 1) + affine[:, 0, 2])
    return SampleSet(
        crops=crops,
        expression=np.concatenate([exp, fit.expression]),
        shape=np.concatenate([shp, fit.shape]),
        rotation=np.concatenate([rot, fit.rotation]),
        scale=np.concatenate([scl, fit.scale]),
        translation=np.concatenate([trn, fit.translation]),
        affine=np.concatenate([affine, m_aff]),
        identity=np.array([str(r.get("identity") or r["image"]) for r in rows] * 2),
        source=np.array([r["image"] for r in rows] * 2),
        flipped=np.r_[np.zeros(n, bool), np.ones(n, bool)],
        group=np.r_[group, group], profiled=np.r_[profiled, profiled])


@dataclass(frozen=True)
class Augment:
    """Degradations that mimic small, blurred, compressed faces and detector variance."""

    min_scale: float = 0.15       # downscale factor range for the low-resolution copy
    p_lowres: float = 0.6
    p_blur: float = 0.25
    p_jpeg: float = 0.3
    shift: float = 0.06           # box jitter, fraction of the box side
    zoom: float = 0.10            # box size jitter (log-uniform +-)
    contrast: float = 0.3
    brightness: float = 25.0
    # Profiled views lie on a black canvas where the source image ends, and their black grows with
    # the yaw: a network can read the pose off it, which real photos never show. With this
    # probability a crop's black pixels take another crop's pixels (of the same batch) instead.
    p_fill: float = 0.0
    # Real faces are covered (sunglasses, hands, hair, masks) where rendered views never are: with
    # this probability a band of the crop takes one flat grey, so that the pose has to be read from
    # what is left of the head.
    p_occlude: float = 0.0
    # With this probability the face wears dark glasses placed with its true pose
    # (expnet.training.sunglasses); ``glasses`` is the frame fitted to the model's landmarks.
    p_glasses: float = 0.0
    glasses: GlassesFrame | None = None

    def __post_init__(self):
        if self.p_glasses > 0 and self.glasses is None:
            raise ValueError("p_glasses needs a glasses frame (GlassesFrame.from_landmarks)")


def make_batch(samples: SampleSet, index: np.ndarray, size: int, coder: TargetCoder,
               rng: np.random.Generator | None, augment: Augment | None):
    """Crops (B, 1, size, size) float32 and targets; ``rng=None`` gives the centred crop."""
    side = samples.crops.shape[1]
    b = len(index)
    out = np.empty((b, 1, size, size), np.float32)
    affines = np.empty((b, 2, 3))
    base = side / CONTEXT  # the unjittered network box inside the context crop
    warped = []
    for j, i in enumerate(index):
        if rng is not None and augment is not None:
            box_side = base * np.exp(rng.uniform(-augment.zoom, augment.zoom))
            cx, cy = side / 2 + rng.uniform(-augment.shift, augment.shift, 2) * base
        else:
            box_side, cx, cy = base, side / 2, side / 2
        s = size / box_side
        m = np.array([[s, 0, -(cx - box_side / 2) * s], [0, s, -(cy - box_side / 2) * s]])
        flags = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        warped.append(cv2.warpAffine(samples.crop(i), m, (size, size), flags=flags, borderMode=cv2.BORDER_CONSTANT))
        # compose image->context (samples.affine) with context->network crop (m)
        a = samples.affine[i]
        affines[j, :, :2] = m[:, :2] @ a[:, :2]
        affines[j, :, 2] = m[:, :2] @ a[:, 2] + m[:, 2]
    for j, img in enumerate(warped):
        if rng is not None and augment is not None:
            if b > 1 and augment.p_fill > 0 and rng.random() < augment.p_fill:
                donor = warped[(j + 1 + int(rng.integers(b - 1))) % b]
                black = img < 2  # the canvas and the padding (edges interpolated a little)
                img = np.where(black, donor, img)
            if augment.p_occlude > 0 and rng.random() < augment.p_occlude:
                img = _occlude(img, rng)
            if augment.glasses is not None and rng.random() < augment.p_glasses:
                i = index[j]
                img = draw_sunglasses(img, samples.rotation[i], samples.scale[i], samples.translation[i],
                                      affines[j], augment.glasses, rng)
            img = _degrade(img, rng, augment)
        out[j, 0] = img
    pose = coder.encode_pose(samples.rotation[index], samples.scale[index], samples.translation[index],
                             affines, size)
    return (out, coder.encode_expression(samples.expression[index]).astype(np.float32),
            pose.astype(np.float32), coder.encode_shape(samples.shape[index]).astype(np.float32))


def centre_affines(samples: SampleSet, index: np.ndarray, size: int) -> np.ndarray:
    """Image -> network-crop affines of the unjittered crops (what ``make_batch`` does without rng)."""
    side = samples.crops.shape[1]
    base = side / CONTEXT
    s = size / base
    off = (side - base) / 2
    m = np.array([[s, 0, -off * s], [0, s, -off * s]])
    a = samples.affine[index]
    out = np.empty_like(a)
    out[:, :, :2] = m[:, :2] @ a[:, :, :2]
    out[:, :, 2] = (m[:, :2] @ a[:, :, 2:])[..., 0] + m[:, 2]
    return out


def _occlude(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A flat grey band (25-60% of the crop wide, 10-30% high) somewhere over the face."""
    size = img.shape[0]
    w, h = (rng.uniform((0.25, 0.10), (0.60, 0.30)) * size).astype(int)
    x, y = (rng.uniform(0.2, 0.8, 2) * size - (w / 2, h / 2)).astype(int).clip(0)
    out = img.copy()
    out[y:y + h, x:x + w] = rng.uniform(0, 255)
    return out


def _degrade(img: np.ndarray, rng: np.random.Generator, aug: Augment) -> np.ndarray:
    size = img.shape[0]
    if rng.random() < aug.p_lowres:
        f = np.exp(rng.uniform(np.log(aug.min_scale), 0.0))
        small = max(int(round(size * f)), 4)
        img = cv2.resize(cv2.resize(img, (small, small), interpolation=cv2.INTER_AREA), (size, size),
                         interpolation=cv2.INTER_LINEAR)
    if rng.random() < aug.p_blur:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 2.0))
    if rng.random() < aug.p_jpeg:
        ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 80))])
        img = cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE)
    c = np.exp(rng.uniform(-aug.contrast, aug.contrast))
    bright = rng.uniform(-aug.brightness, aug.brightness)
    mean = img.mean()
    return np.clip((img.astype(np.float32) - mean) * c + mean + bright, 0, 255)
