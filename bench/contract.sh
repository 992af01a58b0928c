#!/usr/bin/env bash
# The per-frame JSON contract of a tree, for a refactor's "no behaviour change": the demo
# clip's JSONL under 14 settings and `camvideo image --json` of a photo.
#
#   bench/contract.sh TREE OUT [EXTRA...]    e.g. bench/contract.sh /tmp/before /tmp/a; bench/contract.sh . /tmp/b
#   for f in /tmp/a/*.json*; do cmp -s "$f" /tmp/b/"$(basename "$f")" || echo "DIFF $f"; done
#
# TREE's own camvideo runs (PYTHONPATH=TREE) with this checkout's .venv; EXTRA is added to
# every `process` (e.g. --gate 0 to compare with trees from before the 5% default gate).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TREE=$(cd "$1" && pwd); OUT=$2; shift 2
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
PY=$ROOT/.venv/bin/python
CLIP=$ROOT/camvideo/resources/demo.mp4
PHOTO=$ROOT/tests/data/chelsea.png
run() {
    local name=$1; shift
    (cd "$OUT" && PYTHONPATH=$TREE "$PY" -m camvideo process "$CLIP" --export "$OUT/$name.jsonl" --no-progress \
        "$@" "${EXTRA[@]}" > "$OUT/$name.log" 2>&1) || echo "FAIL $name (see $OUT/$name.log)"
}
EXTRA=("$@")
run default
run top3 --topk 3
run fast --quality fast --topk 2
run best --quality best --topk 3
run best4 --quality best --topk 2 --batch-size 4 --no-motion
run nosmooth --no-smooth --topk 3
run nosmooth4 --no-smooth --topk 3 --batch-size 4
run nomotion --no-motion
run torch --runtime torch --topk 3
run batch4 --batch-size 4 --topk 3
run class --class 285 --class 281
run allboxes --topk 2 --components all
(cd "$OUT" && PYTHONPATH=$TREE "$PY" -m camvideo image "$PHOTO" -o "$OUT/image.png" --json "$OUT/image.json" \
    > "$OUT/image.log" 2>&1) || echo "FAIL image"
(cd "$OUT" && PYTHONPATH=$TREE "$PY" -m camvideo image "$PHOTO" -o "$OUT/image_best.png" --quality best --topk 3 \
    --json "$OUT/image_best.json" > "$OUT/image_best.log" 2>&1) || echo "FAIL image_best"
ls "$OUT"/*.json* | wc -l
