#!/usr/bin/env bash
# Everything GPU-related of the benchmarks in one command (252 s on an H200 with ROUNDS=3; ~5 min with 5):
#
#   OUT=gpu-results bash bench/gpu_check.sh          # JSON, PNG and one log per part in $OUT (default ./bench-out)
#
# 1. GPT-2 124M (batch 16 x 1024), bf16 autocast: training tokens/s + MFU + peak memory, inference, and greedy
#    decode ms/token at batch 1 and 32 (generate, ours vs GPT2; our static-cache loop, eager and CUDA-graphed);
# 2. the same training with torch.compile (both models compiled);
# 3. BERT-base MLM (64 x 128) and 4. Marian-base-size translation (64 x 64) training, plus Marian beam-4;
# 5. the attention sweep, T = 128 ... 4096, SDPA vs eager.
# Each part runs on its own: a failing part is logged and the next one still runs. The exit status is the number
# of parts that failed. ROUNDS (default 5) sets the A/B rounds per measurement; PYTHON (default python3) the
# interpreter, which must import torch with CUDA, transformers and this repository (e.g. `pip install -e .`).
set -u -o pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench-out}
ROUNDS=${ROUNDS:-5}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
failed=0

part() {  # part NAME COMMAND...: run it, keep its log, count a failure and carry on
    local name=$1
    shift
    echo "=== $name: $*"
    local start=$SECONDS
    if ! "$@" 2>&1 | tee "$OUT/$name.log"; then
        echo "!!! $name failed: see $OUT/$name.log"
        failed=$((failed + 1))
    fi
    echo "=== $name: $((SECONDS - start)) s"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
run=("$PYTHON" bench/run.py --device cuda --size gpu --rounds "$ROUNDS" --out "$OUT")
part gpt "${run[@]}" --family gpt
part gpt-compile "${run[@]}" --family gpt --compile --parts train
part bert "${run[@]}" --family bert --parts train
part seq2seq "${run[@]}" --family seq2seq --parts train,generation
part attention "$PYTHON" bench/attention_sweep.py --device cuda --max-length 4096 --out "$OUT"
echo "done: $failed part(s) failed; results in $OUT"
exit "$failed"
