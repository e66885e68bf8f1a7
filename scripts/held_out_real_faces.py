"""The held-out lfw-expressions faces as photographed (no rendering), labelled with the FaceMesh
teacher's pose (rows where FaceMesh found no face, labelled by the 2D fit, are left out), as a
``--pose-views`` folder for ``expnet evaluate compare``.

The profiled views test a pose network on rendered heads; AFLW2000-3D's 16 samples are real but too
few to tell networks apart. These are real photos of identities no training sees (the lfw split's
validation identities), about 1,280 of them, mostly near frontal. Their label is what the pose-mesh
networks learn from on the training identities (``scripts/label_mesh_pose.sh``), so the test says
how far a network drifts from its teacher on real bare faces (e.g. after training with glasses),
not how close either is to the truth.

    python scripts/held_out_real_faces.py outputs/labels/lfw-expressions-meshpose.jsonl outputs/real/lfw-val-meshpose
"""

import argparse
from pathlib import Path

from expnet.io.labels import is_fitted, iter_rows, write_rows
from expnet.splits import lfw_validation_identities


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("labels", type=Path, help="a label file of lfw-expressions (expnet label, pose from FaceMesh)")
    ap.add_argument("out", type=Path, help="the folder to write (its labels.jsonl)")
    args = ap.parse_args()
    held_out = lfw_validation_identities()
    rows = [r for r in iter_rows(args.labels)
            if is_fitted(r) and r.get("identity") in held_out and r["pose"].get("source") == "mesh"
            and Path(r["image"]).exists()]
    if not rows:
        raise SystemExit(f"{args.labels} has no row of a held-out identity with FaceMesh's pose and its image")
    write_rows(rows, args.out / "labels.jsonl")
    identities = len({r["identity"] for r in rows})
    print(f"{len(rows)} held-out faces of {identities} identities -> {args.out / 'labels.jsonl'}")


if __name__ == "__main__":
    main()
