#!/usr/bin/env bash
# The pose network's real faces labelled with FaceMesh's pose (`expnet label --pose mesh`): the
# rows of scripts/label_shared_data.sh (and the UTKFace labels of scripts/profile_shared_data.sh),
# the same detector, dlib landmarks and fit (dlib sees OpenCV's grey of the colour image, so on
# UTKFace's colour images its points can move slightly), but the rotation fitted to FaceMesh's 3D
# points, where the 2D fit reads steep pitches flatter. outputs/labels/*-meshpose.jsonl (not in git). Resumable.
set -euo pipefail
# expnet label exits 1 when some images have no face (each has its row): that is not a failure here.
label() { expnet label --pose mesh "$@" || [ $? -eq 1 ]; }
DATA="${EXPNET_DATA:-../shared/data}"
OUT="${1:-outputs/labels}"
mkdir -p "$OUT"
label "$DATA/lfw-expressions/images" --identities "$DATA/lfw-expressions/labels.csv" \
    -o "$OUT/lfw-expressions-meshpose.jsonl" --summary "$OUT/lfw-expressions-meshpose.summary.json"
label "$DATA/utkface/images" \
    -o "$OUT/utkface-meshpose.jsonl" --summary "$OUT/utkface-meshpose.summary.json"
label "$DATA/fer2013/train" \
    -o "$OUT/fer2013-train-meshpose.jsonl" --summary "$OUT/fer2013-train-meshpose.summary.json"
