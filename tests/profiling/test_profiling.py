"""Face profiling: a synthetic face with a known texture and exact labels, turned to new views."""

import json

import cv2
import numpy as np
import pytest

from expnet.cli import main
from expnet.evaluation.datasets import load_profiled
from expnet.face.pose import Pose, euler_to_rotation
from expnet.profiling.job import ProfileSettings, profile_labels
from expnet.profiling.profiler import FaceProfiler, View
from expnet.profiling.texture import mirror_vertices
from expnet.render.rasterizer import visible_fragments
from expnet.render.reconstruct import to_image_space

SIZE = 200


@pytest.fixture(scope="module")
def profiler(model):
    return FaceProfiler(model)


def _texture(vertices: np.ndarray) -> np.ndarray:
    """A colour that encodes the model-space position: red grows with x, green with y."""
    v = vertices - vertices.min(0)
    v = v / v.max(0)
    return np.c_[40 + 200 * v[:, 0], 40 + 200 * v[:, 1], np.full(len(v), 90.0)]


def _synthetic(profiler, rng, yaw=10.0):
    """An image of a face drawn with the position texture on a noisy background, and its label."""
    model = profiler.model
    shape = model.shape_std * rng.normal(size=model.n_shape) * 0.5
    expression = model.expression_std * rng.normal(size=model.n_expression) * 0.5
    verts = model.vertices(shape, expression)
    width = np.ptp(verts[:, 0])
    pose = Pose(euler_to_rotation(np.radians(5.0), np.radians(yaw), np.radians(-3.0)),
                np.array([SIZE / 2, SIZE / 2 + 5]), 0.5 * SIZE / width)
    image = rng.integers(0, 40, (SIZE, SIZE, 3)).astype(np.uint8)
    img_v = to_image_space(verts, pose).astype(np.float32)
    frags = visible_fragments(img_v, profiler._corners, (SIZE, SIZE), corner_major=True)
    colours = _texture(verts)
    tri = profiler._corners[:, frags.triangle]
    face = sum(colours[tri[k]] * frags.bary[:, k:k + 1] for k in range(3))
    image.reshape(-1, 3)[frags.pixel] = np.clip(face, 0, 255).astype(np.uint8)
    return image, shape, expression, pose, colours


def _row(path, shape, expression, pose, identity="someone"):
    return {"image": str(path), "status": "ok", "residual": 0.02, "identity": identity,
            "pose": pose.to_dict(), "shape": shape.tolist(), "expression": expression.tolist()}


def test_mirror_vertices_pair_up_the_two_halves(model):
    v = model.vertices()
    mirror = mirror_vertices(v)
    mid = 0.5 * (v[:, 0].min() + v[:, 0].max())
    assert np.median(np.abs(v[mirror, 0] + v[:, 0] - 2 * mid)) < 0.01 * np.ptp(v[:, 0])
    assert np.mean(mirror[mirror] == np.arange(len(v))) > 0.8  # mostly an involution


def test_same_view_gives_back_the_face(profiler, rng):
    image, shape, expression, pose, _ = _synthetic(profiler, rng)
    out = profiler.render(image, shape, expression, pose, View(*pose.angles))
    assert np.allclose(out.pose.rotation, pose.rotation) and np.allclose(out.pose.translation, pose.translation)
    frags = visible_fragments(to_image_space(profiler.model.vertices(shape, expression), pose).astype(np.float32),
                              profiler._corners, (SIZE, SIZE), corner_major=True)
    diff = np.abs(out.image.reshape(-1, 3)[frags.pixel].astype(int) - image.reshape(-1, 3)[frags.pixel])
    assert np.median(diff) <= 3 and np.percentile(diff, 95) <= 25


def test_turned_view_has_the_texture_and_the_exact_label(profiler, rng):
    image, shape, expression, pose, colours = _synthetic(profiler, rng, yaw=-10.0)
    out = profiler.render(image, shape, expression, pose, View(0.0, 60.0, 0.0))
    assert abs(out.pose.yaw - 60.0) < 1e-6 and out.pose.scale == pose.scale
    verts = profiler.model.vertices(shape, expression)
    new = to_image_space(verts, out.pose)
    assert np.allclose(out.landmarks, new[profiler.model.landmark_indices, :2])
    # the head's centre stays where it was in the image
    assert np.allclose(pose.project(profiler.centre[None]), out.pose.project(profiler.centre[None]))
    # rendered colours follow the texture, including the side that was turned away (mirror fill:
    # the texture's red channel is x, so the mirror's red is the mirror image of it; green is y)
    frags = visible_fragments(new.astype(np.float32), profiler._corners, (SIZE, SIZE), corner_major=True)
    tri = profiler._corners[:, frags.triangle]
    expected_green = sum(colours[tri[k], 1] * frags.bary[:, k] for k in range(3))
    got = out.image.reshape(-1, 3)[frags.pixel].astype(float)
    assert np.median(np.abs(got[:, 1] - expected_green)) < 8
    assert out.face_pixels > 0.5 * len(np.unique(frags.pixel))


