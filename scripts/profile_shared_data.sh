#!/usr/bin/env bash
# The turned-head data of the shipped model (issue 13): UTKFace labels, then profiled views of 8,000
# lfw-expressions training faces (one each) and of 2,000 UTKFace faces, and the
# expression-under-pose views of the lfw-expressions validation identities (yaw 0, 30, 60, 75,
# face crops). Needs scripts/label_shared_data.sh's labels first. Everything stays under OUT (out
# of git: it derives from non-redistributable data); re-running resumes.
set -euo pipefail
ok1() { "$@" || [ $? -eq 1 ]; }  # exit 1: some inputs had no face or failed (each has its row)
DATA="${EXPNET_DATA:-../shared/data}"
OUT="${1:-outputs}"
mkdir -p "$OUT/labels" "$OUT/profiled"
ok1 expnet label "$DATA/utkface/images" -o "$OUT/labels/utkface.jsonl" --summary "$OUT/labels/utkface.summary.json"
python -c "from expnet.splits import lfw_validation_identities as v; print('\n'.join(sorted(v())))" \
    > "$OUT/lfw-val-identities.txt"
ok1 expnet profile "$OUT/labels/lfw-expressions.jsonl" -o "$OUT/profiled/lfw-train" \
    --exclude-identities "$OUT/lfw-val-identities.txt" --limit 8000
ok1 expnet profile "$OUT/labels/utkface.jsonl" -o "$OUT/profiled/utkface" --limit 2000
ok1 expnet profile "$OUT/labels/lfw-expressions.jsonl" -o "$OUT/profiled/lfw-val-yaws" \
    --identities "$OUT/lfw-val-identities.txt" --yaws 0 30 60 75 --crop 224
