#!/usr/bin/env bash
# What a lent GPU machine needs to run benchmarks/gpu_check.sh, gathered here into .gpu/
# (git-ignored; about 25 MB). That machine reaches no network and brings its own Python 3.12
# with PyTorch, NumPy, SciPy, scikit-learn, matplotlib, pytest and more, but not the packages
# below: they travel as wheels for it, at the versions this checkout's .venv tests with. The
# MNIST and MNIST-1D caches travel gzipped (the datasets themselves are never committed).
#
#   bash scripts/setup.sh        # once: .venv, and the datasets' caches
#   bash scripts/gpu_kit.sh      # then the device tool runs `bash benchmarks/gpu_check.sh`
#                                # with carry [".gpu"]
set -euo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
[ -x "$python" ] || { echo "gpu_kit: no .venv here; run bash scripts/setup.sh first" >&2; exit 1; }

# lowcap's dependencies and the tests' that the GPU image lacks (its package list:
# the device tool's KINDS.md), each with what it needs beyond that image.
packages=(pydantic pydantic-core annotated-types typing-inspection typing-extensions captum
          openTSNE mnist1d foolbox eagerpy GitPython gitdb smmap)
read -ra pinned < <("$python" -c "import importlib.metadata as m, sys
print(*(f'{name}=={m.version(name)}' for name in sys.argv[1:]))" "${packages[@]}")

kit=.gpu
mark=made-by-gpu_kit  # only a folder this script made is ever replaced
for folder in "$kit" "$kit.tmp"; do
    if [ -e "$folder" ] && [ ! -e "$folder/$mark" ]; then
        echo "gpu_kit: $folder exists and was not made by this script; move it away first" >&2
        exit 1
    fi
done
rm -rf "$kit.tmp"
mkdir -p "$kit.tmp/wheels" "$kit.tmp/cache"
touch "$kit.tmp/$mark"
# KIT_PYTHON: the target's Python (the GPU image's is 3.12; another only for a dry run here).
"$python" -m pip download -q --no-deps --only-binary=:all: --python-version "${KIT_PYTHON:-3.12}" \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$kit.tmp/wheels" "${pinned[@]}"

# The caches the paper profile reads (made here first where missing).
"$python" - "$kit.tmp/cache" <<'EOF'
import gzip, shutil, sys
from pathlib import Path
from lowcap.data import load_mnist
from lowcap.data.catalog import mnist1d
from lowcap.data.loading import default_cache_dir

mnist1d()
files = [load_mnist(progress=False).cache_file, *default_cache_dir().glob("mnist1d-*.npz")]
for path in files:
    with path.open("rb") as source, gzip.open(Path(sys.argv[1]) / f"{path.name}.gz", "wb") as kept:
        shutil.copyfileobj(source, kept)
EOF
rm -rf "$kit"
mv "$kit.tmp" "$kit"
du -sh "$kit"
