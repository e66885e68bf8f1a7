"""Pose learning for turned heads: the 6-D rotation encoding, the vertex-distance loss, label-file
shares per epoch, and a model whose pose comes from a second network."""

import csv
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from expnet.cli import main  # noqa: E402
from expnet.face.pose import euler_to_rotation, project, rotation_angle, rotation_from_6d, rotation_to_6d  # noqa: E402
from expnet.inference.targets import TargetCoder  # noqa: E402
from expnet.training import losses  # noqa: E402
from expnet.training.losses import PoseLoss  # noqa: E402


def _random_rotations(n, seed=0):
    rng = np.random.default_rng(seed)
    return euler_to_rotation(*np.radians(rng.uniform([-40, -90, -30], [40, 90, 30], (n, 3))).T)


def test_6d_round_trip_and_torch_agrees_with_numpy():
    r = _random_rotations(50)
    assert np.allclose(rotation_from_6d(rotation_to_6d(r)), r, atol=1e-9)
    noisy = rotation_to_6d(r) + np.random.default_rng(1).normal(0, 0.2, (50, 6))
    ours = rotation_from_6d(noisy)
    assert np.allclose(ours @ ours.transpose(0, 2, 1), np.eye(3), atol=1e-9)  # always a rotation
    assert np.allclose(np.linalg.det(ours), 1.0)
    theirs = losses.rotation_from_6d(torch.tensor(noisy)).numpy()
    assert np.allclose(ours, theirs, atol=1e-6)
    assert np.allclose(rotation_angle(r, r), 0.0, atol=1e-5)
    assert np.allclose(rotation_angle(euler_to_rotation(0, 0, 0), euler_to_rotation(0, np.radians(30), 0)), 30.0)


def test_6d_targets_decode_to_the_labelled_pose(model):
    r = _random_rotations(8, seed=2)
    scale, translation = np.full(8, 0.002), np.random.default_rng(3).uniform(80, 120, (8, 2))
    affine = np.tile(np.array([[0.5, 0, -10.0], [0, 0.5, -12.0]]), (8, 1, 1))
    coder0 = TargetCoder.from_model(model.landmarks, pose_encoding="6d")
    raw = coder0.raw_pose(r, scale, translation, affine, 64)
    assert raw.shape == (8, 9) and coder0.n_pose == 9
    coder = TargetCoder.from_dict(json.loads(json.dumps(
        TargetCoder.from_model(model.landmarks, raw.mean(0), raw.std(0) + 1e-6, "6d").to_dict())))
    rot, s, t = coder.decode_pose(coder.encode_pose(r, scale, translation, affine, 64), affine, 64)
    pts = model.landmarks.vertices()
    assert np.allclose(project(pts, rot, s, t), project(pts, r, scale, translation), atol=1e-6)
    assert TargetCoder.from_dict({k: v for k, v in coder0.to_dict().items() if k != "pose_encoding"} | {
        "pose_mean": [0.0] * 6, "pose_std": [1.0] * 6}).pose_encoding == "euler"  # models made before


def _vertex_loss(model):
    """The loss with unit target statistics, and whitened targets of rotations (size 0.3 of the crop)."""
    loss = PoseLoss("vertex", TargetCoder.from_model(model.landmarks, pose_encoding="6d"), model.landmarks)

    def targets(r):
        raw = np.concatenate([rotation_to_6d(r), np.full((len(r), 1), np.log(0.3)), np.zeros((len(r), 2))], 1)
        return torch.tensor(raw, dtype=torch.float32)
    return loss, targets


def test_vertex_loss_is_zero_at_the_truth_and_grows_with_the_rotation_error(model):
    r = _random_rotations(16, seed=4)
    loss, targets = _vertex_loss(model)
    truth = targets(r)
    assert float(loss(truth, truth)) < 1e-10
    errors = [float(loss(targets(r @ euler_to_rotation(0, np.radians(d), 0)), truth)) for d in (2, 5, 10, 20)]
    assert all(a < b for a, b in zip(errors, errors[1:]))


