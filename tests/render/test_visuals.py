"""expnet render / figure / predict --render on a registry sample face (tiny untrained network)."""

import numpy as np
import pytest

from expnet.assets.samples import sample_path
from expnet.cli import main


def test_render_image_writes_overlay_frontal_and_a_clean_mesh(onnx_model, tmp_path, model):
    trimesh = pytest.importorskip("trimesh")
    out = tmp_path / "r"
    assert main(["render", str(sample_path("takeo.ppm")), "--out", str(out), "--model", str(onnx_model),
                 "--quiet"]) == 0
    assert (out / "takeo_face0_overlay.png").stat().st_size > 5000
    assert (out / "takeo_face0_expression.png").stat().st_size > 5000
    # trimesh's default loader drops unreferenced vertices: every vertex must be in a triangle
    assert len(trimesh.load(out / "takeo_face0.obj").vertices) == model.n_vertices
    mesh = trimesh.load(out / "takeo_face0.obj", process=False, maintain_order=True)
    assert len(mesh.vertices) == model.n_vertices
    assert len(mesh.faces) == len(model.triangles)
    # every edge shared by at most two triangles, each in opposite directions: consistently wound
    edges = np.sort(mesh.edges_unique, axis=1)
    assert len(edges) == len(mesh.edges_unique)
    assert mesh.is_winding_consistent
    assert (mesh.area_faces > 0).all()


def test_render_folder_reports_bad_files_and_writes_ply(onnx_model, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "bad.jpg").write_bytes(b"nope")
    import shutil
    shutil.copy(sample_path("takeo.ppm"), src / "takeo.ppm")
    out = tmp_path / "r"
    assert main(["render", str(src), "--out", str(out), "--model", str(onnx_model), "--mesh-format", "ply",
                 "--quiet"]) == 1  # the bad file failed: the documented status
    assert (out / "takeo_face0.ply").exists() and not list(out.glob("bad*"))


def test_render_video_writes_mp4(onnx_model, tmp_path):
    import cv2
    from conftest import sample_video
    path = sample_video(tmp_path / "clip.avi", 3)
    out = tmp_path / "r"
    assert main(["render", str(path), "--out", str(out), "--model", str(onnx_model), "--quiet"]) == 0
    cap = cv2.VideoCapture(str(out / "clip_overlay.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3


def test_predict_render_and_paper_figure(onnx_model, tmp_path):
    out = tmp_path / "p"
    assert main(["predict", str(sample_path("takeo.ppm")), "--model", str(onnx_model), "-o",
                 str(tmp_path / "p.jsonl"), "--render", str(out), "--quiet"]) == 0
    assert (out / "takeo_face0_overlay.png").exists()
    fig = tmp_path / "fig.png"
    assert main(["figure", str(sample_path("takeo.ppm")), "--out", str(fig), "--model", str(onnx_model)]) == 0
    from PIL import Image
    w, h = Image.open(fig).size
    assert w > 800 and h > 300  # 5 columns, 2 rows (scales 1.0 and 0.2)
