#!/bin/bash
# Every GPU measurement of issue 15 in one run, for a session that is lent a GPU machine.
#
# 1. On the CPU machine, in the repository root (fetches the two wheels the GPU machine's
#    image lacks or may have too old, for its Python 3.12, into .whl/, which git ignores):
#        bash benchmarks/gpu_session.sh --fetch-wheels
# 2. The device call (expected about 5 minutes; the steps' limits add up to 8):
#        run(command="bash benchmarks/gpu_session.sh", carry=[".whl"], timeout_s=540)
#    Rows are printed as they are measured, so a step cut by its limit still leaves its
#    finished rows in gpu_session.log.
# 3. Copy what comes back from $OUT into benchmarks/results/ (training_h200_*.{json,md}) and
#    publish the figures in benchmarks/README.md ("Training on a GPU").
#
# Each step has its own time limit, so one that hangs does not take the others with it; the
# steps run most important first. Written to $OUT (at most 8 files come back):
#   gpu_session.log           everything printed, with the machine and package versions
#   cuda_tests.log            tests/test_cuda_training.py (the CUDA code paths)
#   training_cuda_options.*   plain loop vs ours at batch 16/64/256, each option switched
#   training_cuda_fma.*       one FMA-small-sized fit (6400 x 128 x 1292, 10 epochs)
#   training_cuda_profile.md  per-phase CUDA-event times: ours, skorch's own path, plain
#   training_cuda_models.md   the four networks, naive/plain/ours, and ours vs skorch's path
set -u

if [ "${1:-}" = "--fetch-wheels" ]; then
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl skorch==1.4.0 scikit-learn==1.9.1
    exit $?
fi

OUT=${OUT:-benchmarks/out/gpu}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_session.log") 2>&1
export PYTHONUNBUFFERED=1
start=$(date +%s)
step() { echo; echo "=== $1 ($(( $(date +%s) - start )) s since start)"; }

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv
nproc
python3 -c "import sys, torch; print(sys.version); print('torch', torch.__version__, \
'cuda', torch.version.cuda, torch.cuda.is_available(), torch.cuda.get_device_name())" || exit 1

step "packages"
# The machine's torch, numpy, scipy, pandas, joblib, tqdm, tabulate are used as they are.
# skorch is not in its image: install the carried wheel; scikit-learn only if older than 1.6.
SITE=/tmp/site
mkdir -p $SITE
python3 -c "import skorch" 2>/dev/null || \
    python3 -m pip install -q --no-index --no-deps --no-compile --target $SITE .whl/skorch-*.whl \
    || { echo "skorch missing: run 'bash benchmarks/gpu_session.sh --fetch-wheels' first"; exit 1; }
python3 - <<'EOF' || python3 -m pip install -q --no-index --no-deps --no-compile --target $SITE \
    .whl/scikit_learn-*.whl || exit 1
import sklearn
major, minor = (int(p) for p in sklearn.__version__.split(".")[:2])
raise SystemExit(0 if (major, minor) >= (1, 6) else 1)
EOF
export PYTHONPATH=$PWD:$SITE:${PYTHONPATH:-}
python3 -c "import sklearn, skorch, numpy, torch; print('sklearn', sklearn.__version__, \
'skorch', skorch.__version__, 'numpy', numpy.__version__)" || exit 1

B="python3 benchmarks/bench_training.py --device cuda"

step "CUDA code paths (tests/test_cuda_training.py)"
timeout 75 python3 -m pytest --noconftest -q -p no:cacheprovider -o addopts="" \
    tests/test_cuda_training.py 2>&1 | tee "$OUT/cuda_tests.log" | tail -15

step "options at batch 16, 64, 256 (512 samples of 128 x 1292; torch.compile at batch 16)"
timeout 170 $B --n-samples 512 --no-loops --no-ablation --options --batch-sizes 16 64 256 \
    --compile --repeats 2 --out /tmp/gpu_options \
    && cp /tmp/gpu_options/training.json "$OUT/training_cuda_options.json" \
    && cp /tmp/gpu_options/training.md "$OUT/training_cuda_options.md"

step "FMA-small-sized fit: 6400 x 128 x 1292 float16, reference recipe, 10 epochs"
timeout 130 $B --no-loops --no-ablation --fma-fit --out /tmp/gpu_fma \
    && cp /tmp/gpu_fma/training.json "$OUT/training_cuda_fma.json" \
    && cp /tmp/gpu_fma/training.md "$OUT/training_cuda_fma.md"

step "where the time goes: per-phase CUDA-event times at batch 16 and 256"
timeout 45 $B --n-samples 512 --no-loops --no-ablation --profile --batch-sizes 16 256 \
    --models cnn_gru_attention --out /tmp/gpu_profile \
    && cp /tmp/gpu_profile/training_profile.md "$OUT/training_cuda_profile.md"

step "the four networks at batch 16, and ours vs skorch's own path (interleaved)"
timeout 60 $B --n-samples 512 --no-ablation --legacy --repeats 2 --out /tmp/gpu_models \
    && cp /tmp/gpu_models/training.md "$OUT/training_cuda_models.md"

step "done"
ls -la "$OUT"
