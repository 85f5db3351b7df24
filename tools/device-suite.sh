#!/usr/bin/env bash
# One prepared device run for a lent GPU machine (PyTorch, no network, no genbench install): the
# `pacgan-paper` suite with its seeds batched (PacGAN's Table 1 under the paper's 400 epochs) and the
# `text-gpu` suite (nanoGPT's shakespeare-char GPU configuration), each under its own time budget, and
# what should come back put into $OUT: run records and tables in one tar, the logs (whose progress
# lines give the measured steps per second, from which the full suite's time is projected).
# From the repository root, with the data and wheels carried beside the tree:
#   .data/text/tinyshakespeare.txt  (cp ../shared/data/tinyshakespeare.txt .data/text/)
#   .whl/*.whl                      (optional: pip download --no-deps torch-fidelity)
# PACGAN_BUDGET + TEXT_BUDGET seconds (default 330 + 200) fit one 10-minute call with time to pack.
# Runs unfinished by their budget have no record and the table says so; their resumable state stays
# in $RUNS, so a rerun on the same warm machine continues them.
# BASELINES points at another recipes folder (the CPU test runs a shortened copy); DEVICE=cpu tries
# the script on a machine without a GPU.
set -u
OUT=${OUT:-device-out}; RUNS=${RUNS:-/tmp/genbench-runs}
PACGAN_BUDGET=${PACGAN_BUDGET:-330}; TEXT_BUDGET=${TEXT_BUDGET:-200}
BASELINES=${BASELINES:-$PWD/baselines}; DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT" "$RUNS"
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD GENBENCH_DATA=$PWD/.data GENBENCH_OFFLINE=1 PYTHONUNBUFFERED=1
[ -f .data/text/tinyshakespeare.txt ] || { echo "missing .data/text/tinyshakespeare.txt (see the header)"; exit 2; }
if [ "$DEVICE" = cuda ]; then nvidia-smi -L; fi
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
# Each suite alone on the device: pacgan-paper's recipes train their 10 seeds as one vmapped step.
timeout "$PACGAN_BUDGET" python3 -m genbench bench pacgan-paper --runs "$RUNS" --leaderboards "$RUNS/leaderboards" \
  --baselines "$BASELINES" --device "$DEVICE" --batch-seeds --no-plots 2>&1 | tr '\r' '\n' | grep -v '^\s*$' > "$OUT/pacgan-paper.log"
echo "pacgan-paper: exit ${PIPESTATUS[0]} (124 = its budget ran out)" | tee -a "$OUT/pacgan-paper.log"
timeout "$TEXT_BUDGET" python3 -m genbench bench text-gpu --runs "$RUNS" --leaderboards "$RUNS/leaderboards" \
  --baselines "$BASELINES" --device "$DEVICE" --no-plots 2>&1 | tr '\r' '\n' | grep -v '^\s*$' > "$OUT/text-gpu.log"
echo "text-gpu: exit ${PIPESTATUS[0]} (124 = its budget ran out)" | tee -a "$OUT/text-gpu.log"
tail -n 3 "$OUT/pacgan-paper.log" "$OUT/text-gpu.log"
tar -C "$RUNS" --exclude='*.safetensors' --exclude='train_state*' -czf "$OUT/records.tgz" .
ls -la "$OUT"
