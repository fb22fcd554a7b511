#!/usr/bin/env bash
# The sandbox on a GPU machine: the start of a CUDA process with and without
# bubblewrap (paired, alternating), then A/A trials of the PyTorch stand-in
# under --sandbox bwrap and --sandbox none, generate mode then serve mode.
# Needs bwrap on PATH. Usage:
#
#   testdata/gpu/sandbox_trials.sh DIFFPERF_BINARY OUT_DIR
#
# OUT_DIR/bwrap and OUT_DIR/none get trials.sh's folders and trials.tsv.
set -u
bin=$1; out=$2
here=$(dirname "$(readlink -f "$0")")
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc; bwrap --version
python3 - <<'PY'
import subprocess, time, statistics
# The isolation diffperf gives a run, less the binds of its folders.
bw = ["bwrap", "--unshare-user", "--unshare-pid", "--cap-drop", "ALL", "--die-with-parent", "--new-session",
      "--ro-bind", "/", "/", "--dev-bind", "/dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/root"]
cmd = ["python3", "-c", "import torch; torch.zeros(1, device='cuda'); torch.cuda.synchronize()"]
subprocess.run(cmd, check=True)  # the page cache warm for both
plain, boxed = [], []
for i in range(10):
    pair = ((cmd, plain), (bw + cmd, boxed))
    for argv, xs in (pair if i % 2 == 0 else pair[::-1]):
        a = time.perf_counter(); subprocess.run(argv, check=True); xs.append(time.perf_counter() - a)
for name, xs in (("plain", plain), ("bwrap", boxed)):
    print(f"torch+cuda start {name}: median {statistics.median(xs):.3f} s, min {min(xs):.3f}, max {max(xs):.3f}, n={len(xs)}")
d = [b - p for p, b in zip(plain, boxed)]
print(f"paired difference bwrap-plain: median {statistics.median(d)*1000:.0f} ms, min {min(d)*1000:.0f}, max {max(d)*1000:.0f}")
PY
export DIFFPERF_THRESHOLD=1% DIFFPERF_MIN_DELTA_MS=5
for c in dit:0 serve/dit:0; do
  for sb in bwrap none; do
    DIFFPERF_SANDBOX=$sb "$here/trials.sh" "$bin" "$out/$sb" 600 "$c" 2>&1 | tail -1
  done
done
