#!/bin/sh
# Replays what the PyTorch stand-in measured on a GPU, as a benchmark
# command for diffperf run on any machine: a timed run copies the side's
# dump of that run number to the dump path; a run with --profile copies
# the side's trace into the profiler's folder, named as sglang names it.
# Usage, as --command:
#
#   sh testdata/gpu/replay.sh DIR {side} {run} {dump} [--profile ...]
#
# DIR holds d/SIDE-0N.json and SIDE.trace.json.gz (see
# testdata/gpu/results/p1.tgz).
set -eu
dir=$1 side=$2 run=$3 dump=$4
shift 4
case " $* " in
*" --profile "*)
	out=${SGLANG_DIFFUSION_TORCH_PROFILER_DIR:-${SGLANG_TORCH_PROFILER_DIR:-logs}}
	mkdir -p "$out"
	cp "$dir/$side.trace.json.gz" "$out/mocked_fake_id_for_offline_generate-5_steps-global-rank0.trace.json.gz"
	;;
*) cp "$dir/d/$side-0$run.json" "$dump" ;;
esac
