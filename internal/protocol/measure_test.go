package protocol

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/fakesglang"
	"github.com/diffperf/diffperf/internal/fakesglang/fakerepo"
	"github.com/diffperf/diffperf/internal/report"
)

// fakeDir holds the fake sglang, built once by TestMain, for PATH.
var fakeDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fakesglang-")
	if err != nil {
		panic(err)
	}
	if _, err := fakesglang.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fakeDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// measureFake runs the whole protocol on the fake sglang of a repository
// whose main~1 and main carry the workloads base and head, with
// test-sized thresholds (5 %, 5 ms).
func measureFake(t *testing.T, base, head string, p Plan) *report.Result {
	t.Helper()
	repo, _ := fakerepo.New(t, base, head)
	tmpl, err := bench.ParseTemplate(bench.DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	spec := bench.Spec{
		Repo: repo, BaseRef: "main~1", HeadRef: "main", Template: tmpl, Model: "test/model", Prompt: "A curious raccoon",
		PythonPath: "python", Timeout: time.Minute, OutDir: out,
		Env: append(os.Environ(), "PATH="+fakeDir+string(os.PathListSeparator)+os.Getenv("PATH")),
	}
	p.Options = report.DefaultOptions()
	p.Options.MinDeltaMs = 5
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := Measure(ctx, spec, p)
	if err != nil {
		t.Fatalf("Measure: %v", err)
	}
	if out := fakerepo.Git(t, repo, "worktree", "list"); strings.Count(out, "\n") != 0 {
		t.Errorf("worktrees left behind:\n%s", out)
	}
	if r.Model != "test/model" || !strings.Contains(r.Command, "--prompt 'A curious raccoon'") {
		t.Errorf("model %q, command %q: the report lacks the case", r.Model, r.Command)
	}
	return r
}

func TestMeasurePlantedSlowdownIsConfirmedRegression(t *testing.T) {
	t.Parallel()
	r := measureFake(t, fakerepo.Workload(), fakerepo.Workload("step_ms", "22"), Plan{Runs: 5, MaxRuns: 5, Confirm: true})
	if r.Verdict != report.Regression {
		t.Fatalf("verdict = %s (%s), want regression", r.Verdict, r.Reason)
	}
	e2e := r.Metric(report.MetricE2E)
	if e2e.P >= 0.05 || e2e.DeltaPct < 5 {
		t.Errorf("e2e change %.1f%% p=%.3f, want > 5%% with p < 0.05", e2e.DeltaPct, e2e.P)
	}
	if r.Confirmation == nil || r.Confirmation.Verdict != report.Regression || len(r.Confirmation.Base.Runs) != 5 {
		t.Fatalf("confirmation = %+v, want a confirming regression batch of 5 runs a side", r.Confirmation)
	}
	if r.Env == nil || r.Env.Host == "" {
		t.Errorf("environment = %+v, want the host at least", r.Env)
	}
}

func TestMeasureUnconfirmedRegressionIsInconclusive(t *testing.T) {
	t.Parallel()
	// Head is slow in the first batch only: the second batch refutes it.
	r := measureFake(t, fakerepo.Workload(), fakerepo.Workload("step_ms", "22", "confirm_step_ms", "20"), Plan{Runs: 5, MaxRuns: 5, Confirm: true})
	if r.Verdict != report.Inconclusive || !strings.Contains(r.Reason, "not confirmed") {
		t.Errorf("verdict = %s (%s), want inconclusive: not confirmed", r.Verdict, r.Reason)
	}
}

func TestMeasureExtraPairsSettleAnUnclearResult(t *testing.T) {
	t.Parallel()
	// 3 runs a side cannot be significant; the clear slowdown earns extra
	// pairs up to max-runs, where it can.
	r := measureFake(t, fakerepo.Workload(), fakerepo.Workload("step_ms", "24"), Plan{Runs: 3, MaxRuns: 5})
	if n := len(r.Base.Runs); n != 5 {
		t.Errorf("%d base runs, want 5 (3 + extra pairs)", n)
	}
	if r.Verdict != report.Regression {
		t.Errorf("verdict = %s (%s), want regression after extra pairs", r.Verdict, r.Reason)
	}
}

func TestMeasureSetupFailure(t *testing.T) {
	t.Parallel()
	repo, _ := fakerepo.New(t, fakerepo.Workload(), fakerepo.Workload())
	tmpl, _ := bench.ParseTemplate(bench.DefaultTemplate)
	out := t.TempDir()
	spec := bench.Spec{Repo: repo, BaseRef: "main~1", HeadRef: "main", Template: tmpl, Model: "m", Prompt: "p",
		Setup: "echo broken setup; exit 3", Timeout: time.Minute, OutDir: out, Env: os.Environ()}
	r, err := Measure(context.Background(), spec, Plan{Runs: 2, MaxRuns: 2, Options: report.DefaultOptions()})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != report.Failed || r.Failure.Side != "base" || !strings.Contains(r.Failure.LogTail, "broken setup") {
		t.Errorf("verdict %s, failure %+v; want failed at the base's setup with its log", r.Verdict, r.Failure)
	}
	if _, err := os.Stat(filepath.Join(out, "setup-base.log")); err != nil {
		t.Errorf("setup log: %v", err)
	}
}
