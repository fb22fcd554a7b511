#!/usr/bin/env bash
# Runs diffperf on a GPU machine against the PyTorch stand-in of sglang, with
# planted slowdowns of known size. Usage:
#
#   testdata/gpu/trials.sh DIFFPERF_BINARY OUT_DIR BUDGET_S COND...
#
# COND is [serve/]MODEL:PCT, e.g. dit:0 (A/A), dit:2 (head 2 % slower),
# tiny:5; with serve/ the trial runs in mode serve (warm servers, requests
# over HTTP), e.g. serve/dit:3. Trials run one after another until BUDGET_S
# seconds have passed (no new trial starts after that). For each,
# OUT_DIR/trials/NN-[serve_]MODEL-PCT/ keeps the dumps, logs, report.md and
# result.json, and OUT_DIR/trials.tsv gets a line.
#
# The environment tunes it (defaults in brackets):
#   DIFFPERF_THRESHOLD [1%], DIFFPERF_MIN_DELTA_MS [5]   verdict thresholds
#   DIFFPERF_LOAD_S [0]    seconds each process or server sleeps at start,
#                          standing in for reading a model from disk
#   DIFFPERF_LOAD_GB [0]   GiB of stand-in weights each one fills on the GPU
#   DIFFPERF_RUNS [5], DIFFPERF_MAX_RUNS [9]              mode generate
#   DIFFPERF_LAUNCHES [2], DIFFPERF_MAX_LAUNCHES [4], DIFFPERF_REQUESTS [5],
#   DIFFPERF_TOGETHER [auto]                              mode serve
#   DIFFPERF_SANDBOX [auto]  --sandbox: auto, bwrap or none
#   DIFFPERF_DRY_RUN=1     no GPU: the stand-in sleeps (checks the plumbing)
set -uo pipefail
bin=$(readlink -f "$1"); out=$(readlink -f -m "$2"); budget=$3; shift 3
here=$(dirname "$(readlink -f "$0")")
start=$(date +%s)
mkdir -p "$out/trials"
repo=$(mktemp -d /tmp/gpu-repo.XXXX)
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@x.invalid GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@x.invalid
git -C "$repo" init -q -b main
cp "$here/fake_sglang.py" "$repo/"
echo "slowdown_pct=0" > "$repo/gpu_workload.txt"
git -C "$repo" add -A && git -C "$repo" commit -qm base
for pct in 1 2 3 5; do
  git -C "$repo" checkout -q -b "slow$pct" main
  echo "slowdown_pct=$pct" > "$repo/gpu_workload.txt"
  git -C "$repo" commit -qam "head: $pct% more work a step"
done
git -C "$repo" checkout -q main
[ -f "$out/trials.tsv" ] || printf 'n\tcondition\tverdict\treason\te2e_delta_pct\tp\truns_base\truns_head\tconfirm\twall_s\tmode\tlaunches_base\tsamples\ts_per_sample\te2e_samples\n' > "$out/trials.tsv"
load=(--load-sleep-s "${DIFFPERF_LOAD_S:-0}" --load-gb "${DIFFPERF_LOAD_GB:-0}")
[ "${DIFFPERF_DRY_RUN:-0}" = 1 ] && load+=(--dry-run)
n=$(ls "$out/trials" | wc -l)
for cond in "$@"; do
  now=$(date +%s)
  if (( now - start > budget )); then echo "budget spent: not starting $cond"; continue; fi
  mode=generate; c=$cond
  case $c in serve/*) mode=serve; c=${c#serve/} ;; esac
  model=${c%%:*}; pct=${c##*:}
  head=main; [ "$pct" = 0 ] || head="slow$pct"
  case $model in
    dit) m=sim/dit-1024; steps=28; size=1024 ;;
    tiny) m=sim/dit-tiny; steps=4; size=256 ;;
  esac
  label=$model; [ "$mode" = serve ] && label="serve_$model"
  n=$((n + 1)); dir="$out/trials/$(printf %02d $n)-$label-$pct"
  t0=$(date +%s%N)
  # Thresholds low enough that a 1-2 % change can count at all: with the
  # defaults (5 %, 50 ms) it is below the threshold by design.
  common=(--repo "$repo" --base main --head "$head" --model "$m"
    --threshold "${DIFFPERF_THRESHOLD:-1%}" --min-delta-ms "${DIFFPERF_MIN_DELTA_MS:-5}"
    --python-path "" --timeout 5m --out "$dir" --worktrees /tmp/gpu-worktrees --format json
    --sandbox "${DIFFPERF_SANDBOX:-auto}")
  if [ "$mode" = serve ]; then
    "$bin" run --mode serve "${common[@]}" --launches "${DIFFPERF_LAUNCHES:-2}" --max-launches "${DIFFPERF_MAX_LAUNCHES:-4}" \
      --requests "${DIFFPERF_REQUESTS:-5}" --together "${DIFFPERF_TOGETHER:-auto}" --args "${load[*]}" \
      --request "{\"num_inference_steps\": $steps, \"size\": \"${size}x${size}\", \"seed\": 42}" \
      --serve-command "python3 {worktree}/fake_sglang.py serve --model-path {model} --port {port} {args}" \
      > "$dir.stdout" 2> "$dir.stderr"
  else
    "$bin" run "${common[@]}" --runs "${DIFFPERF_RUNS:-5}" --max-runs "${DIFFPERF_MAX_RUNS:-9}" \
      --args "--num-inference-steps $steps --height $size --width $size --seed 42 ${load[*]}" \
      --command "python3 {worktree}/fake_sglang.py generate --model-path {model} --prompt {prompt} --warmup --perf-dump-path {dump} {args}" \
      > "$dir.stdout" 2> "$dir.stderr"
  fi
  rc=$?
  wall=$(( ($(date +%s%N) - t0) / 1000000000 ))
  line=$(python3 - "$dir/result.json" "$wall" "$mode" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
wall, mode = float(sys.argv[2]), sys.argv[3]
e = next((m for m in r["metrics"] if m["id"] == "e2e"), {"delta_pct": 0, "p": 1, "samples": ""})
c = r.get("confirmation") or {}
# GPU time per sample: the trial's wall time over every dump it measured,
# both sides and both batches.
samples = sum(len(x[s]["runs"]) for x in (r, c) if x for s in ("base", "head"))
launches = sum(1 for l in r.get("launches") or [] if l["side"] == "base")
print("\t".join([r["verdict"], r["reason"].replace("\t", " "), f'{e["delta_pct"]:.2f}', f'{e["p"]:.4f}',
                 str(len(r["base"]["runs"])), str(len(r["head"]["runs"])), c.get("verdict", "-")]))
print("\t".join([mode, str(launches), str(samples), f"{wall / max(samples, 1):.2f}", e.get("samples") or "runs"]))
PY
)
  first=$(head -1 <<<"$line"); rest=$(tail -1 <<<"$line")
  printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$cond" "$first" "$wall" "$rest" | tee -a "$out/trials.tsv"
  echo "exit $rc" >> "$dir.stdout"
done
rm -rf "$repo"