def test_background_moves_but_the_border_stays(profiler, rng):
    image, shape, expression, pose, _ = _synthetic(profiler, rng)
    out = profiler.render(image, shape, expression, pose, View(0.0, 70.0, 0.0))
    # the image border is an anchor of the warp: unchanged
    assert np.abs(out.image[0].astype(int) - image[0]).mean() < 2
    assert np.abs(out.image[:, -1].astype(int) - image[:, -1]).mean() < 2


def test_profile_job_resumes_reports_bad_images_and_makes_a_contact_sheet(profiler, rng, tmp_path):
    rows = []
    for i in range(4):
        image, shape, expression, pose, _ = _synthetic(profiler, rng)
        path = tmp_path / f"face{i}.png"
        cv2.imwrite(str(path), image)
        rows.append(_row(path, shape, expression, pose, f"id{i}"))
    (tmp_path / "broken.png").write_bytes(b"not an image")
    rows.append(_row(tmp_path / "broken.png", shape, expression, pose, "id9"))
    rows.append({**rows[0], "image": str(tmp_path / "unfitted.png"), "status": "no_face", "residual": None})
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    first = profile_labels([labels], out, ProfileSettings(views=2), workers=1, progress=False, limit=2)
    assert first.inputs == 4 and first.failed == 0
    made = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    code = main(["profile", str(labels), "-o", str(out), "--views", "2", "--workers", "1", "--quiet"])
    assert code == 1  # the broken image's views are rows with the reason
    again = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    assert again[:4] == made  # the first run's views were kept, not made again
    assert len(again) == 10 and len({r["image"] for r in again}) == 10
    bad = [r for r in again if r["status"] != "ok"]
    assert len(bad) == 2 and all("broken.png" in r["profiled_from"] for r in bad)
    ok = [r for r in again if r["status"] == "ok"]
    assert all(r["residual"] == 0.0 and -90 <= r["view"]["yaw"] <= 90 and abs(r["view"]["pitch"]) <= 30 for r in ok)
    h, w = cv2.imread(ok[0]["image"]).shape[:2]
    assert (h, w) == (ok[0]["height"], ok[0]["width"]) == (300, 300)  # 25% padding each side
    sheet = cv2.imread(str(out / "contact-sheet.png"))
    assert sheet is not None and sheet.shape[0] == 6 * 96
    with pytest.raises(ValueError, match="other settings"):
        profile_labels([labels], out, ProfileSettings(views=3), workers=1, progress=False)


def test_head_renders_ears_and_neck_in_skin_colour(profiler, rng):
    image, shape, expression, pose, colours = _synthetic(profiler, rng)
    head = FaceProfiler(profiler.model, head=True)
    view = View(0.0, 70.0, 0.0)
    face_only = profiler.render(image, shape, expression, pose, view)
    whole = head.render(image, shape, expression, pose, view)
    assert np.array_equal(face_only.landmarks, whole.landmarks)  # the label does not change
    assert whole.face_pixels > 1.1 * face_only.face_pixels
    # a pixel that only the ears or the neck cover takes the colour of the nearest face vertex
    new = to_image_space(profiler.model.vertices(shape, expression), whole.pose).astype(np.float32)
    frags = visible_fragments(new, head._drawn, (SIZE, SIZE), corner_major=True)
    outside = np.isin(head._drawn[:, frags.triangle], head._outside).all(0)
    pixels = frags.pixel[outside]
    assert len(pixels) > 100
    skin = colours.copy()
    skin[head._outside] = colours[head._skin_source]
    tri = head._drawn[:, frags.triangle[outside]]
    expected = sum(skin[tri[k]] * frags.bary[outside, k:k + 1] for k in range(3))
    got = whole.image.reshape(-1, 3)[pixels].astype(float)
    assert np.median(np.abs(got - expected)) < 8


