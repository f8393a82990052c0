#!/usr/bin/env bash
# Every GPU figure of reconstruction in one command, on a machine with a CUDA device:
#
#     OUT=gpu-results bash benchmarks/gpu.sh
#
# Needs braindecode's dependencies with a CUDA build of torch and onnxruntime-gpu (the CUDA execution
# provider). Writes to $OUT (default ./gpu-results):
#   device.txt             nvidia-smi, torch / onnxruntime versions and providers, date
#   gpu-tests.log          pytest -m gpu: torch on CUDA against the CPU, ONNX Runtime CUDA fp16 + I/O binding
#                          against torch, the memory bound against torch.cuda.max_memory_allocated, per family
#   bench-fp16.log         ONNX Runtime CUDA fp16 against torch eager fp16, same model, batch and seed, at 1 and
#                          4 steps: the shipped default model, then the Kandinsky 2.2 decoder and Stable unCLIP 2.1
#                          architectures (random weights) at 512 x 512; with the memory estimate against the peak
#   bench-fp32-memory.log  the two architectures in float32 at 512 x 512: memory estimate against the peak
# Each step runs even when an earlier one fails; the exit status is that of the first failure.
set -u -o pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-results}
PYTHON=${PYTHON:-python3}
BATCH=${BATCH:-4}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
CACHE=$(mktemp -d)  # ONNX exports of the 512 x 512 architectures take gigabytes: not in $OUT
trap 'rm -rf "$CACHE"' EXIT
status=0

step() {  # step LOG COMMAND...: run, tee to $OUT/LOG, remember the first failure
    local log=$1
    shift
    echo "== $*" | tee "$OUT/$log"
    "$@" 2>&1 | tee -a "$OUT/$log"
    local rc=${PIPESTATUS[0]}
    echo "== exit status $rc" | tee -a "$OUT/$log"
    if [ "$rc" -ne 0 ] && [ "$status" -eq 0 ]; then status=$rc; fi
}

{
    date -u +"%Y-%m-%dT%H:%M:%SZ"
    if command -v nvidia-smi >/dev/null; then nvidia-smi; else echo "nvidia-smi not found"; fi
    "$PYTHON" - <<'EOF'
import onnxruntime, torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
print("onnxruntime", onnxruntime.__version__, onnxruntime.get_available_providers())
EOF
} > "$OUT/device.txt" 2>&1
cat "$OUT/device.txt"
if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "no CUDA device visible to torch: nothing to measure (see $OUT/device.txt)" >&2
    exit 1
fi

step gpu-tests.log "$PYTHON" -m pytest -p no:cacheprovider -q -m gpu -rs tests/reconstruction
step bench-fp16.log "$PYTHON" benchmarks/bench_reconstruction.py --device cuda --dtype float16 --batch "$BATCH" \
    --repeats 5 --measure both --cache-dir "$CACHE" --model models/reconstruction-default \
    --architecture kandinsky22 --architecture unclip21 --image-size 512
step bench-fp32-memory.log "$PYTHON" benchmarks/bench_reconstruction.py --device cuda --dtype float32 \
    --batch "$BATCH" --measure memory \
    --architecture kandinsky22 --architecture unclip21 --image-size 512
exit "$status"
