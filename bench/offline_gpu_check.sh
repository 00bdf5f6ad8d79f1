#!/usr/bin/env bash
# The GPU check on a machine with no network and an older transformers (the lent H100/H200 boxes): install this
# package and any wheels carried in WHEELS (default .whl/) into /tmp, run the GPU tests and bench/gpu_check.sh, and
# pack everything into one archive.
#
#   OUT=/path/to/results PARTS="gpt gpt-compile bert seq2seq" ROUNDS=3 bash bench/offline_gpu_check.sh
#
# -> $OUT/results.tgz (logs, JSON, PNG, profiles, the GPU tests' output), rewritten after each part. PARTS (the
# parts, in the order to run them) and ROUNDS go to gpu_check.sh.
set -u -o pipefail
cd "$(dirname "$0")/.."
repo=$PWD
OUT=${OUT:-bench-out}
WHEELS=${WHEELS:-.whl}
results=$(mktemp -d)/results
mkdir -p "$results" "$OUT"
export PYTHONUNBUFFERED=1
pip=(python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade)
if compgen -G "$WHEELS/*.whl" > /dev/null; then
    "${pip[@]}" --target /tmp/site "$WHEELS"/*.whl || exit 1
fi
"${pip[@]}" --no-build-isolation --target /tmp/pkg . || exit 1
export PYTHONPATH=/tmp/pkg:/tmp/site${PYTHONPATH:+:$PYTHONPATH}
# From outside the checkout, so that `hf_transformer101` is the installed package, not the source folder.
(cd /tmp && python3 -m pytest -p no:cacheprovider -m gpu -o addopts="" "$repo/tests/test_gpu.py" 2>&1) \
    | tee "$results/gpu-tests.log" | tail -3
# One part at a time, in the order PARTS gives, packing after each: a run stopped at its time limit still
# leaves the parts it finished in $OUT/results.tgz.
failed=0
for part in ${PARTS:-$(bash bench/gpu_check.sh --list-parts)}; do
    PARTS=$part OUT=$results bash bench/gpu_check.sh >> "$results/gpu_check.log" 2>&1 || failed=$((failed + 1))
    tar czf "$OUT/results.tgz.partial" -C "$(dirname "$results")" results \
        && mv "$OUT/results.tgz.partial" "$OUT/results.tgz"
done
grep -E "^===|train |inference|decode|beam|failed" "$results/gpu_check.log"
exit "$failed"