def test_edge_fill_continues_the_background_instead_of_black(profiler, rng):
    image, shape, expression, pose, _ = _synthetic(profiler, rng)
    pad = int(0.25 * SIZE)
    black = profiler.render(image, shape, expression, pose, View(*pose.angles), pad=0.25)
    edge = profiler.render(image, shape, expression, pose, View(*pose.angles), pad=0.25, pad_fill="edge")
    assert black.image.shape == edge.image.shape == (SIZE + 2 * pad, SIZE + 2 * pad, 3)
    corner = (slice(0, pad // 2), slice(0, pad // 2))
    assert black.image[corner].max() == 0
    # the noisy 0-40 background, blurred: its mean, not black
    assert 10 < edge.image[corner].mean() < 30
    # the image itself is not blurred
    inner = (slice(pad, pad + 10), slice(pad, pad + 10))
    assert np.abs(edge.image[inner].astype(int) - image[:10, :10]).mean() < 2
    with pytest.raises(ValueError, match="pad_fill"):
        profiler.render(image, shape, expression, pose, View(*pose.angles), pad=0.25, pad_fill="mirror")


def test_views_made_before_head_and_pad_fill_existed_still_resume(tmp_path):
    old = {"views": 3, "yaws": None, "max_yaw": 90.0, "pitch_jitter": 20.0, "max_pitch": 30.0, "roll_jitter": 15.0,
           "pad": 0.25, "crop": None, "max_residual": 0.15, "seed": 0}
    assert ProfileSettings(views=3).record() == old
    assert ProfileSettings(views=3, head=True, pad_fill="edge").record() == {**old, "pad_fill": "edge", "head": True}


@pytest.mark.parametrize("bad", [{"views": 0}, {"yaws": (0.0, 120.0)}, {"yaws": ()}, {"max_yaw": 0.0},
                                 {"pad": -0.1}, {"crop": 8}, {"pad_fill": "mirror"}])
def test_settings_are_checked(bad):
    with pytest.raises(ValueError):
        ProfileSettings(**bad)


def test_fixed_yaws_with_crops_make_one_emotion_set_per_yaw(profiler, rng, tmp_path):
    root = tmp_path / "lfw" / "images"
    root.mkdir(parents=True)
    rows, csv_lines = [], ["image,identity,emotion"]
    for i in range(3):
        image, shape, expression, pose, _ = _synthetic(profiler, rng)
        cv2.imwrite(str(root / f"p{i}.png"), image)
        rows.append(_row(root / f"p{i}.png", shape, expression, pose, f"id{i}"))
        csv_lines.append(f"p{i}.png,id{i},{['happy', 'sad', 'happy'][i]}")
    (tmp_path / "lfw" / "labels.csv").write_text("\n".join(csv_lines) + "\n")
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "views"
    summary = profile_labels([labels], out, ProfileSettings(yaws=(0.0, 60.0), crop=112), workers=1, progress=False)
    assert summary.inputs == 6 and summary.failed == 0
    made = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    for r in made:
        assert (r["width"], r["height"]) == (112, 112)
        pose = Pose(np.array(r["pose"]["rotation"]), np.array(r["pose"]["translation"]), r["pose"]["scale"])
        verts = profiler.model.vertices(np.array(r["shape"]), np.array(r["expression"]))
        assert np.allclose(pose.project(verts[profiler.model.landmark_indices]), r["landmarks"], atol=0.02)
    sets = load_profiled(out)
    assert [s.name for s in sets] == ["views-yaw0", "views-yaw60"]
    assert sorted(sets[1].labels.tolist()) == ["happy", "happy", "sad"] and sets[1].cropped
    report = tmp_path / "report"
    code = main(["evaluate", "emotion", "--dataset", "profiled", "--root", str(out), "--method", "raw-pixels",
                 "--method", "majority", "--scales", "1", "--report", str(report),
                 "--cache", str(tmp_path / "cache"), "--quiet"])
    assert code == 0
    text = (report / "report.md").read_text()
    assert "## Accuracy against yaw" in text and "| raw-pixels |" in text.split("## Accuracy against yaw")[1]
    assert (report / "accuracy-vs-yaw.png").stat().st_size > 0


def test_random_views_of_a_face_are_stratified_by_yaw():
    settings = ProfileSettings(views=3, max_yaw=90.0, pitch_jitter=30.0, max_pitch=40.0)
    for k in range(20):
        row = {"image": f"face{k}.jpg", "pose": {"pitch": 5.0, "yaw": 0.0, "roll": 2.0}}
        views = settings.plan(row)
        assert [int(abs(v.yaw) // 30) for v in views] == [0, 1, 2]  # one view in each 30-degree band
        assert all(abs(v.pitch) <= 40.0 and abs(v.roll - 2.0) <= 15.0 for v in views)
        assert settings.plan(row) == views  # the same views on a rerun
    signs = {np.sign(v.yaw) for k in range(20) for v in settings.plan({"image": f"f{k}", "pose": {
        "pitch": 0.0, "yaw": 0.0, "roll": 0.0}})}
    assert signs == {-1.0, 1.0}
