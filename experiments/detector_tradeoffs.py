"""What the default detector's remaining gaps cost to close (issue 12): `expnet bench detectors`
for BlazeFace with one setting changed at a time.

- ``min_model_px`` (the face width, in model pixels, the finest pass aims for): recall of 40 px
  faces against milliseconds per 640x480 frame;
- ``margin`` (around small images, likely crops): FER-2013 crops found;
- ``mirror_look`` (the second look also scores the mirror image): false faces;
- ``mesh_look`` (FaceMesh's face-presence probability also judges unsure faces), ``mesh_sure``
  (the presence at which FaceMesh keeps a face alone) and ``mesh_veto`` (below which it rules
  one out): false faces (on photos and on faceless crops, smooth colour blobs among them),
  FER-2013 crops found, time;
- the chain ``blazeface,dlib-hog`` (dlib-hog where BlazeFace finds nothing).

    python experiments/detector_tradeoffs.py [--data ../shared/data] [--out reports/experiments/detector-tradeoffs]
"""

import argparse
import json
from pathlib import Path

from expnet.bench.detectors import bench_detectors
from expnet.detection.blazeface import BlazeFaceDetector

KEYS = ("group_recall_by_width", "false_faces_per_100_faceless", "false_faces_per_100_faceless_crops",
        "ms_per_640x480", "ms_per_1280x720_group", "fer2013_validation_as_photos")


def run(data: str, setting: dict, spec: str = "blazeface") -> dict:
    saved = {k: getattr(BlazeFaceDetector, k) for k in setting}
    try:
        for k, v in setting.items():
            setattr(BlazeFaceDetector, k, v)
        row = bench_detectors(data, specs=(spec,), fer_limit=600, progress=False)["detectors"][spec]
    finally:
        for k, v in saved.items():
            setattr(BlazeFaceDetector, k, v)
    return {"spec": spec, "setting": setting, **{k: row.get(k) for k in KEYS}}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--out", default="reports/experiments/detector-tradeoffs")
    args = p.parse_args()
    rows = [run(args.data, {"min_model_px": px}) for px in (14, 16, 18, 20)]
    rows += [run(args.data, {"margin": m}) for m in (0.4, 0.6)]
    rows.append(run(args.data, {"mirror_look": False}))
    rows.append(run(args.data, {"mesh_look": False}))
    rows += [run(args.data, {"mesh_sure": v}) for v in (0.6, 0.9)]
    rows.append(run(args.data, {"mesh_veto": 0.0}))
    rows.append(run(args.data, {}, "blazeface,dlib-hog"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    for r in rows:
        fer = r["fer2013_validation_as_photos"] or {}
        print(r["spec"], r["setting"], "recall", r["group_recall_by_width"], "false", r["false_faces_per_100_faceless"],
              "false on crops", r["false_faces_per_100_faceless_crops"], "ms", r["ms_per_640x480"], "FER",
              fer.get("fraction"))
