package fakesglang

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dumpfmt "github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/report"
)

func TestNoiseIsBoundedAndSpread(t *testing.T) {
	t.Parallel()
	lo, hi, sum, n := 1.0, -1.0, 0.0, 0
	for run := 1; run <= 200; run++ {
		id := runID(envOf("head", fmt.Sprint(run)), "/out/head-01.json", 0)
		for i := 0; i < 50; i++ {
			u := noise(id, i)
			if !(u >= -1 && u < 1) {
				t.Fatalf("noise(%q, %d) = %v, outside [-1, 1)", id, i, u)
			}
			if u != noise(id, i) {
				t.Fatalf("noise(%q, %d) changed between calls", id, i)
			}
			lo, hi, sum, n = min(lo, u), max(hi, u), sum+u, n+1
		}
	}
	// Uniform over [-1, 1): 10,000 draws reach near both ends, mean near 0.
	if lo > -0.99 || hi < 0.99 || math.Abs(sum/float64(n)) > 0.05 {
		t.Errorf("noise over %d draws: min %.3f, max %.3f, mean %.3f; want spread over [-1, 1) around 0", n, lo, hi, sum/float64(n))
	}
}

func TestRunIDNamesTheRun(t *testing.T) {
	t.Parallel()
	id := runID(envOf("head", "1"), "/a/head-01.json", 0)
	if same := runID(envOf("head", "1"), "/b/head-01.json", 0); same != id {
		t.Errorf("the dump's folder changed the id: %q vs %q", same, id)
	}
	for name, other := range map[string]string{
		"side":      runID(envOf("base", "1"), "/a/head-01.json", 0),
		"run":       runID(envOf("head", "2"), "/a/head-01.json", 0),
		"dump name": runID(envOf("head", "1"), "/a/confirm-head-01.json", 0),
		"seed":      runID(envOf("head", "1"), "/a/head-01.json", 7),
	} {
		if other == id {
			t.Errorf("a different %s gave the same id %q", name, id)
		}
	}
	// Without diffperf's variables, each call of a process is a run of its own.
	if a, b := runID(envOf("", ""), "/a/d.json", 0), runID(envOf("", ""), "/a/d.json", 0); a == b {
		t.Errorf("two calls without DIFFPERF_* gave the same id %q", a)
	}
}

// envOf is a getenv with diffperf's variables for one run.
func envOf(side, run string) func(string) string {
	return func(k string) string {
		return map[string]string{"DIFFPERF_SIDE": side, "DIFFPERF_RUN": run}[k]
	}
}

