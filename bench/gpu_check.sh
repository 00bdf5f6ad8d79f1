#!/usr/bin/env bash
# Everything GPU-related of the benchmarks in one command (~5 min on an H100/H200 with ROUNDS=3):
#
#   OUT=gpu-results bash bench/gpu_check.sh          # JSON, PNG, profiles and one log per part in $OUT
#
# Parts (PARTS, default all of them, in this order; the short ones first, so that a session that runs out of
# device time still has them):
#   bert, seq2seq     BERT-base MLM (64 x 128; dense and sparse MLM head; BERT profiled) and Marian-base-size
#                     translation (64 x 64) training, plus Marian beam-4;
#   gpt               GPT-2 124M (batch 16 x 1024), bf16 autocast: training tokens/s + MFU + peak memory,
#                     inference, greedy decode ms/token at batch 1 and 32 (generate, ours vs GPT2; our static-cache
#                     loop, eager and CUDA-graphed); profiles of one training call of each model;
#   gpt-compile       the same training with torch.compile (both models compiled), profiled;
#   gpt-cudnn, gpt-compile-cudnn   the two trainings again with SDPA on cuDNN's attention kernel;
#   gpt-compile-autotune   the compiled training in torch.compile's max-autotune mode (GEMMs tuned, CUDA graphs;
#                     minutes of compiling), profiled: what is left for the 45% MFU target;
#   attention         the attention sweep, T = 128 ... 4096, SDPA vs eager.
# Each part runs on its own: a failing part is logged and the next one still runs. The exit status is the number
# of parts that failed. ROUNDS (default 5) sets the A/B rounds per measurement; PYTHON (default python3) the
# interpreter, which must import torch with CUDA, transformers and this package (e.g. `pip install -e .`).
# `bash bench/gpu_check.sh --list-parts` prints the default parts and does nothing else.
set -u -o pipefail
cd "$(dirname "$0")/.."
DEFAULT_PARTS="bert seq2seq gpt gpt-compile gpt-cudnn gpt-compile-cudnn gpt-compile-autotune attention"
if [[ ${1:-} == --list-parts ]]; then
    echo "$DEFAULT_PARTS"
    exit 0
fi
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

PARTS=${PARTS:-$DEFAULT_PARTS}
wanted() { [[ " $PARTS " == *" $1 "* ]]; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
"$PYTHON" -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__,
"sdpa priority", [str(torch.nn.attention.SDPBackend(b)) for b in torch._C._get_sdp_priority_order()])' | tee -a "$OUT/gpu.txt"
run=("$PYTHON" bench/run.py --device cuda --size gpu --rounds "$ROUNDS" --out "$OUT")
wanted bert && part bert "${run[@]}" --family bert --parts train --profile
wanted seq2seq && part seq2seq "${run[@]}" --family seq2seq --parts train,generation
wanted gpt && part gpt "${run[@]}" --family gpt --profile
wanted gpt-compile && part gpt-compile "${run[@]}" --family gpt --compile --parts train --profile
wanted gpt-cudnn && part gpt-cudnn "${run[@]}" --family gpt --parts train --sdpa-backend cudnn
wanted gpt-compile-cudnn && part gpt-compile-cudnn "${run[@]}" --family gpt --compile --parts train --sdpa-backend cudnn
wanted gpt-compile-autotune && part gpt-compile-autotune "${run[@]}" --family gpt --compile max-autotune --parts train \
    --profile
wanted attention && part attention "$PYTHON" bench/attention_sweep.py --device cuda --max-length 4096 --out "$OUT"
echo "done: $failed part(s) failed; results in $OUT"
exit "$failed"
