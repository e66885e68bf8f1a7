"""How many extra expression components (issue 18)? 5-NN emotion accuracy of the landmark fit with
10 + K expression coefficients, K learned by :mod:`expnet.teacher.components` from the training
label files, on CK+48 peak frames (leave-one-clip-out), FER-2013 validation (leave-one-image-out)
and lfw-expressions validation identities (leave-one-identity-out), at full size and x0.2, with the
same face boxes as ``expnet evaluate emotion``'s dlib-fit. Also: the ten of a 10 + K fit alone (do
they keep their meaning?), and components learned without the identity-mean step or only from the
rows with an identity.

    python experiments/extra_components.py outputs/labels/lfw-expressions.jsonl \
        outputs/labels/fer2013-train.jsonl > reports/experiments/extra-components/results.md

Label files from ``scripts/label_shared_data.sh``; lfw-expressions' validation identities are left
out of the learning. Reads the evaluation sets from EXPNET_DATA (default ../shared/data). About
5 min on 2 cores. An experiment, not part of the product.
"""

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from expnet.assets.datasets import emotion_benchmarks
from expnet.evaluation.datasets import load_dataset
from expnet.evaluation.knn import knn_leave_group_out, pool
from expnet.evaluation.methods import face_box_at_scale
from expnet.face.extra_basis import extend
from expnet.face.model import FaceModel
from expnet.io.pools import worker_map
from expnet.splits import lfw_validation_identities
from expnet.teacher.components import learn_components
from expnet.teacher.fitting import LandmarkFitter
from expnet.teacher.landmarks import DlibLandmarker

KS = (0, 5, 10, 15, 20, 30, 40)
SCALES = (1.0, 0.2)
class _Landmarks:
    def __init__(self):
        self.landmarker = DlibLandmarker()

    def __call__(self, job) -> np.ndarray:
        path, cropped, scale = job
        gray, box = face_box_at_scale(path, scale, cropped, False, None)
        return self.landmarker.predict(gray, box)


def accuracy(data, features) -> float:
    x, y, g, _ = pool(features, data.labels, data.groups, data.clips)
    return 100 * knn_leave_group_out(x, y, g)[1].accuracy


def features(model, pts: np.ndarray, extra) -> np.ndarray:
    """Whitened expression coefficients of a 10 + K fit (K = 0: today's fit)."""
    m = model if extra.k == 0 else extend(model, extra)
    e = LandmarkFitter(m).fit(pts).expression
    return (e - m.expression_mean) / m.expression_std


def main() -> None:
    root = Path(os.environ.get("EXPNET_DATA", "../shared/data"))
    model = FaceModel.load().landmarks
    held_out = lfw_validation_identities()
    rows = []
    for path in sys.argv[1:]:
        for line in open(path):
            r = json.loads(line)
            if r.get("identity") not in held_out:
                rows.append(r)
    t0 = time.perf_counter()
    source = " + ".join(Path(p).name.split(".")[0] for p in sys.argv[1:])
    learned = {"with identities only": learn_components([r for r in rows if r.get("identity")], model, 20),
               "no identity-mean step": learn_components([{**r, "identity": None} for r in rows], model, 20)}
    main_extra = learn_components(rows, model, max(KS))
    print(f"Components learned from {source} (validation identities left out): {main_extra.faces} fitted "
          f"faces (|yaw|, |pitch| <= 30) of {len(rows)} label rows in "
          f"{time.perf_counter() - t0:.1f} s; prior std of the components: "
          + ", ".join(f"{v:.4f}" for v in main_extra.std[:12]) + ", ...\n")

    sets = emotion_benchmarks(root)
    columns, table = [], {}
    for name, path in sets:
        data = load_dataset(name, path)
        for scale in SCALES:
            columns.append(f"{data.name} x{scale:g}")
            pts = np.array(list(worker_map(_Landmarks, (), [(str(p), data.cropped, scale) for p in data.paths],
                                           os.cpu_count() or 1, chunksize=32)))

            for k in KS:
                table.setdefault(f"10 + {k}" if k else "10 (today's fit)", []).append(
                    accuracy(data, features(model, pts, main_extra.first(k))))
            table.setdefault("the ten of a 10 + 20 fit", []).append(
                accuracy(data, features(model, pts, main_extra.first(20))[:, :10]))
            for label in ("with identities only", "no identity-mean step"):
                table.setdefault(f"10 + 20 ({label})", []).append(
                    accuracy(data, features(model, pts, learned[label])))
    print("| teacher features (dlib 68 + fit, whitened) | " + " | ".join(columns) + " | mean |")
    print("|---|" + "---|" * (len(columns) + 1))
    for label, accs in table.items():
        print(f"| {label} | " + " | ".join(f"{a:.1f}" for a in accs) + f" | {np.mean(accs):.1f} |")


if __name__ == "__main__":
    main()