// TestRunWritesToldDurations runs the fake in-process: the same run writes
// the same numbers, another run other numbers, each within ±jitter of the
// workload, with a total that is the sum of the stages.
func TestRunWritesToldDurations(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	const wl = "step_ms=20\nsteps=10\ntext_ms=2\ndecode_ms=5\njitter=0.005\nsleep_scale=0\n"
	if err := os.WriteFile(WorkloadFile, []byte(wl), 0o644); err != nil {
		t.Fatal(err)
	}
	gen := func(side, run, dumpPath string, extra ...string) numbers {
		t.Helper()
		t.Setenv("DIFFPERF_SIDE", side)
		t.Setenv("DIFFPERF_RUN", run)
		if err := os.MkdirAll(filepath.Dir(dumpPath), 0o755); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		args := append([]string{"generate", "--model-path", "m", "--perf-dump-path", dumpPath}, extra...)
		if code := Main(args, &bytes.Buffer{}, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		b, err := os.ReadFile(dumpPath)
		if err != nil {
			t.Fatal(err)
		}
		var n numbers
		if err := json.Unmarshal(b, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := gen("head", "1", filepath.Join(dir, "a", "head-01.json"))
	if again := gen("head", "1", filepath.Join(dir, "b", "head-01.json")); !equal(again, first) {
		t.Errorf("the same run wrote other numbers:\n%+v\n%+v", again, first)
	}
	for name, other := range map[string]numbers{
		"run 2":        gen("head", "2", filepath.Join(dir, "a", "head-02.json")),
		"base":         gen("base", "1", filepath.Join(dir, "a", "base-01.json")),
		"confirmation": gen("head", "1", filepath.Join(dir, "a", "confirm-head-01.json")),
		"--seed 7":     gen("head", "1", filepath.Join(dir, "c", "head-01.json"), "--seed", "7"),
	} {
		if other.Total == first.Total || other.Denoise[0].Ms == first.Denoise[0].Ms {
			t.Errorf("%s wrote the numbers of head run 1: %+v", name, other)
		}
	}

	// Each duration is the told one within ±jitter; the total adds up.
	within := func(what string, got, told float64) {
		if math.Abs(got/told-1) > 0.005+1e-12 {
			t.Errorf("%s = %v ms, more than 0.5%% from %v ms", what, got, told)
		}
	}
	if len(first.Denoise) != 10 {
		t.Fatalf("%d denoise steps, want 10", len(first.Denoise))
	}
	for _, s := range first.Denoise {
		within(fmt.Sprint("step ", s.Step), s.Ms, 20)
	}
	sum := 0.0
	for _, s := range first.Stages {
		sum += s.Ms
		switch s.Name {
		case "TextEncodingStage":
			within(s.Name, s.Ms, 2)
		case "DenoisingStage":
			within(s.Name, s.Ms, 200)
		case "DecodingStage":
			within(s.Name, s.Ms, 5)
		}
	}
	if math.Abs(first.Total-sum) > 1e-9 {
		t.Errorf("total %v ms, want the sum of the stages %v ms", first.Total, sum)
	}
}

// numbers are the durations of a dump.
type numbers struct {
	Total  float64 `json:"total_duration_ms"`
	Stages []struct {
		Name string  `json:"name"`
		Ms   float64 `json:"duration_ms"`
	} `json:"steps"`
	Denoise []struct {
		Step int     `json:"step"`
		Ms   float64 `json:"duration_ms"`
	} `json:"denoise_steps_ms"`
}

func equal(a, b numbers) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestMainRefusesTestOnlyKeys(t *testing.T) {
	for _, tt := range []struct{ line, want string }{
		{"behavior=hang", "behavior=hang: unknown key or behaviour"},
		{"argv_file=/tmp/argv", "argv_file=/tmp/argv: unknown key"},
		{"env_file=/tmp/env", "env_file=/tmp/env: unknown key"},
		{"stpe_ms=20", "stpe_ms=20: unknown key"},
		{"jitter=1.5", `jitter: "1.5" is not below 1`},
	} {
		t.Run(tt.line, func(t *testing.T) {
			t.Chdir(t.TempDir())
			if err := os.WriteFile(WorkloadFile, []byte("step_ms=1\n"+tt.line+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			code := Main([]string{"generate", "--perf-dump-path", "d.json"}, &bytes.Buffer{}, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 naming %q", code, stderr.String(), tt.want)
			}
			if _, err := os.Stat("d.json"); err == nil {
				t.Error("wrote a dump anyway")
			}
		})
	}
}

func TestMainAcceptsBehaviorOK(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile(WorkloadFile, []byte("# a comment\nstep_ms=1\nsleep_scale=0\nbehavior=ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if code := Main([]string{"generate", "--perf-dump-path", "d.json"}, &bytes.Buffer{}, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if _, err := os.Stat("d.json"); err != nil {
		t.Error(err)
	}
}

// TestVerdictsDoNotDependOnLuck checks, for every seed from 0 to 199, the
// verdicts the tests and the demo assert, with the identities diffperf gives
// the runs (side, run, dump name). It holds for any identity too: at most
// ±jitter per stage puts a side's e2e within ±jitter of its sum, so 207 ms
// stays below 208.1 and 227 ms above 225.8.
func TestVerdictsDoNotDependOnLuck(t *testing.T) {
	t.Parallel()
	test := workload{stepMs: 20, steps: 10, textMs: 2, decodeMs: 5, jitter: 0.005, memMB: 1000}
	demo := workload{stepMs: 50, steps: 12, textMs: 5, decodeMs: 10, jitter: 0.01, memMB: 1000}
	testOpt := report.DefaultOptions()
	testOpt.MinDeltaMs = 5
	for _, tt := range []struct {
		name        string
		base        workload
		headStepMs  float64
		runs        int
		opt         report.Options
		wantVerdict report.Verdict
	}{
		{"planted 10%", test, 22, 5, testOpt, report.Regression},
		{"A/A", test, 20, 5, testOpt, report.NoChange},
		{"action's 15%, 4 runs", test, 23, 4, testOpt, report.Regression},
		{"demo, 5 runs", demo, 55, 5, report.DefaultOptions(), report.Regression},
		{"demo, 4 runs", demo, 55, 4, report.DefaultOptions(), report.Regression},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			head := tt.base
			head.stepMs = tt.headStepMs
			for seed := int64(0); seed < 200; seed++ {
				for _, batch := range []string{"", "confirm-"} {
					r := report.Compare(side(t, tt.base, "base", batch, tt.runs, seed), side(t, head, "head", batch, tt.runs, seed), tt.opt)
					if r.Verdict != tt.wantVerdict {
						t.Fatalf("seed %d, batch %q: verdict %s (%s), want %s", seed, batch, r.Verdict, r.Reason, tt.wantVerdict)
					}
					if e2e := r.Metric(report.MetricE2E); tt.wantVerdict == report.NoChange && math.Abs(e2e.DeltaPct) >= 1 {
						t.Fatalf("seed %d: A/A e2e change %.2f%%, want below 1%%", seed, e2e.DeltaPct)
					}
				}
			}
		})
	}
}

// side simulates the runs of one side of a batch as diffperf names them.
func side(t *testing.T, w workload, name, batch string, runs int, seed int64) dumpfmt.Side {
	t.Helper()
	var s dumpfmt.Side
	for i := 1; i <= runs; i++ {
		file := fmt.Sprintf("%s%s-%02d.json", batch, name, i)
		b, _ := json.Marshal(simulate(w, w.steps, runID(envOf(name, fmt.Sprint(i)), "/out/"+file, seed)))
		d, err := dumpfmt.ParseDump(file, b)
		if err != nil {
			t.Fatal(err)
		}
		s.Runs = append(s.Runs, dumpfmt.Run{Index: i, Dump: d})
	}
	return s
}
