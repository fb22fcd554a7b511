package protocol

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/fakesglang/fakerepo"
	"github.com/diffperf/diffperf/internal/report"
)

func TestServePlan(t *testing.T) {
	t.Parallel()
	opt := report.DefaultOptions()
	if p := ServePlan(2, 0, true, opt); p.Runs != 2 || p.MaxRuns != 4 || !p.Serve || !p.Confirm {
		t.Errorf("ServePlan(2, 0) = %+v, want 2 launches, up to 4 (a launch-level test needs 4 at α=0.05)", p)
	}
	if p := ServePlan(6, 0, true, opt); p.MaxRuns != 6 {
		t.Errorf("ServePlan(6, 0).MaxRuns = %d, want 6", p.MaxRuns)
	}
	if p := ServePlan(2, 8, true, opt); p.MaxRuns != 8 {
		t.Errorf("ServePlan(2, 8).MaxRuns = %d, want 8", p.MaxRuns)
	}
	if err := ServePlan(0, 0, true, opt).Validate(); err == nil || err.Error() != "launches: 0 is not a positive count" {
		t.Errorf("Validate = %v", err)
	}
	if err := ServePlan(4, 3, true, opt).Validate(); err == nil || err.Error() != "max-launches: 3 is less than launches (4)" {
		t.Errorf("Validate = %v", err)
	}
}

// launchSampler is a Sampler of warm servers: each pair is one launch a
// side of requests samples; value gives each sample.
type launchSampler struct {
	requests int
	value    func(batch, side string, launch, request int) float64
	runs     map[string][2][]dump.Run
	order    int
	steps    []string
}

func (s *launchSampler) Pair(_ context.Context, batch string) *dump.Failure {
	runs := s.runs[batch]
	for i, name := range []string{"base", "head"} {
		launch := len(runs[i])/s.requests + 1
		for r := 1; r <= s.requests; r++ {
			s.order++
			runs[i] = append(runs[i], dump.Run{Index: len(runs[i]) + 1, Order: s.order, Launch: launch, Request: r,
				Dump: &dump.Dump{TotalMs: s.value(batch, name, launch, r)}})
		}
	}
	s.runs[batch] = runs
	return nil
}

func (s *launchSampler) Sides(batch string) (base, head dump.Side) {
	r := s.runs[batch]
	return dump.Side{Runs: r[0]}, dump.Side{Runs: r[1]}
}
func (s *launchSampler) Expect(int)      {}
func (s *launchSampler) Step(msg string) { s.steps = append(s.steps, msg) }

// u is a deterministic spread in [-1, 1] for a sample.
func u(batch, side string, launch, request, salt int) float64 {
	return math.Sin(float64(len(batch)*1009 + len(side)*7919 + launch*131 + request*17 + salt))
}

func TestDecideServe(t *testing.T) {
	t.Parallel()
	opt := report.Options{ThresholdPct: 2, MinDeltaMs: 5, MemoryThresholdPct: 2, Alpha: 0.05}
	tests := []struct {
		name         string
		value        func(batch, side string, launch, request int) float64
		want         report.Verdict
		wantLaunches int // launches a side in the first batch
		wantSamples  string
	}{
		{
			// Strong launch offsets (±5 %), both head launches slow at
			// first: the extra launches and the launch medians keep it
			// from a regression.
			name: "A/A, strong launch offsets",
			value: func(batch, side string, launch, request int) float64 {
				off := 0.05 * u(batch, side, launch, 0, 3)
				if side == "head" && launch <= 2 {
					off = 0.05
				}
				return 1000 * (1 + off) * (1 + 0.002*u(batch, side, launch, request, 5))
			},
			want: report.Inconclusive, wantLaunches: 4, wantSamples: report.SamplesLaunches,
		},
		{
			name: "+3 %, small launch offsets",
			value: func(batch, side string, launch, request int) float64 {
				v := 1000 * (1 + 0.003*u(batch, side, launch, 0, 7)) * (1 + 0.004*u(batch, side, launch, request, 11))
				if side == "head" {
					v *= 1.03
				}
				return v
			},
			// The launches of a side do not look alike enough to pool
			// their requests (p < 0.7): 2 more launches a side let the
			// launch medians show it.
			want: report.Regression, wantLaunches: 4, wantSamples: report.SamplesLaunches,
		},
		{
			name: "A/A, launches alike",
			value: func(batch, side string, launch, request int) float64 {
				return 1000 * (1 + 0.004*u(batch, side, launch, request, 13))
			},
			want: report.NoChange, wantLaunches: 2, wantSamples: report.SamplesRequests,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &launchSampler{requests: 5, value: tt.value, runs: map[string][2][]dump.Run{}}
			r := Decide(context.Background(), s, ServePlan(2, 0, true, opt))
			if r.Verdict != tt.want {
				t.Errorf("verdict %s (%s), want %s; steps %q", r.Verdict, r.Reason, tt.want, s.steps)
			}
			if n := len(r.Base.Runs) / 5; n != tt.wantLaunches {
				t.Errorf("%d launches a side, want %d", n, tt.wantLaunches)
			}
			if e2e := r.Metric(report.MetricE2E); tt.wantSamples != "" && e2e.Samples != tt.wantSamples {
				t.Errorf("e2e judged on %s (launch p=%.3f), want %s", e2e.Samples, e2e.LaunchP, tt.wantSamples)
			}
			if tt.want == report.Regression && (r.Confirmation == nil || len(r.Confirmation.Base.Runs) < 10) {
				t.Errorf("confirmation %+v, want an independent batch of fresh launches", r.Confirmation)
			}
		})
	}
}

