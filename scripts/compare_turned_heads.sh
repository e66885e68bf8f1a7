#!/usr/bin/env bash
# Export the turned-head candidates (scripts/train_turned_heads.sh) with their cards and logs into
# reports/experiments/turned-heads/<name>/, join pose and expression networks into two-network
# models, and score every candidate on the same items against the previously shipped model
# (expnet evaluate compare: paired McNemar tests, pose tables, predicted over true yaw). Candidates
# already exported are not exported again.
#
#   scripts/compare_turned_heads.sh RUN [RUN ...]           # e.g. pose-vertex-s0 expression-s0 joint-s0
#   SPLIT="expression-s0:pose-vertex-s0" scripts/compare_turned_heads.sh ...   # also that two-network model
#
# Checkpoints stay in outputs/train/turned-heads/ (out of git); what lands in reports/ is small:
# the ONNX (a few MB), MODEL_CARD.md, the training log and curves.
set -euo pipefail
DATA="${EXPNET_DATA:-../shared/data}"
RUNS=outputs/train/turned-heads
OUT=reports/experiments/turned-heads
SHIPPED="${SHIPPED:-$OUT/previous-shipped/expnet.onnx}"  # the one-network model shipped before
mkdir -p "$OUT"
models=()
for name in "$@"; do
  mkdir -p "$OUT/$name"
  [ -s "$OUT/$name/expnet.onnx" ] || expnet export "$RUNS/$name/best.pt" -o "$OUT/$name/expnet.onnx" --card
  models+=("$OUT/$name/expnet.onnx")
done
for pair in ${SPLIT:-}; do
  expr="${pair%%:*}"; pose="${pair##*:}"; name="split-$expr+$pose"
  mkdir -p "$OUT/$name"
  [ -s "$OUT/$name/expnet.onnx" ] ||
    expnet export "$RUNS/$expr/best.pt" --pose-from "$RUNS/$pose/best.pt" -o "$OUT/$name/expnet.onnx" --card
  models+=("$OUT/$name/expnet.onnx")
done
expnet evaluate compare "$SHIPPED" "${models[@]}" --reference "$SHIPPED" --data "$DATA" \
  --aflw "$DATA/aflw2000-samples" --profiled outputs/profiled/lfw-val-yaws --report "$OUT/compare" --quiet
