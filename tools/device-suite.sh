#!/usr/bin/env bash
# One prepared device run for a lent GPU machine (PyTorch, no network, no genbench install), each
# stage under its own time budget, and what should come back put into $OUT: run records and tables
# in one tar, the logs (whose progress lines give the measured steps per second, from which the
# full pacgan-paper suite's time is projected). The stages, in order:
#   1. the `gpu` suite's Fashion-MNIST U-Net DDPM and DCGAN (issue #20's target: DDPM below DCGAN),
#      two runs at a time;
#   2. the `text-gpu` suite (nanoGPT's shakespeare-char GPU configuration, 5000 steps);
#   3. the `pacgan-paper` suite with its seeds batched (PacGAN's Table 1 under the paper's 400 epochs;
#      its budget measures the step rate, it does not finish 80 x 400,000 steps).
# From the repository root, with the data and wheels carried beside the tree (untracked, not ignored):
#   .data/text/tinyshakespeare.txt  (cp ../shared/data/tinyshakespeare.txt .data/text/)
#   .data/fashion-mnist/*.gz        (cp /usr/share/datasets/fashion-mnist/*.gz .data/fashion-mnist/)
#   .whl/*.whl                      (pip download --no-deps torch-fidelity: FID needs it)
# GPU_BUDGET + TEXT_BUDGET + PACGAN_BUDGET seconds (default 170 + 250 + 120) fit one 10-minute call
# with time to install and pack. Runs unfinished by their budget have no record and the table says
# so; their resumable state stays in $RUNS, so a rerun on the same warm machine continues them.
# Back here: tar -xzf records.tgz -C runs && cat checkpoints.tar.* | tar -x -C runs, then
# `genbench leaderboard <suite> --runs runs` redraws each table, the gpu one with its sample plots
# (Fashion-MNIST on hand, as $GENBENCH_DATA or Debian's package; tried on the CPU run's output).
# Tried on the CPU (DEVICE=cpu) on a copy of baselines/ shortened to a few steps: all three stages
# ran, tables written, 7 files under $OUT (the device tool brings back 8 at most, 16 MiB each).
# BASELINES points at another recipes folder (the CPU test runs a shortened copy); DEVICE=cpu tries
# the script on a machine without a GPU.
set -u
OUT=${OUT:-device-out}; RUNS=${RUNS:-/tmp/genbench-runs}
GPU_BUDGET=${GPU_BUDGET:-170}; TEXT_BUDGET=${TEXT_BUDGET:-250}; PACGAN_BUDGET=${PACGAN_BUDGET:-120}
BASELINES=${BASELINES:-$PWD/baselines}; DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT" "$RUNS"
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD GENBENCH_DATA=$PWD/.data GENBENCH_OFFLINE=1 PYTHONUNBUFFERED=1
[ -f .data/text/tinyshakespeare.txt ] || { echo "missing .data/text/tinyshakespeare.txt (see the header)"; exit 2; }
compgen -G ".data/fashion-mnist/*.gz" > /dev/null || { echo "missing .data/fashion-mnist/*.gz (see the header)"; exit 2; }
if [ "$DEVICE" = cuda ]; then nvidia-smi -L; fi
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
# stage NAME BUDGET ARGS...: `genbench bench ARGS` under its budget, one progress line per line in $OUT/NAME.log.
stage() {
  local name=$1 budget=$2; shift 2
  timeout "$budget" python3 -m genbench bench "$@" --runs "$RUNS" --leaderboards "$RUNS/leaderboards" \
    --baselines "$BASELINES" --device "$DEVICE" --no-plots 2>&1 | tr '\r' '\n' | grep -v '^\s*$' > "$OUT/$name.log"
  echo "$name: exit ${PIPESTATUS[0]} (124 = its budget ran out)" | tee -a "$OUT/$name.log"
}
# Each stage alone on the device; the gpu recipes two at a time (too small to fill it alone);
# pacgan-paper's recipes train their 10 seeds as one vmapped step.
stage gpu "$GPU_BUDGET" gpu --recipes 'fashion-mnist/unet-ddpm-gpu' --recipes 'fashion-mnist/dcgan-gpu' --jobs 2 --quiet
stage text-gpu "$TEXT_BUDGET" text-gpu
stage pacgan-paper "$PACGAN_BUDGET" pacgan-paper --batch-seeds
tail -n 3 "$OUT/gpu.log" "$OUT/text-gpu.log" "$OUT/pacgan-paper.log"
tar -C "$RUNS" --exclude='*.safetensors' --exclude='train_state*' -czf "$OUT/records.tgz" .
# The gpu runs' checkpoints, so their sample plots are drawn here (`genbench leaderboard gpu --runs ...`).
(cd "$RUNS" && find ./fashion-mnist -name 'model.safetensors' -o -name 'model.json' 2>/dev/null | tar -cf - -T -) \
  | split -b 15m - "$OUT/checkpoints.tar."
ls -la "$OUT"
