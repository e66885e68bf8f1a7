#!/usr/bin/env bash
# Export the turned-head candidates (scripts/train_turned_heads.sh) with their cards and logs into
# reports/experiments/turned-heads/<name>/, join pose and expression networks into two-network
# models, and score every candidate on the same items against the references (expnet evaluate
# compare: paired McNemar tests against each, their mean as the bar, pose tables, predicted over
# true yaw). The references are the shipped recipe's two seeds (its expression network's seeds 1,
# shipped, and 0, each beside the shipped pose network); the previously shipped one-network model
# is scored beside them. Candidates already exported are not exported again.
#
#   scripts/compare_turned_heads.sh RUN [RUN ...]           # e.g. joint-s0
#   SPLIT="expression-s2:pose-wide-s0" scripts/compare_turned_heads.sh   # also that two-network model
#   REFERENCES="expression-s1:pose-vertex-s0" REPORT=compare-x scripts/compare_turned_heads.sh ...
#
# Checkpoints stay in outputs/train/turned-heads/ (out of git); what lands in reports/ is small:
# the ONNX (a few MB), MODEL_CARD.md, the training log and curves.
set -euo pipefail
DATA="${EXPNET_DATA:-../shared/data}"
RUNS=outputs/train/turned-heads
OUT=reports/experiments/turned-heads
PREVIOUS="$OUT/previous-shipped/expnet.onnx"  # the one-network model shipped before
# the default is the recipe shipped in rounds one and two, so that their documented commands
# reproduce; in rounds three and four the shipped recipe was expression-s1:pose-mix-s1 expression-s0:pose-mix-s0,
# in round five expression-s1:pose-mix-big-s1 expression-s0:pose-mix-big-s0, since round six
# expression-s1:pose-mesh-big-s2 expression-s0:pose-mesh-big-s1, from round eleven
# expression-s1:pose-mesh-big-glasses10-long-s0 expression-s1:pose-mesh-big-glasses10-long-s1 (committed
# models: a pair whose folder holds its model is not exported again, so no checkpoint is needed)
REFERENCES="${REFERENCES:-expression-s1:pose-vertex-s0 expression-s0:pose-vertex-s0}"
REPORT="${REPORT:-compare-seeds}"  # compare/: the first round, against the previous model
mkdir -p "$OUT"
split() {  # export the two-network model EXPRESSION_RUN:POSE_RUN once; print its path
  local expr="${1%%:*}" pose="${1##*:}"; local name="split-$expr+$pose" from
  mkdir -p "$OUT/$name"
  if [ ! -s "$OUT/$name/expnet.onnx" ]; then
    from="$RUNS/$expr/best.pt"
    if [ ! -s "$from" ]; then  # its checkpoint gone: the expression network of a committed model of it
      from=$(ls "$OUT/split-$expr+"*/expnet.onnx 2> /dev/null | grep -v -e -mirror/ -e -average | head -1) ||
        { echo "no checkpoint of $expr and no committed model with its expression network" >&2; exit 2; }
    fi
    expnet export "$from" --pose-from "$RUNS/$pose/best.pt" -o "$OUT/$name/expnet.onnx" --card >&2
  fi
  echo "$OUT/$name/expnet.onnx"
}
references=()
for pair in $REFERENCES; do references+=(--reference "$(split "$pair")"); done
models=("$PREVIOUS")
for name in "$@"; do
  mkdir -p "$OUT/$name"
  [ -s "$OUT/$name/expnet.onnx" ] || expnet export "$RUNS/$name/best.pt" -o "$OUT/$name/expnet.onnx" --card
  models+=("$OUT/$name/expnet.onnx")
done
for pair in ${SPLIT:-}; do models+=("$(split "$pair")"); done
# the rotation view by view on random views of the held-out identities, face-only and with the head
POSE_VIEWS="${POSE_VIEWS:-outputs/profiled/lfw-val-3v outputs/profiled/lfw-val-head-3v}"
expnet evaluate compare "${models[@]}" "${references[@]}" --data "$DATA" \
  --aflw "$DATA/aflw2000-samples" --profiled outputs/profiled/lfw-val-yaws --pose-views $POSE_VIEWS \
  --report "$OUT/$REPORT" --quiet