// The confirming batch earns extra pairs too, up to max-runs, when it is
// unclear (in both modes).
func TestDecideConfirmationEarnsExtraPairs(t *testing.T) {
	t.Parallel()
	slow := [2][]float64{ms(1000, 5), ms(1100, 5)}
	unclear := [2][]float64{{1000, 1101, 1002, 1003, 1004, 1005, 1006}, {1100, 1001, 1102, 1103, 1104, 1105, 1106}}
	s := newSampler([2][]float64{ms(1000, 3), ms(1100, 3)}, unclear)
	s.values[First] = [2][]float64{append(ms(1000, 3), slow[0]...), append(ms(1100, 3), slow[1]...)}
	r := Decide(context.Background(), s, plan(3, 7, true))
	if n := len(r.Base.Runs); n != 5 {
		t.Errorf("first batch: %d runs a side, want 3 + 2 extra", n)
	}
	if r.Confirmation == nil || len(r.Confirmation.Base.Runs) != 7 {
		t.Fatalf("confirmation %+v, want 3 + 4 extra runs a side", r.Confirmation)
	}
	if r.Verdict != report.Regression {
		t.Errorf("verdict %s (%s), want a confirmed regression", r.Verdict, r.Reason)
	}
}

// measureServeFake runs the whole protocol in mode serve on the fake
// sglang of a repository whose main~1 and main carry the workloads base and
// head: 5 requests a launch after 1 warm-up, thresholds 5 % and 5 ms.
func measureServeFake(t *testing.T, base, head string, launches int, timeout time.Duration) (*report.Result, string) {
	t.Helper()
	repo, _ := fakerepo.New(t, base, head)
	tmpl, _ := bench.ParseTemplate(bench.DefaultTemplate)
	serveTmpl, err := bench.ParseServeTemplate(bench.DefaultServeTemplate)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	root := t.TempDir()
	spec := bench.Spec{
		Repo: repo, BaseRef: "main~1", HeadRef: "main", Template: tmpl, Model: "test/model", Prompt: "A curious raccoon",
		PythonPath: "python", Timeout: timeout, OutDir: out, WorktreeRoot: filepath.Join(root, "worktrees"),
		Env: append(os.Environ(), "PATH="+fakeDir+string(os.PathListSeparator)+os.Getenv("PATH")),
		Serve: &bench.Serve{Template: serveTmpl, Endpoint: bench.EndpointImages, Requests: 5, Warmup: 1, Together: bench.TogetherNo,
			Request: map[string]json.RawMessage{"seed": json.RawMessage("7")}},
	}
	opt := report.DefaultOptions()
	opt.MinDeltaMs = 5
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := Measure(ctx, spec, ServePlan(launches, 0, true, opt))
	if err != nil {
		t.Fatalf("Measure: %v", err)
	}
	if entries, _ := os.ReadDir(spec.WorktreeRoot); len(entries) != 0 {
		t.Errorf("worktrees left behind: %v", entries)
	}
	if out := fakerepo.Git(t, repo, "worktree", "list"); strings.Count(out, "\n") != 0 {
		t.Errorf("worktrees still registered:\n%s", out)
	}
	serversGone(t, out)
	return r, out
}

var pidRE = regexp.MustCompile(`(?:pid|grandchild) (\d+)`)