def test_the_vertex_loss_has_no_wrap_around_where_euler_angles_do(model):
    # Near profile, pitch and roll trade off (gimbal lock): two angle triples far apart in angle space
    # are almost the same head pose. The vertex loss sees the pose; the angle loss sees the numbers.
    a = euler_to_rotation(np.radians(30), np.radians(89.5), np.radians(0))
    b = euler_to_rotation(np.radians(0), np.radians(89.5), np.radians(-30))
    assert rotation_angle(a, b) < 1.0
    loss, targets = _vertex_loss(model)
    vertex = float(loss(targets(b[None]), targets(a[None])))
    far = float(loss(targets((a @ euler_to_rotation(0, np.radians(20), 0))[None]), targets(a[None])))
    assert vertex < 0.01 * far
    from expnet.face.pose import rotation_to_euler
    angles = np.degrees(rotation_to_euler(np.stack([a, b])))
    assert np.abs(angles[0] - angles[1]).max() > 25  # the Euler targets are 30 degrees apart


def test_mismatched_loss_and_encoding_are_refused(model):
    with pytest.raises(ValueError, match="6d pose encoding"):
        PoseLoss("vertex", TargetCoder.from_model(model.landmarks), model.landmarks)
    with pytest.raises(ValueError, match="pose_loss must be one of"):
        losses.encoding_of("angles")


def test_label_weights_set_each_files_share_of_an_epoch(trained):
    from expnet.training.trainer import TrainConfig, Trainer
    root, _, cfg, _ = trained
    labels = cfg["labels"][0]
    config = TrainConfig(**{**cfg, "labels": [labels, labels], "out": str(root / "mix"),
                            "label_weights": (3.0, 1.0), "epoch_samples": 40})
    trainer = Trainer(config, progress=False)
    run = trainer._setup()
    order = trainer._epoch_order(run, np.random.default_rng(0))
    groups = run.samples.group[order]
    assert len(order) == 40 and (groups == 0).sum() == 30 and (groups == 1).sum() == 10
    assert set(order) <= set(run.train_idx)  # never a validation row
    for bad in ((1.0,), (1.0, -1.0), (0.0, 0.0)):
        with pytest.raises(ValueError, match="label_weights"):
            TrainConfig(**{**cfg, "labels": [labels, labels], "label_weights": bad})


def test_a_pose_network_trains_with_the_vertex_loss_and_its_pose_joins_another_networks_model(trained, tmp_path):
    import onnxruntime as ort

    from expnet.inference.predictor import ExpNet
    from expnet.training.trainer import TrainConfig, Trainer
    root, out, cfg, _ = trained
    pose_run = tmp_path / "pose"
    result = Trainer(TrainConfig(**{**cfg, "out": str(pose_run), "epochs": 1, "pose_loss": "vertex",
                                    "input_size": 32, "loss_weights": (0.0, 1.0, 0.0)}), progress=False).run()
    assert result["epochs"] == 1
    row = next(csv.DictReader(open(pose_run / "log.csv")))
    assert float(row["val_pose_degrees"]) >= 0 and float(row["val_pose_loss"]) > 0
    split, alone = tmp_path / "split.onnx", tmp_path / "pose.onnx"
    assert main(["export", str(out / "best.pt"), "-o", str(split), "--pose-from", str(pose_run / "best.pt")]) == 0
    assert main(["export", str(pose_run / "best.pt"), "-o", str(alone)]) == 0
    net = ExpNet(split, detector="none")
    meta = net.metadata
    assert [n["outputs"] for n in meta["networks"]] == [["expression", "shape"], ["pose"]]
    assert meta["coder"]["pose_encoding"] == "6d" and net.coder.n_pose == 9
    crops = np.random.default_rng(0).uniform(0, 255, (5, 64, 64)).astype(np.float32)
    e, p, s = net.run_crops(crops)
    first = ort.InferenceSession(str(root / "tiny.onnx")) if (root / "tiny.onnx").exists() else None
    if first is None:
        assert main(["export", str(out / "best.pt"), "-o", str(root / "tiny.onnx")]) == 0
        first = ort.InferenceSession(str(root / "tiny.onnx"))
    e1, _, s1 = first.run(None, {"pixels": crops[:, None]})
    small = crops.reshape(5, 32, 2, 32, 2).mean((2, 4))  # the pose network sees the crop pooled to its size
    _, p2, _ = ort.InferenceSession(str(alone)).run(None, {"pixels": small[:, None]})
    assert np.allclose(e, e1, atol=1e-4) and np.allclose(s, s1, atol=1e-4) and np.allclose(p, p2, atol=1e-4)
    face = net.predict(np.full((64, 64), 128, np.uint8)).faces[0]
    assert np.allclose(face.pose.rotation @ face.pose.rotation.T, np.eye(3), atol=1e-6)


