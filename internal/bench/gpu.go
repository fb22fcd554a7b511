package bench

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/proc"
)

// gpuQuery is what nvidia-smi reports per GPU, in this order.
const gpuQuery = "name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw,power.limit,clocks_throttle_reasons.active"

// ReadGPUs asks nvidia-smi, found on the PATH of env, for the state of every
// GPU. It returns a note instead when nvidia-smi is absent or fails: a
// machine without it still benchmarks.
func ReadGPUs(ctx context.Context, env []string) ([]dump.GPU, string) {
	path, err := proc.LookPath("nvidia-smi", env, "/")
	if err != nil {
		return nil, "No GPU information: nvidia-smi is not on the PATH."
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--query-gpu="+gpuQuery, "--format=csv,noheader,nounits")
	cmd.Env = env
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Sprintf("No GPU information: nvidia-smi failed (%v): %s", err, truncate(firstLine(strings.TrimSpace(stderr.String()+stdout.String())), 200))
	}
	gpus, err := parseGPUs(stdout.String())
	if err != nil {
		return nil, "No GPU information: " + err.Error()
	}
	return gpus, ""
}

// parseGPUs reads nvidia-smi's CSV answer to gpuQuery.
func parseGPUs(out string) ([]dump.GPU, error) {
	r := csv.NewReader(strings.NewReader(out))
	r.TrimLeadingSpace = true
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("unreadable nvidia-smi output: %v", err)
	}
	var gpus []dump.GPU
	for _, row := range rows {
		if len(row) < 8 {
			return nil, fmt.Errorf("nvidia-smi gave %d fields, want 8: %q", len(row), strings.Join(row, ","))
		}
		gpus = append(gpus, dump.GPU{
			Name: row[0], Driver: row[1], SMClockMHz: row[2], MemClockMHz: row[3],
			TemperatureC: row[4], PowerW: row[5], PowerLimitW: row[6], ThrottleReasons: throttleReasons(row[7]),
		})
	}
	return gpus, nil
}

// throttleBits are nvidia-smi's clocks_throttle_reasons bits (nvml.h).
var throttleBits = []struct {
	bit  uint64
	name string
}{
	{0x1, "gpu_idle"}, {0x2, "applications_clocks_setting"}, {0x4, "sw_power_cap"}, {0x8, "hw_slowdown"},
	{0x10, "sync_boost"}, {0x20, "sw_thermal_slowdown"}, {0x40, "hw_thermal_slowdown"},
	{0x80, "hw_power_brake_slowdown"}, {0x100, "display_clock_setting"},
}

// throttleReasons turns nvidia-smi's bit mask ("0x0000000000000004") into
// names ("sw_power_cap"); "none" for 0, the input for anything else.
func throttleReasons(mask string) string {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(mask), "0x"), 16, 64)
	if err != nil {
		return strings.TrimSpace(mask)
	}
	if v == 0 {
		return "none"
	}
	var names []string
	for _, b := range throttleBits {
		if v&b.bit != 0 {
			names = append(names, b.name)
			v &^= b.bit
		}
	}
	if v != 0 {
		names = append(names, fmt.Sprintf("0x%x", v))
	}
	return strings.Join(names, ",")
}

// truncate cuts s to at most n bytes, at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func numCPU() int { return runtime.NumCPU() }

// firstLine is s up to its first line break, without a trailing CR.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimRight(line, "\r")
}
