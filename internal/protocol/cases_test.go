package protocol

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/fakesglang/fakerepo"
	"github.com/diffperf/diffperf/internal/report"
)

// TestMeasureCases runs three cases on one pair of worktrees, set up once:
// the head's denoising step is 3 ms slower, which is a regression for a
// 10-step case, within min-delta-ms for a 1-step case, and a case whose
// command fails is failed without stopping the next one.
func TestMeasureCases(t *testing.T) {
	t.Parallel()
	repo, _ := fakerepo.New(t, fakerepo.Workload(), fakerepo.Workload("step_ms", "23"))
	tmpl, _ := bench.ParseTemplate(bench.DefaultTemplate)
	broken, _ := bench.ParseTemplate("false {dump}")
	out := t.TempDir()
	setups := filepath.Join(t.TempDir(), "setups")
	spec := bench.Spec{Repo: repo, BaseRef: "main~1", HeadRef: "main", PythonPath: "python", Timeout: time.Minute, OutDir: out,
		Setup: "echo $DIFFPERF_SIDE >> " + setups, Template: tmpl,
		Env: append(os.Environ(), "PATH="+fakeDir+string(os.PathListSeparator)+os.Getenv("PATH"))}
	var cases []Case
	for _, c := range []struct {
		name string
		t    *bench.Template
		args []string
	}{{"slow", tmpl, nil}, {"broken", broken, nil}, {"quick", tmpl, []string{"--num-inference-steps", "1"}}} {
		dir := filepath.Join(out, c.name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, Case{Name: c.name, Bench: bench.Case{Template: c.t, Model: "test/" + c.name, Prompt: "A curious raccoon", Args: c.args, OutDir: dir}})
	}
	p := Plan{Runs: 4, MaxRuns: 4, Options: report.DefaultOptions()}
	p.Options.MinDeltaMs = 5
	var done []string
	rs, err := MeasureCases(context.Background(), spec, p, cases, func(r *report.Result) { done = append(done, r.Case) })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(done, ",") != "slow,broken,quick" || len(rs) != 3 {
		t.Fatalf("done %v, %d results", done, len(rs))
	}
	for i, want := range []report.Verdict{report.Regression, report.Failed, report.NoChange} {
		r := rs[i]
		if r.Verdict != want || r.Case != cases[i].Name || r.Model != "test/"+r.Case {
			t.Errorf("case %s: verdict %s (%s), model %q; want %s", r.Case, r.Verdict, r.Reason, r.Model, want)
		}
		if r.Verdict == report.Failed {
			continue
		}
		// Each case's runs start at 1 and their dumps are in its folder.
		run := r.Base.Runs[0]
		if _, err := os.Stat(filepath.Join(cases[i].Bench.OutDir, run.Dump.Name)); run.Index != 1 || run.Order != 1 || err != nil {
			t.Errorf("case %s: first base run %+v (%v), want run 1 in %s", r.Case, run, err, cases[i].Bench.OutDir)
		}
		if !strings.Contains(r.Command, "--perf-dump-path head-01.json") || r.Env == nil {
			t.Errorf("case %s: command %q env %v", r.Case, r.Command, r.Env)
		}
	}
	if !strings.Contains(rs[1].Reason, "run 1 of base") {
		t.Errorf("broken case: %s", rs[1].Reason)
	}
	if b, _ := os.ReadFile(setups); string(b) != "base\nhead\n" {
		t.Errorf("setup ran %q, want once a side", b)
	}
	if out := fakerepo.Git(t, repo, "worktree", "list"); strings.Count(out, "\n") != 0 {
		t.Errorf("worktrees left behind:\n%s", out)
	}
}

func TestMeasureCasesSetupFailureFailsEveryCase(t *testing.T) {
	t.Parallel()
	repo, _ := fakerepo.New(t, fakerepo.Workload(), fakerepo.Workload())
	tmpl, _ := bench.ParseTemplate(bench.DefaultTemplate)
	out := t.TempDir()
	spec := bench.Spec{Repo: repo, BaseRef: "main~1", HeadRef: "main", Template: tmpl, Setup: "exit 3", Timeout: time.Minute, OutDir: out, Env: os.Environ()}
	cases := []Case{{"a", bench.Case{Template: tmpl, Model: "m", OutDir: out}}, {"b", bench.Case{Template: tmpl, Model: "m", OutDir: out}}}
	rs, err := MeasureCases(context.Background(), spec, Plan{Runs: 2, MaxRuns: 2, Options: report.DefaultOptions()}, cases, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Verdict != report.Failed || !strings.Contains(r.Reason, "setup of base") {
			t.Errorf("case %s: %s (%s), want failed at setup", r.Case, r.Verdict, r.Reason)
		}
	}
}
