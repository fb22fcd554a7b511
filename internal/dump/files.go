package dump

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
)

// The files of an out folder are named here, and only here: diffperf writes
// them by these names and reads them back (diffperf compare, extract) by
// ParseRunFile. A run's dump and log share one stem, RunName.

// RunName is the stem of the files of run n (1-based) of side in batch:
// "base-03", "confirm-head-01". Its dump is RunName+".json", its log
// RunName+".log"; a measured request of a warm server is named as a run.
func RunName(batch, side string, n int) string {
	return prefixed(batch, fmt.Sprintf("%s-%02d", side, n))
}

// LaunchName is the stem of launch n of side's server in batch
// ("head-launch2"): its log is LaunchName+".log".
func LaunchName(batch, side string, n int) string {
	return prefixed(batch, fmt.Sprintf("%s-launch%d", side, n))
}

// WarmupName is the stem of warm-up request req of launch n of side's
// server in batch ("base-launch1-warmup1"): its dump is discarded.
func WarmupName(batch, side string, launch, req int) string {
	return prefixed(batch, fmt.Sprintf("%s-launch%d-warmup%d", side, launch, req))
}

// SideDir is the folder of the out folder out where side's processes write
// their dumps: the only part of the out folder a sandboxed benchmark sees.
// diffperf moves each dump it has read from there into out itself.
func SideDir(out, side string) string { return filepath.Join(out, side) }

func prefixed(batch, name string) string {
	if batch == "" {
		return name
	}
	return batch + "-" + name
}

// runFile is a run's dump in an out folder, as RunName names it, for the
// batches and sides that an out folder can hold.
var runFile = regexp.MustCompile(`^(?:(confirm)-)?(base|head|bench)-(\d+)\.json$`)

// ParseRunFile reads the batch ("" or "confirm"), side ("base", "head" or
// "bench") and run number of a dump's file name in an out folder; ok is
// false for any other name.
func ParseRunFile(name string) (batch, side string, n int, ok bool) {
	m := runFile.FindStringSubmatch(name)
	if m == nil {
		return "", "", 0, false
	}
	n, err := strconv.Atoi(m[3])
	return m[1], m[2], n, err == nil
}
