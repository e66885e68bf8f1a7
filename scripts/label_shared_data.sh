#!/usr/bin/env bash
# Label the shared training faces (lfw-expressions with identities, FER-2013 train) into
# outputs/labels/. The label files derive from non-redistributable data: they stay out of git.
# Re-running resumes an interrupted run.
set -euo pipefail
# expnet label exits 1 when some images have no face (each has its row): that is not a failure here.
label() { expnet label "$@" || [ $? -eq 1 ]; }
DATA="${EXPNET_DATA:-../shared/data}"
OUT="${1:-outputs/labels}"
mkdir -p "$OUT"
label "$DATA/lfw-expressions/images" --identities "$DATA/lfw-expressions/labels.csv" \
    -o "$OUT/lfw-expressions.jsonl" --summary "$OUT/lfw-expressions.summary.json"
label "$DATA/fer2013/train" \
    -o "$OUT/fer2013-train.jsonl" --summary "$OUT/fer2013-train.summary.json"
