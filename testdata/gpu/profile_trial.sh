#!/usr/bin/env bash
# Profiling on a GPU: diffperf run with profile auto against the PyTorch
# stand-in, whose head plants one op of its own (extra_matmul=N: a float32
# N x N GEMM in every denoising step). A confirmed regression makes diffperf
# profile one run a side; the report's table should name the planted GEMM
# first. Generate mode, then (when SERVE=1) mode serve. Usage:
#
#   testdata/gpu/profile_trial.sh DIFFPERF_BINARY OUT_DIR [N]
#
# OUT_DIR/generate (and OUT_DIR/serve) get diffperf's out folder, with
# .stdout and .stderr beside it; OUT_DIR/summary.txt the figures.
set -uo pipefail
bin=$(readlink -f "$1"); out=$(readlink -f -m "$2"); n=${3:-4096}
here=$(dirname "$(readlink -f "$0")")
mkdir -p "$out"
repo=$(mktemp -d /tmp/gpu-repo.XXXX)
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@x.invalid GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@x.invalid
git -C "$repo" init -q -b main
cp "$here/fake_sglang.py" "$repo/"
echo "slowdown_pct=0" > "$repo/gpu_workload.txt"
git -C "$repo" add -A && git -C "$repo" commit -qm base
git -C "$repo" checkout -q -b planted
echo "extra_matmul=$n" >> "$repo/gpu_workload.txt"
git -C "$repo" commit -qam "head: a float32 ${n}x$n GEMM in every denoising step"
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc
  python3 -c 'import torch; print("torch", torch.__version__)'; } | tee "$out/summary.txt"
common=(--repo "$repo" --base main --head planted --model sim/dit-1024 --threshold 1% --min-delta-ms 5
  --python-path "" --timeout 5m --worktrees /tmp/gpu-worktrees --format json --profile auto --sandbox none)
t0=$(date +%s)
"$bin" run "${common[@]}" --out "$out/generate" --runs "${RUNS:-4}" --max-runs "${RUNS:-4}" \
  --args "--num-inference-steps 28 --height 1024 --width 1024 --seed 42" \
  --command "python3 {worktree}/fake_sglang.py generate --model-path {model} --prompt {prompt} --warmup --perf-dump-path {dump} {args}" \
  > "$out/generate.stdout" 2> "$out/generate.stderr"
echo "generate: exit $? in $(( $(date +%s) - t0 )) s" | tee -a "$out/summary.txt"
if [ "${SERVE:-0}" = 1 ]; then
  t0=$(date +%s)
  "$bin" run --mode serve "${common[@]}" --out "$out/serve" --launches 2 --max-launches 2 --requests 3 --warmup-requests 1 \
    --request '{"num_inference_steps": 28, "size": "1024x1024", "seed": 42}' \
    --serve-command "python3 {worktree}/fake_sglang.py serve --model-path {model} --port {port}" \
    > "$out/serve.stdout" 2> "$out/serve.stderr"
  echo "serve: exit $? in $(( $(date +%s) - t0 )) s" | tee -a "$out/summary.txt"
fi
for mode in generate serve; do
  [ -f "$out/$mode/result.json" ] || continue
  python3 - "$out/$mode/result.json" "$mode" <<'PY' | tee -a "$out/summary.txt"
import json, sys
r = json.load(open(sys.argv[1])); mode = sys.argv[2]
e = next(m for m in r["metrics"] if m["id"] == "e2e")
print(f'{mode}: verdict {r["verdict"]}: {r["reason"]}')
print(f'{mode}: e2e base {e["base"]["median"]:.2f} ms, head {e["head"]["median"]:.2f} ms, runs {len(r["base"]["runs"])}+{len(r["head"]["runs"])}')
for n in r.get("notes") or []:
    print(f"{mode}: note: {n}")
p = r.get("profile")
if not p:
    print(f"{mode}: no profile"); sys.exit()
print(f'{mode}: profiled {p["base"]["steps"]}+{p["head"]["steps"]} steps, wall {p["base"]["seconds"]:.1f} s + {p["head"]["seconds"]:.1f} s')
print(f'{mode}: summed kernel change {p["change_us"]/1000:+.3f} ms a step ({p["base_us"]/1000:.3f} -> {p["head_us"]/1000:.3f}); measured {p.get("measured")}: {p.get("measured_change_ms", 0):+.3f} ms')
for row in p["rows"]:
    print(f'{mode}: {row["class"]:9} {row["change_us"]/1000:+9.3f} ms  {row["base_us"]/1000:8.3f} -> {row["head_us"]/1000:8.3f} ms  calls {row["base_calls"]:g} -> {row["head_calls"]:g}  {row["name"]}')
PY
done
rm -rf "$repo"
