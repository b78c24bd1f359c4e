#!/usr/bin/env bash
# One call on a lent GPU machine (issue 12): the WebGPU ceilings (the shared kit's ceiling.mjs and bench --ceiling),
# bench --proxy, bench --profile (per call site of a decode step, M = 1 and 16, contexts 128 and 1000), bench of the GPT-2 124M shape with f32 and f16 weights (prompts 1/128/1000, concurrency 1/16), then the PyTorch
# peers on the same card. Under 8 minutes: every step has its own timeout, capped by what is left of a total budget
# (GPU_BENCH_BUDGET_S, default 450 s), so one hang cannot eat the rest. Results go under $OUT (default ./gpu-out).
#
#   on the GPU machine (carry .gpu and dist):   bash .gpu/on-device.sh bash scripts/gpu-bench.sh
#   dry run here on the software adapter:       GPU_BENCH_QUICK=1 OUT=/tmp/gb bash scripts/gpu-bench.sh
#
# Environment: GPU_BENCH_QUICK=1 (tiny sizes, the demo model: proves the script parses and writes $OUT),
# GPU_BENCH_CLI (default `node dist/lib/cli.js`; e.g. `node --import ./scripts/node-hooks.mjs src/cli/cli.ts`),
# GPU_BENCH_MODEL (default gpt2-124m-random), GPU_BENCH_BUDGET_S.
set -u
O=${OUT:-gpu-out}; mkdir -p "$O"; L="$O/log.txt"; : > "$L"
export PYTHONUNBUFFERED=1
CLI=${GPU_BENCH_CLI:-node dist/lib/cli.js}
BUDGET=${GPU_BENCH_BUDGET_S:-450}
START=$(date +%s)
if [ "${GPU_BENCH_QUICK:-0}" = 1 ]; then
  MODEL=${GPU_BENCH_MODEL:-}; PROMPTS=1,8; NEW=3; REPS=1; CONC=1,2; SMALL=1
  PROFILE=(--rows 1,2 --contexts 16,64 --repeats 2)
else
  MODEL=${GPU_BENCH_MODEL:-gpt2-124m-random}; PROMPTS=1,128,1000; NEW=64; REPS=2; CONC=1,16; SMALL=0
  PROFILE=(--rows 1,16 --contexts 128,1000)
fi
MODEL_ARG=(); [ -n "$MODEL" ] && MODEL_ARG=(--model "$MODEL")

log() { echo "[$(date -u +%H:%M:%S) +$(( $(date +%s) - START ))s] $*" | tee -a "$L" >&2; }
# step NAME SECONDS OUTFILE CMD...: runs CMD with stdout to $O/OUTFILE, stderr to the log, under
# min(SECONDS, budget left); a step that fails or times out is logged and the script goes on.
step() {
  local name=$1 limit=$2 file=$3; shift 3
  local left=$(( BUDGET - ($(date +%s) - START) ))
  if [ "$left" -lt 10 ]; then log "SKIP $name: budget spent"; return; fi
  [ "$limit" -gt "$left" ] && limit=$left
  log "START $name (timeout ${limit}s): $*"
  timeout --kill-after=5 "$limit" "$@" > "$O/$file" 2>> "$L"
  local rc=$?
  if [ $rc -eq 0 ]; then log "OK $name"; else log "FAIL $name rc=$rc$([ $rc -ge 124 ] && echo ' (timed out)')"; fi
}

case "$CLI" in node\ dist/*) [ -f dist/lib/cli.js ] || { log "dist/lib/cli.js is missing: run npm run build here and carry dist"; exit 1; } ;; esac
{
  echo "date $(date -u +%FT%TZ)"; echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "nproc $(nproc) arch $(uname -m) loadavg $(cat /proc/loadavg)"; echo "node $(node --version)"
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,memory.total --format=csv 2>/dev/null || echo "no nvidia-smi"
} > "$O/machine.txt" 2>&1

# 1. the card's WebGPU ceilings through the same Dawn: copy bandwidth, matmul rate, dependent-dispatch gap, read-back;
#    then the engine's own probe (src/bench/ceiling.ts: timestamps where the adapter has them)
SMALL=$SMALL step ceiling 45 ceiling.txt node scripts/gpu/ceiling.mjs
step ceiling-engine 45 ceiling.json $CLI bench --ceiling --json
# 2. hardware-independent counts and the host time with a null GPU, on this host
step proxy 60 proxy.json $CLI bench --proxy "${MODEL_ARG[@]}" --json
# 3. per-call-site GPU time of a decode step (src/bench/profile.ts), with the ceilings and the step's byte floor
step profile 90 profile.json $CLI bench --profile "${MODEL_ARG[@]}" "${PROFILE[@]}" --json
# 4. end to end, f32 then f16 weights
for w in f32 f16; do
  step "bench-$w" 90 "bench-$w.json" $CLI bench "${MODEL_ARG[@]}" --weights $w --prompt-lengths $PROMPTS \
    --new-tokens $NEW --repetitions $REPS --concurrency $CONC --json
done
# 5. PyTorch peers on the same card (they write their JSON into $OUT themselves)
if python3 -c 'import torch, transformers; assert torch.cuda.is_available()' 2>> "$L"; then
  OUT=$O step torch-eager 60 torch_eager.txt python3 scripts/gpu/torch_gpt2.py
  OUT=$O step torch-compiled 120 torch_compiled.txt python3 scripts/gpu/torch_compiled.py
else
  log "SKIP torch peers: no CUDA PyTorch + transformers here"
fi
log "done in $(( $(date +%s) - START ))s"
ls -l "$O" >&2
