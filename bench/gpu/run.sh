#!/usr/bin/env bash
# GPU bench: build (or reuse) the CUDA kernels, check every kernel against CPU references, time
# grouped attention at N = 578k against PyTorch, print one table. Results land in $OUT (default
# out/gpu). Node: `node` on PATH, or .device/node.xz (unpacked to /tmp). Bundle: .device/bench.mjs
# and .device/report.mjs (made by `bench/gpu/run.sh bundle` on a machine with node_modules).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-out/gpu}
mkdir -p "$OUT" /tmp/moga-plans
if [ "${1:-}" = bundle ]; then
  mkdir -p .device
  for f in main report; do
    node_modules/.bin/esbuild "bench/gpu/$f.ts" --bundle --platform=node --format=esm --external:koffi \
      --outfile=".device/$([ $f = main ] && echo bench || echo report).mjs" --log-level=warning || exit 1
  done
  exit 0
fi
NODE=$(command -v node || true)
if [ -z "$NODE" ] && [ -f .device/node.xz ]; then xz -dc .device/node.xz > /tmp/node && chmod +x /tmp/node; NODE=/tmp/node; fi
[ -n "$NODE" ] || { echo "no node"; exit 1; }
if command -v nvcc >/dev/null && [ -z "${SKIP_BUILD:-}" ]; then "$NODE" scripts/build.mjs cuda || exit 1; fi
SMI=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
echo "nvidia-smi: $SMI"
# cuBLASLt for the matmul op: the toolkit's, or the one PyTorch's wheels carry
CUBLAS_DIR=$(python3 -c "import nvidia.cublas as c, os; print(os.path.join(list(c.__path__)[0], 'lib'))" 2>/dev/null)
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}:/usr/local/cuda/lib64:${CUBLAS_DIR}"
export MOGA_CUDA_KERNELS=${MOGA_CUDA_KERNELS:-$PWD/build/cuda} OUT
BENCH=.device/bench.mjs; [ -f "$BENCH" ] || BENCH="--import tsx bench/gpu/main.ts"
timeout "${NODE_TIMEOUT_S:-240}" "$NODE" $BENCH 2>&1 | tee "$OUT/moga-stdout.log"
rc=${PIPESTATUS[0]}
if command -v python3 >/dev/null && [ -z "${SKIP_TORCH:-}" ]; then
  PYTHONUNBUFFERED=1 python3 bench/gpu/torch_baseline.py /tmp/moga-plans "$OUT/torch.json" "${TORCH_BUDGET_S:-120}" 2>&1 | tail -40
fi
REPORT=.device/report.mjs; [ -f "$REPORT" ] || REPORT="--import tsx bench/gpu/report.ts"
"$NODE" $REPORT "$OUT" "$SMI"
exit $rc