// serversGone checks that every process the server logs in out name has
// ended (a killed process may take a moment on a loaded machine).
func serversGone(t *testing.T, out string) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(out, "*launch*.log"))
	if len(logs) == 0 {
		t.Fatal("no server logs")
	}
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		for _, m := range pidRE.FindAllStringSubmatch(string(b), -1) {
			pid, _ := strconv.Atoi(m[1])
			alive := true
			for i := 0; i < 500 && alive; i++ {
				stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
				alive = err == nil && !strings.Contains(string(stat), ") Z ")
				if alive {
					time.Sleep(20 * time.Millisecond)
				}
			}
			if alive {
				t.Errorf("process %d of %s is still running", pid, filepath.Base(l))
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

func TestMeasureServeFindsPlantedSlowdown(t *testing.T) {
	t.Parallel()
	w := func(stepMs string) string {
		return fakerepo.Workload("step_ms", stepMs, "sleep_scale", "0", "launch_jitter", "0.002", "load_ms", "20")
	}
	r, _ := measureServeFake(t, w("20"), w("22"), 2, time.Minute)
	if r.Verdict != report.Regression {
		t.Fatalf("verdict %s (%s), want regression", r.Verdict, r.Reason)
	}
	e2e := r.Metric(report.MetricE2E)
	if e2e.DeltaPct < 8 || e2e.DeltaPct > 12 {
		t.Errorf("e2e change %.1f%%, want about +10%%", e2e.DeltaPct)
	}
	// Launch offsets of ±0.2 % stand out against request noise that
	// averages out over the steps: each launch is a sample, and it takes
	// 4 launches a side to show significance, in both batches.
	if c := r.Confirmation; c == nil || c.Verdict != report.Regression || len(c.Launches) != 8 {
		t.Errorf("confirmation %v, want a regression on 4+4 fresh launches", c != nil && c.Verdict == report.Regression)
	}
	if !strings.Contains(r.Command, "sglang serve --model-path test/model --port {port}") || !strings.Contains(r.Command, `"seed":7`) {
		t.Errorf("command %q lacks the server or the request", r.Command)
	}
	t.Logf("e2e %+.1f%%, p=%.3f, judged on %s (launch p=%.2f)", e2e.DeltaPct, e2e.P, e2e.Samples, e2e.LaunchP)
}

// An A/A in mode serve with launch offsets of up to ±8 % and 0.2 % noise
// between requests: no regression, although requests taken as samples
// would call the same data a significant change.
func TestMeasureServeAAWithLaunchOffsets(t *testing.T) {
	t.Parallel()
	w := fakerepo.Workload("sleep_scale", "0", "jitter", "0.002", "launch_jitter", "0.08")
	r, _ := measureServeFake(t, w, w, 2, time.Minute)
	if r.Verdict == report.Regression || r.Verdict == report.Failed {
		t.Fatalf("verdict %s (%s), want no regression", r.Verdict, r.Reason)
	}
	e2e := r.Metric(report.MetricE2E)
	if e2e.Samples != report.SamplesLaunches {
		t.Errorf("e2e judged on %s (launch p=%.3f), want launch medians", e2e.Samples, e2e.LaunchP)
	}
	naive := report.Compare(unlaunched(r.Base), unlaunched(r.Head), r.Options).Metric(report.MetricE2E)
	if naive.P >= 0.05 || math.Abs(naive.DeltaPct) < 5 {
		t.Errorf("requests as samples: %+.1f%%, p=%.3f; the test data no longer show what launch offsets do", naive.DeltaPct, naive.P)
	}
	t.Logf("verdict %s: e2e %+.1f%% on %d+%d launches (launch p=%.2g); %s", r.Verdict, e2e.DeltaPct, len(e2e.Base.Values), len(e2e.Head.Values), e2e.LaunchP, r.Reason)
}

func TestMeasureServeAA(t *testing.T) {
	t.Parallel()
	w := fakerepo.Workload("sleep_scale", "0", "launch_jitter", "0.001")
	r, _ := measureServeFake(t, w, w, 2, time.Minute)
	if r.Verdict != report.NoChange {
		t.Fatalf("verdict %s (%s), want no-change", r.Verdict, r.Reason)
	}
}

func TestMeasureServeFailures(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, behavior string
		timeout        time.Duration
		want           string
	}{
		{"dies on request 3", "die-on-request", time.Minute, "request 3 of launch 1 of head: the server exited"},
		{"never healthy", "never-healthy", 3 * time.Second, "launch 1 of head: the server was not healthy after 3s (the timeout)"},
		{"leaves a grandchild", "grandchild", time.Minute, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok := fakerepo.Workload("sleep_scale", "0")
			bad := fakerepo.Workload("sleep_scale", "0", "behavior", tt.behavior, "request", "3")
			r, _ := measureServeFake(t, ok, bad, 2, tt.timeout)
			if tt.want == "" {
				if r.Verdict == report.Failed {
					t.Errorf("failed: %s", r.Reason)
				}
				return
			}
			if r.Verdict != report.Failed || r.Failure.Side != "head" || !strings.Contains(r.Reason, tt.want) {
				t.Errorf("verdict %s (%s), want failed: %s", r.Verdict, r.Reason, tt.want)
			}
		})
	}
}

// unlaunched forgets which launch each sample came from.
func unlaunched(s dump.Side) dump.Side {
	out := s
	out.Runs = nil
	for _, r := range s.Runs {
		r.Launch, r.Request = 0, 0
		out.Runs = append(out.Runs, r)
	}
	return out
}
