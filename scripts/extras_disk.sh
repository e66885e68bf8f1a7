#!/usr/bin/env bash
# What each extra of expnet costs on disk: a fresh virtual environment per extra (the base install
# alone, then base + the extra), its size in MB as JSON lines. Usage: scripts/extras_disk.sh [OUT]
# (default reports/install/extras.jsonl). Uses pip, as the README's commands do; torch (train)
# resolves to whatever build this machine's pip takes (here the CPU wheel).
set -euo pipefail
OUT="${1:-reports/install/extras.jsonl}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
for extra in "" landmarks plots parquet ray serve train docs test dev all; do
  venv="$WORK/venv-${extra:-base}"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "$ROOT${extra:+[$extra]}" > "$WORK/log" 2>&1 || {
    echo "{\"extra\": \"${extra:-base}\", \"error\": \"install failed\"}" >> "$OUT"; continue; }
  mb=$(du -sm "$venv" | cut -f1)
  torch=$("$venv/bin/python" -c "import importlib.util as u; print(u.find_spec('torch') is not None)")
  echo "{\"extra\": \"${extra:-base}\", \"venv_mb\": $mb, \"torch\": ${torch,,}}" | tee -a "$OUT"
  rm -rf "$venv"
done
