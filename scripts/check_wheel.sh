#!/usr/bin/env bash
# The release check: build the sdist and wheel, install the wheel into a fresh environment made by
# uv (which has no pip in it), with an empty asset cache, and run the main job there.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
python -m build --sdist --wheel -o "$WORK/dist" . > "$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
uv venv -q "$WORK/env" -p "$(python -c 'import sys; print(sys.executable)')"
VIRTUAL_ENV="$WORK/env" uv pip install -q "$WORK"/dist/expnet-*.whl
if "$WORK/env/bin/python" -c "import pip" 2>/dev/null; then echo "the uv environment has pip: not the case under test"; exit 1; fi
"$WORK/env/bin/expnet" --version
EXPNET_CACHE="$WORK/cache" "$WORK/env/bin/expnet" predict --sample > "$WORK/row.jsonl"
"$WORK/env/bin/python" -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['faces'], r; print('wheel OK:', len(r['faces']), 'faces')" "$WORK/row.jsonl"
