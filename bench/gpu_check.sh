#!/usr/bin/env bash
# The GPU check, ready for the day a GPU is lent: at most ~5 minutes on one GPU, nothing to
# install beyond the README's set-up (`make env`, with a CUDA build of PyTorch in .venv).
#
#   bench/gpu_check.sh                 # from the repository root or anywhere
#   PY=python bench/gpu_check.sh       # another interpreter
#
# Runs the unit tests that touch CUDA, bench/gpu.py (frame and video GANs, bf16 / channels-last
# / torch.compile on and off), and, with two GPUs or more, a 2-GPU torchrun (NCCL) run of the
# smoke config; prints one table. Without CUDA it says so and exits 0. Results go to $OUT
# (default bench/results/gpu_check/); put the table in bench/README.md.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-bench/results/gpu_check}

if ! command -v "$PY" > /dev/null; then
  echo "gpu_check: no Python at $PY: run \`make env\` first, or set PY=/path/to/python" >&2
  exit 2
fi
if ! CUDA=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))"); then
  echo "gpu_check: $PY cannot import torch: run \`make env\` first" >&2
  exit 2
fi
if [ "$CUDA" != 1 ]; then
  echo "gpu_check: no CUDA device visible to PyTorch; nothing to check on this machine"
  exit 0
fi
mkdir -p "$OUT"
NGPU=$("$PY" -c "import torch; print(torch.cuda.device_count())")
export TQDM_DISABLE=1

# 1. the unit tests that touch CUDA (selected by name)
timeout 90 "$PY" -m pytest -q tests -k "cuda or gpu" > "$OUT/tests.log" 2>&1
tests_rc=$?
# 2. the GPU figures (about 3 minutes: six compilations dominate)
timeout 200 "$PY" bench/gpu.py --steps 20 --json "$OUT/gpu.json" > "$OUT/gpu.log" 2>&1
gpu_rc=$?
# 3. two GPUs: the command line under torchrun with NCCL
ddp="skipped (${NGPU} GPU)"
if [ "$NGPU" -ge 2 ]; then
  rm -f "$OUT/ddp_smoke.pt"
  if timeout 90 "$PY" -m torch.distributed.run --standalone --nproc_per_node 2 \
      -m vgan_utils.train --config smoke --steps 40 --log-every 20 \
      --out "$OUT/ddp_smoke.pt" > "$OUT/ddp.log" 2>&1; then
    ddp="ok: $(grep -o 'weights identical on 2 ranks' "$OUT/ddp.log" | head -1)"
  else
    ddp="FAILED (see $OUT/ddp.log)"
  fi
fi

echo
sed -n '/^| model | variant/,$p' "$OUT/gpu.log"  # bench/gpu.py's table
echo
echo "| check | result |"
echo "|---|---|"
echo "| device | $("$PY" -c "import torch; print(torch.cuda.get_device_name(0))") x ${NGPU} |"
echo "| CUDA unit tests | $(tail -1 "$OUT/tests.log") (rc ${tests_rc}) |"
echo "| bench/gpu.py | rc ${gpu_rc} (rows above; JSON in $OUT/gpu.json) |"
echo "| 2-GPU torchrun smoke | ${ddp} |"
[ "$tests_rc" -eq 0 ] && [ "$gpu_rc" -eq 0 ] && [[ "$ddp" != FAILED* ]]
