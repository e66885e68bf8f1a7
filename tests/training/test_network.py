"""Network, targets, training samples and the ONNX round trip (on a small untrained network)."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from expnet.bench.synthetic import synthetic_faces  # noqa: E402
from expnet.face.ibug68 import MIRROR_68  # noqa: E402
from expnet.face.pose import project  # noqa: E402
from expnet.inference.targets import TargetCoder  # noqa: E402
from expnet.teacher.fitting import LandmarkFitter  # noqa: E402
from expnet.training.data import SampleSet, make_batch  # noqa: E402
from expnet.training.network import ExpNetCNN, NetConfig, count_macs  # noqa: E402

SMALL = NetConfig(input_size=64, stem=8, widths=(8, 16, 16, 24), depths=(1, 1, 1, 1), hidden=16)


def test_forward_shapes_and_macs():
    net = ExpNetCNN(SMALL).eval()
    e, p, s = net(torch.rand(3, 1, 64, 64) * 255)
    assert e.shape == (3, 10) and p.shape == (3, 6) and s.shape == (3, 40)
    assert 0 < count_macs(net) < count_macs(ExpNetCNN(NetConfig()))
    cfg = NetConfig.from_dict(json.loads(json.dumps(SMALL.to_dict())))
    assert cfg == SMALL


def test_mirror_permutation_is_an_involution(model):
    assert sorted(MIRROR_68) == list(range(68))
    assert (MIRROR_68[MIRROR_68] == np.arange(68)).all()
    v = model.landmarks.vertices()
    width = np.ptp(v[:, 0])
    assert np.abs(v[MIRROR_68, 0] + v[:, 0]).max() < 0.02 * width  # the mean face is symmetric


def test_mirrored_landmarks_fit_mirrored_pose(model):
    faces = synthetic_faces(model.landmarks, 40, 0.0, seed=5, max_yaw=40)
    pts = faces["landmarks"]
    mirrored = pts[:, MIRROR_68].copy()
    mirrored[..., 0] = 1000.0 - mirrored[..., 0]
    fitter = LandmarkFitter(model.landmarks)
    a, b = fitter.fit(pts).angles, fitter.fit(mirrored).angles
    assert np.median(np.abs(a[:, 1] + b[:, 1])) < 1.5  # yaw flips sign
    assert np.median(np.abs(a[:, 0] - b[:, 0])) < 1.5  # pitch stays


def _tiny_samples(model, n=6, side=83):
    faces = synthetic_faces(model.landmarks, n, 0.0, seed=2)
    from expnet.face.pose import euler_to_rotation
    rot = euler_to_rotation(*np.radians(faces["angles"]).T)
    rng = np.random.default_rng(0)
    return SampleSet(
        crops=rng.integers(0, 255, (n, side, side), dtype=np.uint8), expression=faces["expression"],
        shape=faces["shape"], rotation=rot, scale=np.full(n, 0.002), translation=np.full((n, 2), 300.0),
        affine=np.tile(np.array([[0.5, 0, -100.0], [0, 0.5, -90.0]]), (n, 1, 1)),
        identity=np.array([f"id{i % 3}" for i in range(n)]), source=np.array([f"img{i}" for i in range(n)]),
        flipped=np.zeros(n, bool))


def test_batch_targets_decode_to_the_labelled_pose(model):
    samples = _tiny_samples(model)
    coder = TargetCoder.from_model(model.landmarks, np.full(6, 0.1), np.full(6, 2.0))
    x, e, p, s = make_batch(samples, np.arange(6), 64, coder, None, None)
    assert x.shape == (6, 1, 64, 64) and e.shape == (6, 10) and s.shape == (6, 40)
    # Decoding the pose targets through the batch's crop gives back the image-space pose:
    # project the landmarks both ways and compare in image pixels.
    side = samples.crops.shape[1]
    from expnet.training.data import CONTEXT
    base = side / CONTEXT
    k = 64 / base
    off = (side - base) / 2
    m = np.array([[k, 0, -off * k], [0, k, -off * k]])
    aff = np.einsum("ij,bjk->bik", m[:, :2], samples.affine)
    aff[:, :, 2] += m[:, 2]
    rot, scale, trans = coder.decode_pose(p, aff, 64)
    pts = model.landmarks.vertices(samples.shape, samples.expression)
    assert np.allclose(project(pts, rot, scale, trans), project(pts, samples.rotation, samples.scale,
                                                                samples.translation), atol=1e-3)
    assert np.allclose(coder.decode_expression(e), samples.expression, rtol=1e-4, atol=1e-5)


def test_augmented_batches_vary_and_stay_in_range(model):
    from expnet.training.data import Augment
    samples = _tiny_samples(model)
    coder = TargetCoder.from_model(model.landmarks)
    a = make_batch(samples, np.arange(6), 64, coder, np.random.default_rng(1), Augment())
    b = make_batch(samples, np.arange(6), 64, coder, np.random.default_rng(2), Augment())
    assert not np.allclose(a[0], b[0])
    assert a[0].min() >= 0 and a[0].max() <= 255
    assert np.allclose(a[1], b[1])  # expression targets do not depend on the augmentation
