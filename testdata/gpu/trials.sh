#!/usr/bin/env bash
# Runs diffperf on a GPU machine against the PyTorch stand-in of sglang, with
# planted slowdowns of known size. Usage:
#
#   testdata/gpu/trials.sh DIFFPERF_BINARY OUT_DIR BUDGET_S COND...
#
# COND is MODEL:PCT, e.g. dit:0 (A/A), dit:2 (head 2 % slower), tiny:5.
# Trials run one after another until BUDGET_S seconds have passed (no new
# trial starts after that). For each, OUT_DIR/trials/NN-COND/ keeps the
# dumps, logs, report.md and result.json, and OUT_DIR/trials.tsv gets a line.
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
for pct in 1 2 5; do
  git -C "$repo" checkout -q -b "slow$pct" main
  echo "slowdown_pct=$pct" > "$repo/gpu_workload.txt"
  git -C "$repo" commit -qam "head: $pct% more work a step"
done
git -C "$repo" checkout -q main
[ -f "$out/trials.tsv" ] || printf 'n\tcondition\tverdict\treason\te2e_delta_pct\tp\truns_base\truns_head\tconfirm\twall_s\n' > "$out/trials.tsv"
n=$(ls "$out/trials" | wc -l)
for cond in "$@"; do
  now=$(date +%s)
  if (( now - start > budget )); then echo "budget spent: not starting $cond"; continue; fi
  model=${cond%%:*}; pct=${cond##*:}
  head=main; [ "$pct" = 0 ] || head="slow$pct"
  case $model in
    dit) m=sim/dit-1024; args="--num-inference-steps 28 --height 1024 --width 1024 --seed 42" ;;
    tiny) m=sim/dit-tiny; args="--num-inference-steps 4 --height 256 --width 256 --seed 42" ;;
  esac
  n=$((n + 1)); dir="$out/trials/$(printf %02d $n)-$model-$pct"
  t0=$(date +%s%N)
  # Thresholds low enough that a 1-2 % change can count at all: with the
  # defaults (5 %, 50 ms) it is below the threshold by design.
  "$bin" run --repo "$repo" --base main --head "$head" --runs 5 --max-runs 9 --model "$m" --args "$args" \
    --threshold "${DIFFPERF_THRESHOLD:-1%}" --min-delta-ms "${DIFFPERF_MIN_DELTA_MS:-5}" \
    --python-path "" --timeout 5m --out "$dir" --worktrees /tmp/gpu-worktrees --format json \
    --command "python3 {worktree}/fake_sglang.py generate --model-path {model} --prompt {prompt} --warmup --perf-dump-path {dump} {args}" \
    > "$dir.stdout" 2> "$dir.stderr"
  rc=$?
  wall=$(( ($(date +%s%N) - t0) / 1000000000 ))
  line=$(python3 - "$dir/result.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
e = next(m for m in r["metrics"] if m["id"] == "e2e")
c = r.get("confirmation") or {}
print("\t".join([r["verdict"], r["reason"].replace("\t", " "), f'{e["delta_pct"]:.2f}', f'{e["p"]:.4f}',
                 str(len(r["base"]["runs"])), str(len(r["head"]["runs"])), c.get("verdict", "-")]))
PY
)
  printf '%s\t%s\t%s\t%s\n' "$n" "$cond" "$line" "$wall" | tee -a "$out/trials.tsv"
  echo "exit $rc" >> "$dir.stdout"
done
rm -rf "$repo"
