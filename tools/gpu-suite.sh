#!/usr/bin/env bash
# Run the `gpu` suite on a lent GPU machine that has PyTorch but no network and no genbench install,
# and put what should come back into $OUT (records and tables in one tar, checkpoints in 15 MiB
# pieces, the log). From the repository root, with the data and wheels carried beside the tree:
#   .data/fashion-mnist/*.gz   (cp /usr/share/datasets/fashion-mnist/*.gz .data/fashion-mnist/)
#   .whl/torch_fidelity-*.whl  (pip download --no-deps torch-fidelity)
# BUDGET seconds bound the bench; runs unfinished by then have no record and the table says so.
# RECIPES picks part of the suite (CIFAR-10 cannot be had offline). Plots are drawn afterwards, here,
# from the checkpoints: `genbench leaderboard gpu --runs <unpacked runs>`.
set -u
OUT=${OUT:-gpu-out}; BUDGET=${BUDGET:-420}; JOBS=${JOBS:-2}; RUNS=${RUNS:-/tmp/genbench-runs}
RECIPES=${RECIPES:-fashion-mnist/*}
mkdir -p "$OUT" "$RUNS"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD GENBENCH_DATA=$PWD/.data GENBENCH_OFFLINE=1 PYTHONUNBUFFERED=1
nvidia-smi -L
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
# One process per run, JOBS at a time on the one GPU: these networks are too small to fill it alone.
timeout "$BUDGET" python3 -m genbench bench gpu --runs "$RUNS" --leaderboards "$RUNS/leaderboards" \
  --recipes "$RECIPES" --jobs "$JOBS" --no-plots --quiet 2>&1 | tee "$OUT/bench.log"
tar -C "$RUNS" --exclude='*.safetensors' --exclude='train_state*' -czf "$OUT/records.tgz" .
(cd "$RUNS" && find . -name 'model.safetensors' -o -name 'model.json' | tar -cf - -T -) | split -b 15m - "$OUT/checkpoints.tar."
ls -la "$OUT"