def test_black_canvas_is_filled_from_another_crop(model):
    from expnet.training.data import Augment, SampleSet, make_batch
    n, side = 4, 83
    crops = np.full((n, side, side), 200, np.uint8)
    crops[0, :, :30] = 0  # a black canvas on the left, as a turned view has
    crops[1] = 90
    from expnet.face.pose import euler_to_rotation
    samples = SampleSet(crops=crops, expression=np.zeros((n, 10)), shape=np.zeros((n, 40)),
                        rotation=np.tile(euler_to_rotation(0, 0, 0), (n, 1, 1)), scale=np.full(n, 0.002),
                        translation=np.full((n, 2), 300.0), affine=np.tile(np.eye(2, 3), (n, 1, 1)),
                        identity=np.array(["a"] * n), source=np.array(["x"] * n), flipped=np.zeros(n, bool))
    coder = TargetCoder.from_model(model.landmarks)
    quiet = Augment(p_lowres=0, p_blur=0, p_jpeg=0, shift=0, zoom=0, contrast=0, brightness=0)
    kept = make_batch(samples, np.arange(n), 64, coder, np.random.default_rng(0), quiet)[0]
    filled = make_batch(samples, np.arange(n), 64, coder, np.random.default_rng(0),
                        Augment(**{**quiet.__dict__, "p_fill": 1.0}))[0]
    assert (kept[0, 0, :, :5] < 2).all()          # without filling the canvas stays black
    assert set(np.unique(filled[0, 0, :, :5])) <= {90.0, 200.0}  # filled from another crop of the batch
    assert np.allclose(filled[:, 0, :, 40:], kept[:, 0, :, 40:])  # the face itself is untouched


def test_occlusion_covers_one_flat_band_of_each_crop(model):
    from expnet.training.config import TrainConfig
    from expnet.training.data import Augment, SampleSet, make_batch
    n, side = 8, 83
    samples = SampleSet(crops=np.full((n, side, side), 200, np.uint8), expression=np.zeros((n, 10)),
                        shape=np.zeros((n, 40)), rotation=np.tile(euler_to_rotation(0, 0, 0), (n, 1, 1)),
                        scale=np.full(n, 0.002), translation=np.full((n, 2), 300.0),
                        affine=np.tile(np.eye(2, 3), (n, 1, 1)), identity=np.array(["a"] * n),
                        source=np.array(["x"] * n), flipped=np.zeros(n, bool))
    coder = TargetCoder.from_model(model.landmarks)
    quiet = Augment(p_lowres=0, p_blur=0, p_jpeg=0, shift=0, zoom=0, contrast=0, brightness=0)
    crops, _, pose, _ = make_batch(samples, np.arange(n), 64, coder, np.random.default_rng(0),
                                   Augment(**{**quiet.__dict__, "p_occlude": 1.0}))
    _, _, clean_pose, _ = make_batch(samples, np.arange(n), 64, coder, np.random.default_rng(0), quiet)
    for crop in crops[:, 0]:
        ys, xs = np.nonzero(np.abs(crop - 200) > 0.5)
        assert len(np.unique(crop[ys, xs])) == 1                            # one flat grey
        assert len(ys) == (np.ptp(ys) + 1) * (np.ptp(xs) + 1)                # a rectangle
        assert 0.25 * 0.10 * 0.5 <= len(ys) / 64 ** 2 <= 0.60 * 0.30         # a band, clipped at most in half
    assert np.array_equal(pose, clean_pose)                                 # the labels stay the truth
    with pytest.raises(ValueError, match="occlude is a probability"):
        TrainConfig(labels=["x.jsonl"], occlude=1.5)


