#!/usr/bin/env bash
# The GPU checks benchmarks/README.md lists as unmeasured, in one call on a lent GPU machine
# (at most 8 minutes there; a session's 15 minutes of device time leave room for a second):
#
#   bash scripts/gpu_kit.sh                      # here: the wheels and data caches, into .gpu/
#   device run: bash benchmarks/gpu_check.sh     # there, with carry [".gpu"], timeout_s 500
#
# There: the CUDA tests (CUDA-graph training equal to eager, no host synchronisation in an
# epoch), bench_gpu.py, and the paper profile on the GPU, run again with the data and kernels
# warm where the first run left time (the <= 15 s target), each run with bench_phases.py's table
# against the GPU's GEMM peaks. Everything it prints lands in $OUT/gpu_check.log, each run's
# summary.json and phase table beside it ($OUT is the device tool's; elsewhere runs/gpu_check).
#
# A dry run on a CPU (the kit complete, every step working), in an environment with the GPU
# image's packages alone (torch, numpy, scipy, scikit-learn, scikit-image, matplotlib, pandas,
# click, pyyaml, safetensors, tqdm, threadpoolctl, jinja2, filelock, pytest, hypothesis,
# torchmetrics, requests, setuptools) and a kit made for its Python:
#   KIT_PYTHON=3.11 bash scripts/gpu_kit.sh
#   GPU_CHECK_DEVICE=cpu GPU_CHECK_PROFILE=smoke bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
export GPU_CHECK_DEVICE=${GPU_CHECK_DEVICE:-cuda} GPU_CHECK_PROFILE=${GPU_CHECK_PROFILE:-paper}
export out=${OUT:-runs/gpu_check}
mkdir -p "$out"
[ -d .gpu/wheels ] || { echo "gpu_check: no .gpu/ kit; run bash scripts/gpu_kit.sh here" \
    "and carry .gpu" >&2; exit 1; }

export site
site=$(mktemp -d)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" \
    .gpu/wheels/*.whl || exit 1
export PYTHONPATH="$PWD/src:$site" PYTHONUNBUFFERED=1 LOWCAP_CACHE_DIR="$site/cache"
mkdir -p "$LOWCAP_CACHE_DIR"
for kept in .gpu/cache/*.gz; do
    gunzip -c "$kept" > "$LOWCAP_CACHE_DIR/$(basename "${kept%.gz}")"
done

paper() {  # paper NAME: the profile on the device, then its phase table
    local run="$site/$1"
    python3 -m lowcap.cli reproduce --profile "$GPU_CHECK_PROFILE" --device "$GPU_CHECK_DEVICE" \
        --fresh --quiet --out "$run" \
        && cp "$run/summary.json" "$out/summary_$1.json" \
        && python3 benchmarks/bench_phases.py "$run" | tee "$out/phases_$1.txt"
}
export -f paper

took=0
step() {  # step SECONDS NAME COMMAND: one check, timed (in $took); a failure stops no other
    echo "=== $2"
    local start=$SECONDS
    timeout "$1" bash -c "$3"
    local code=$?
    took=$((SECONDS - start))
    echo "=== $2: exit $code, $took s"
}

{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    python3 -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda)"
    step 60 "CUDA tests" "python3 -m pytest -q -rs -p no:cacheprovider \
        tests/training/test_sync_free.py"
    step 90 "bench_gpu.py" "python3 benchmarks/bench_gpu.py --device $GPU_CHECK_DEVICE"
    step 240 "$GPU_CHECK_PROFILE profile, first run" "paper cold"
    if [ -f "$out/summary_cold.json" ] && [ "$took" -le 60 ]; then  # time for a second
        step 60 "$GPU_CHECK_PROFILE profile, warm" "paper warm"
    fi
} 2>&1 | tee "$out/gpu_check.log"
