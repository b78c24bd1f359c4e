#!/usr/bin/env bash
# gpt-webgpu vs transformers.js / onnxruntime on the same weights (issue 12), reproducibly from this checkout: copies the
# shared harness (../shared/peers, see its README.md) to a writable work folder, builds this checkout's dist/lib, exports
# both models to ONNX once, and runs the harness against this checkout. The harness folder itself is read-only and writes
# .cache/ and node_modules/ beside itself, hence the copy.
#
#   bash scripts/peers-bench.sh                  # the harness's run_all.sh: Node + browser, both models, its defaults
#   bash scripts/peers-bench.sh software         # what fits a software adapter (SwiftShader; 2026-12-06 on the loaded
#                                                #   2-core VM: demo model 23 min, 124M > 70 min, tjs-webgpu ~30 s/token):
#                                                #   browser demo model, all engines, REPS=3, reference checks (20 tokens);
#                                                #   browser 124M, gptw + tjs-webgpu, REPS=1, no checks; Node both, REPS=3
#   bash scripts/peers-bench.sh node run_browser.mjs   # any command, run in the work folder after the preparation
#
# Environment: PEERS_DIR (harness, default <repo>/../shared/peers), PEERS_WORK (work folder; default a fresh mktemp -d;
# reuse one to keep its node_modules and the ~1 GB of exported models), DEMO_MODEL (default <repo>/models/gpt2-shakespeare),
# PEERS_NO_BUILD=1 (keep dist/lib as it is: otherwise it is rebuilt, so a stale build is never measured), and every knob
# of the harness (REPS, NEW_TOKENS, PROMPT_LENS, MODELS, ENGINES, REF_TOKENS, SKIP_CHECKS, ORT_THREADS, CHROMIUM_PATH, OUT).
# Needs what the harness needs: Node 20+, Chromium with WebGPU, python3 with numpy + onnx (Debian: apt-get install
# python3-onnx), npm registry access for its three packages. Results: $PEERS_WORK/.cache/results/*.json and logs/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="${PEERS_DIR:-$root/../shared/peers}"
[ -f "$src/run_all.sh" ] || { echo "no harness at $src (set PEERS_DIR)"; exit 1; }
work="${PEERS_WORK:-$(mktemp -d /tmp/peers.XXXXXX)}"
mkdir -p "$work"
# refresh the harness files, keep a previous run's node_modules/ and .cache/ (installs and exports are the slow part)
(cd "$src" && tar --exclude=./node_modules --exclude=./.cache -cf - .) | (cd "$work" && tar -xf -)
chmod -R u+w "$work"
export GPT_WEBGPU_DIR="$root"
export DEMO_MODEL="${DEMO_MODEL:-$root/models/gpt2-shakespeare}"
[ "${PEERS_NO_BUILD:-0}" = 1 ] || (cd "$root" && npm run --silent build:lib)
cd "$work"
mkdir -p logs .cache/results
echo "peers: work folder $work, gpt-webgpu $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD || echo ' (dirty tree)'), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# the preparation steps of run_all.sh, so that any command can follow them
PY=$(for p in python3 /usr/bin/python3; do $p -c 'import onnx, numpy' 2>/dev/null && { echo $p; break; }; done)
[ -n "$PY" ] || { echo "needs python3 with onnx and numpy (Debian: apt-get install python3-onnx)"; exit 1; }
# --ignore-scripts: onnxruntime-node's install script only fetches GPU providers from nuget.org, not needed for the CPU EP
[ -d node_modules/@huggingface/transformers ] || npm install --no-audit --no-fund --ignore-scripts
[ -f .cache/shakespeare/onnx/model.onnx ] || $PY export_onnx.py "$DEMO_MODEL" .cache/shakespeare
[ -f "$DEMO_MODEL/reference.json" ] && cp "$DEMO_MODEL/reference.json" .cache/shakespeare/
[ -f .cache/gpt2-124m-random/onnx/model.onnx ] || $PY export_onnx.py --random-124m .cache/gpt2-124m-random --tokenizer-from "$DEMO_MODEL"

# run NAME CMD...: the markdown tables go to logs/NAME.md (and stdout), the progress log to logs/NAME.log
run() { local name=$1; shift; echo "peers: $name: $* ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  "$@" 2> >(tee "logs/$name.log" >&2) | tee "logs/$name.md"; }
case "${1:-all}" in
  all) run all bash run_all.sh ;;
  software)
    # knobs here are defaults only: the environment wins. tjs-webgpu needs ~1.2 s per token on the demo model on
    # SwiftShader, so the 124M model gets one timed run per prompt length and no correctness runs.
    run browser-shakespeare env MODELS=shakespeare REPS="${REPS:-3}" REF_TOKENS="${REF_TOKENS:-20}" \
      OUT=.cache/results/browser-shakespeare.json node run_browser.mjs
    run browser-124m env MODELS=gpt2-124m-random ENGINES="${ENGINES:-gptw,tjs-webgpu}" REPS="${REPS:-1}" SKIP_CHECKS=1 \
      OUT=.cache/results/browser-124m.json node run_browser.mjs
    run node env MODELS=shakespeare,gpt2-124m-random REPS="${REPS:-3}" OUT=.cache/results/node.json node run_node.mjs ;;
  *) run cmd "$@" ;;
esac
echo "peers: done ($(date -u +%H:%M:%S)); results in $work/.cache/results, tables in $work/logs" >&2