def test_a_pose_network_may_see_a_wider_crop_than_the_expression_network(trained, tmp_path):
    import onnxruntime as ort

    from expnet.inference.predictor import ExpNet
    from expnet.training.trainer import TrainConfig, Trainer
    root, out, cfg, _ = trained   # the expression network: 64 px at 1.25x
    wide = tmp_path / "wide"
    Trainer(TrainConfig(**{**cfg, "out": str(wide), "epochs": 1, "pose_loss": "vertex", "input_size": 40,
                           "enlarge": 1.5625, "loss_weights": (0.0, 1.0, 0.0)}), progress=False).run()
    split, alone, expr = tmp_path / "split.onnx", tmp_path / "pose.onnx", tmp_path / "expr.onnx"
    assert main(["export", str(out / "best.pt"), "-o", str(split), "--pose-from", str(wide / "best.pt")]) == 0
    assert main(["export", str(wide / "best.pt"), "-o", str(alone)]) == 0
    assert main(["export", str(out / "best.pt"), "-o", str(expr)]) == 0
    net = ExpNet(split, detector="none")
    assert net.input_size == 80 and net.enlarge == 1.5625  # the wider crop, at the expression network's scale
    crops = np.random.default_rng(1).uniform(0, 255, (3, 80, 80)).astype(np.float32)
    e, p, _ = net.run_crops(crops)
    e1 = ort.InferenceSession(str(expr)).run(None, {"pixels": crops[:, None, 8:72, 8:72]})[0]
    p2 = ort.InferenceSession(str(alone)).run(None, {"pixels": crops.reshape(3, 40, 2, 40, 2).mean((2, 4))[:, None]})[1]
    assert np.allclose(e, e1, atol=1e-4) and np.allclose(p, p2, atol=1e-4)
    with pytest.raises(ValueError, match="whole, even margin"):
        from expnet.training.export import export_onnx
        export_onnx(wide / "best.pt", tmp_path / "bad.onnx", pose_from=out / "best.pt")  # narrower pose crop


def test_a_mesh_pose_is_mirrored_exactly_and_a_fit_pose_refitted(tmp_path):
    """The mirrored twin of a row with FaceMesh's pose keeps that pose, mirrored (x -> W-1-x);
    a row with the fit's pose gets the refit of its mirrored landmarks, as before."""
    from expnet.assets.samples import sample_path
    from expnet.face.model import FaceModel
    from expnet.teacher.fitting import LandmarkFitter
    from expnet.training.data import build_samples
    files = []
    for pose in ("fit", "mesh"):
        files.append(tmp_path / f"{pose}.jsonl")
        assert main(["label", str(sample_path("takeo.ppm")), "-o", str(files[-1]), "--landmarks", "mesh",
                     "--pose", pose, "--detector", "blazeface", "--workers", "1", "--quiet"]) == 0
    rows = [json.loads(f.read_text().splitlines()[0]) for f in files]
    fitter = LandmarkFitter(FaceModel.load().landmarks)
    s = build_samples([str(f) for f in files], 56, fitter, progress=False)
    assert s.flipped.tolist() == [False, False, True, True]
    flip = np.diag([-1.0, 1.0, 1.0])
    mesh_rotation = np.array(rows[1]["pose"]["rotation"])
    assert np.allclose(s.rotation[3], flip @ mesh_rotation @ flip)
    assert np.allclose(s.translation[3], [rows[1]["width"] - 1 - rows[1]["pose"]["translation"][0],
                                          rows[1]["pose"]["translation"][1]])
    assert s.scale[3] == pytest.approx(rows[1]["pose"]["scale"])
    # the fit row's twin is a refit: a mirrored pose, though not exactly the mirror of its own
    refit = s.rotation[2]
    assert not np.allclose(refit, flip @ np.array(rows[0]["pose"]["rotation"]) @ flip, atol=1e-6)
    assert rotation_angle(refit, flip @ np.array(rows[0]["pose"]["rotation"]) @ flip) < 5
