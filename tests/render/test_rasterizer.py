"""Rasteriser against a brute-force reference; a face rendered at a known pose lands where the
camera says."""

import itertools

import numpy as np

from expnet.render.rasterizer import MeshShader, blend_shading, draw_landmarks, rasterize


def brute_force(vertices, triangles, h, w):
    tri_map = np.full((h, w), -1)
    depth = np.full((h, w), -np.inf)
    for y, x in itertools.product(range(h), range(w)):
        for t, (i, j, k) in enumerate(triangles):
            a, b, c = vertices[i], vertices[j], vertices[k]
            area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
            if abs(area) < 1e-12:
                continue
            w0 = ((b[0] - x) * (c[1] - y) - (b[1] - y) * (c[0] - x)) / area
            w1 = ((c[0] - x) * (a[1] - y) - (c[1] - y) * (a[0] - x)) / area
            w2 = 1 - w0 - w1
            if min(w0, w1, w2) >= 0:
                z = w0 * a[2] + w1 * b[2] + w2 * c[2]
                if z > depth[y, x]:
                    depth[y, x], tri_map[y, x] = z, t
    return tri_map, depth


def test_matches_brute_force_on_a_small_mesh():
    rng = np.random.default_rng(3)
    h, w = 24, 30
    verts = np.c_[rng.uniform(-5, 35, (14, 1)), rng.uniform(-5, 29, (14, 1)), rng.uniform(0, 10, (14, 1))]
    tris = rng.choice(14, (12, 3))
    tris = tris[[len(set(t)) == 3 for t in tris]]
    ref_tri, ref_depth = brute_force(verts, tris, h, w)
    frags = rasterize(verts, tris, (h, w))
    covered = ref_tri >= 0
    assert np.array_equal(frags.mask, covered)
    assert np.allclose(frags.depth[covered], ref_depth[covered], atol=1e-3)
    agree = frags.triangle[covered] == ref_tri[covered]
    # where two triangles tie in depth exactly either may win; elsewhere the same triangle
    ties = np.isclose(frags.depth[covered], ref_depth[covered]) & ~agree
    assert agree.mean() > 0.97 and (agree | ties).all()


def test_large_triangle_is_subdivided_exactly():
    verts = np.array([[2.0, 3.0, 1.0], [90.0, 10.0, 2.0], [20.0, 70.0, 3.0]])
    frags = rasterize(verts, np.array([[0, 1, 2]]), (80, 100))
    ref_tri, ref_depth = brute_force(verts, [(0, 1, 2)], 80, 100)
    assert np.array_equal(frags.mask, ref_tri >= 0)
    assert np.allclose(frags.depth[frags.mask], ref_depth[frags.mask], atol=1e-3)
    # barycentric weights w.r.t. the original triangle reproduce the pixel position
    ys, xs = np.nonzero(frags.mask)
    pos = frags.bary[ys, xs] @ verts[:, :2]
    assert np.allclose(pos, np.c_[xs, ys], atol=1e-3)


def test_synthetic_face_projects_where_the_camera_says(model):
    from expnet.face.pose import Pose, euler_to_rotation
    from expnet.render.reconstruct import reconstruct
    pose = Pose(euler_to_rotation(0.1, -0.5, 0.05), np.array([160.0, 130.0]), 0.0011)
    mesh = reconstruct(model, None, None, pose)
    shader = MeshShader(mesh.triangles, model.n_vertices)
    img, mask = shader.render(mesh.image_vertices, (260, 320))
    lm = pose.project(model.landmarks.vertices())
    # every inner-face landmark (not the jaw contour, which may sit on the silhouette) is covered,
    # and at the nose tip the visible surface is the nose tip's own depth
    inner = np.round(lm[17:]).astype(int)
    assert mask[inner[:, 1], inner[:, 0]].all()
    frags = rasterize(mesh.image_vertices, mesh.triangles, (260, 320))
    tip = model.landmark_indices[30]
    x, y = np.round(mesh.image_vertices[tip, :2]).astype(int)
    assert abs(frags.depth[y, x] - mesh.image_vertices[tip, 2]) < 2.0
    assert 0 < img[mask].min() and img[mask].max() <= 1.0
    pixel, shade = shader.shade(mesh.image_vertices, (260, 320))
    out = draw_landmarks(blend_shading(np.zeros((260, 320), np.uint8), pixel, shade), lm)
    assert out.shape == (260, 320, 3) and out[mask].mean() > 50


def test_back_faces_are_culled():
    verts = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0]])
    front = rasterize(verts, np.array([[0, 2, 1]]), (12, 12), cull_back=True)
    back = rasterize(verts, np.array([[0, 1, 2]]), (12, 12), cull_back=True)
    assert front.mask.any() != back.mask.any()


def test_empty_and_offscreen_meshes_render_nothing():
    assert not rasterize(np.zeros((3, 3)), np.zeros((0, 3), int), (5, 5)).mask.any()
    far = np.array([[100.0, 100.0, 0.0], [110.0, 100.0, 0.0], [100.0, 110.0, 0.0]])
    assert not rasterize(far, np.array([[0, 1, 2]]), (5, 5)).mask.any()


def test_blend_touches_only_the_shaded_pixels():
    image = np.full((4, 5, 3), 100, np.uint8)
    out = blend_shading(image, np.array([0, 7]), np.array([1.0, 0.5], np.float32), colour=(1.0, 1.0, 1.0),
                        alpha=0.75)
    flat = out.reshape(-1, 3)
    assert np.allclose(flat[0], 0.25 * 100 + 0.75 * 255, atol=1)
    assert np.allclose(flat[7], 0.25 * 100 + 0.75 * 127.5, atol=1)
    untouched = np.ones(20, bool)
    untouched[[0, 7]] = False
    assert (flat[untouched] == 100).all() and (image == 100).all()  # the input is not modified
    nothing = blend_shading(image[..., 0], np.zeros(0, np.int64), np.zeros(0, np.float32))
    assert nothing.shape == (4, 5, 3) and (nothing == 100).all()  # e.g. a face off the image
