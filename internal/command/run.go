package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/protocol"
	"github.com/diffperf/diffperf/internal/report"
)

// measureFlags are the flags of the commands that run a benchmark.
type measureFlags struct {
	model, prompt, command, args string
	runs                         int
	timeout                      time.Duration
	out                          string
	cases                        string // run --cases FILE (cases.go)
	serve                        serveFlags
	// sandbox, sandboxRW and runnerName are --sandbox, --sandbox-rw and
	// --runner-name (sandbox.go).
	sandbox, sandboxRW, runnerName string
}

func (f *measureFlags) register(fs *flag.FlagSet, withModel bool) {
	if withModel {
		fs.StringVar(&f.model, "model", "", "model to benchmark ({model} in the command)")
	}
	fs.StringVar(&f.prompt, "prompt", "A curious raccoon", "generation prompt ({prompt})")
	fs.StringVar(&f.command, "command", bench.DefaultTemplate, "benchmark command template, split into words once, never run by a shell")
	fs.IntVar(&f.runs, "runs", 5, "runs per side")
	f.timeout = 30 * time.Minute
	fs.Var(durationFlag{&f.timeout}, "timeout", "limit for one run, e.g. 30m")
	fs.StringVar(&f.sandbox, "sandbox", "auto", "confine the benchmark: auto (bubblewrap when it works here), bwrap or none")
	fs.StringVar(&f.sandboxRW, "sandbox-rw", "", "more absolute paths, comma-separated, that the sandboxed benchmark may change")
	fs.StringVar(&f.runnerName, "runner-name", "", "name of this machine in the report (the host name is never shown)")
	f.serve.register(fs, withModel)
}

func (f *measureFlags) template() (*bench.Template, []string, error) {
	t, err := bench.ParseTemplate(f.command)
	if err != nil {
		return nil, nil, err
	}
	args, err := bench.SplitWords(f.args)
	if err != nil {
		return nil, nil, input.Wrap("args", err)
	}
	if f.model == "" && strings.Contains(f.serve.modelCommand(f.command), "{model}") && f.cases == "" {
		return nil, nil, input.Errorf("--model", "required, since the command uses {model}")
	}
	if f.runs < 1 {
		return nil, nil, input.Errorf("--runs", "%d is not a positive count", f.runs)
	}
	if f.timeout <= 0 {
		return nil, nil, input.Errorf("--timeout", "%s is not positive", f.timeout)
	}
	return t, args, nil
}

func progressFor(e Env) bench.Progress {
	return &bench.TextProgress{W: e.Stderr, Actions: e.Getenv("GITHUB_ACTIONS") == "true"}
}

func cmdRun(ctx context.Context, args []string, e Env) (f *finding, err error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var mf measureFlags
	mf.register(fs, true)
	var vf verdictFlags
	vf.register(fs)
	var base, head, repo, setup, pythonPath, worktrees string
	var maxRuns int
	var confirm bool
	fs.StringVar(&base, "base", "", "base ref or SHA (its merge base with head is measured)")
	fs.StringVar(&head, "head", "", "head ref or SHA")
	fs.StringVar(&repo, "repo", ".", "the git checkout")
	fs.StringVar(&setup, "setup", "", "command run once in each worktree before its runs (by /bin/sh)")
	fs.StringVar(&pythonPath, "python-path", "python", `folder of the worktree put first on PYTHONPATH ("" for none)`)
	fs.StringVar(&mf.args, "args", "", "extra generate arguments ({args})")
	fs.StringVar(&mf.out, "out", "diffperf-out", "folder for dumps, logs, report.md and result.json")
	fs.StringVar(&worktrees, "worktrees", "", "folder for the worktrees, outside the checkout, yours alone (default: a fresh temporary folder)")
	fs.IntVar(&maxRuns, "max-runs", 0, "runs per side at most when an unclear result earns extra pairs (default: --runs)")
	fs.BoolVar(&confirm, "confirm", true, "re-measure an apparent regression with an independent batch before it counts")
	fs.StringVar(&mf.cases, "cases", "", "YAML or JSON list of cases, run one after the other on the same worktrees (each field defaults to its flag)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, input.Errorf("run", "unexpected argument %q", pos[0])
	}
	if base == "" || head == "" {
		return nil, input.Errorf("run", "--base and --head are required")
	}
	if err := vf.check(); err != nil {
		return nil, err
	}
	t, gargs, err := mf.template()
	if err != nil {
		return nil, err
	}
	if maxRuns == 0 {
		maxRuns = mf.runs
	}
	serve, err := mf.serve.serve(fs)
	if err != nil {
		return nil, err
	}
	// Every input is checked before the out folder is made, so that a
	// refused run leaves nothing behind.
	if err := checkCheckout(ctx, repo, base, head, e); err != nil {
		return nil, err
	}
	sb, rw, err := mf.confine(ctx, e)
	if err != nil {
		return nil, err
	}
	if err := prepareOutTo(mf.out, e.Stderr); err != nil {
		return nil, err
	}
	defer sealOutInto(&err, mf.out)
	spec := bench.Spec{
		Repo: repo, BaseRef: base, HeadRef: head, Template: t, Model: mf.model, Prompt: mf.prompt, Args: gargs,
		Setup: setup, PythonPath: pythonPath, Timeout: mf.timeout,
		OutDir: mf.out, WorktreeRoot: worktrees, Env: e.Environ(), Progress: progressFor(e), Serve: serve,
		Sandbox: sb, SandboxRW: rw, RunnerName: mf.runnerName,
	}
	plan := mf.serve.plan(mf.runs, maxRuns, confirm, vf.opt)
	if mf.cases != "" {
		if mf.serve.serving() {
			return nil, input.Errorf("--cases", "not with --mode serve yet: give each case's mode in the file (only generate for now)")
		}
		return runCasesFile(ctx, spec, plan, mf, vf, e)
	}
	return measureAndReport(ctx, spec, plan, reproduceLine(spec, plan), vf, e)
}

// checkCheckout refuses a repo that is not a git checkout and refs that
// name no commit, as the measurement would, but before anything is
// written. A dirty checkout measured at --head HEAD gets a warning: the
// worktrees hold the commit, not the edits.
func checkCheckout(ctx context.Context, repo, base, head string, e Env) error {
	if fi, err := os.Stat(repo); err != nil || !fi.IsDir() {
		return input.Errorf("--repo", "%s is not a folder: give the path of a git checkout", repo)
	}
	g := bench.Git{Dir: repo, Env: bench.FilterEnv(e.Environ(), nil)}
	if _, err := g.Toplevel(ctx); err != nil {
		return input.Errorf("--repo", "%s is not a git checkout: %w", repo, err)
	}
	sha, err := g.ResolveCommit(ctx, head)
	if err != nil {
		return err
	}
	if _, err := g.ResolveCommit(ctx, base); err != nil {
		return err
	}
	if head == "HEAD" {
		if dirty, err := g.Dirty(ctx); err == nil && dirty {
			fmt.Fprintf(e.Stderr, "diffperf: warning: --head HEAD: %s has uncommitted changes, which are not measured: the head side is the commit %.12s (commit the changes to measure them)\n", repo, sha)
		}
	}
	return nil
}

// reproduceLine is the `diffperf run` command that repeats a measurement.
func reproduceLine(s bench.Spec, p protocol.Plan) string {
	argv := []string{"diffperf", "run", "--base", s.BaseRef, "--head", s.HeadRef}
	if s.Serve != nil {
		argv = append(argv, serveArgs(s.Serve, p)...)
	} else {
		argv = append(argv, "--runs", fmt.Sprint(p.Runs))
		if p.MaxRuns != p.Runs {
			argv = append(argv, "--max-runs", fmt.Sprint(p.MaxRuns))
		}
	}
	if s.Model != "" {
		argv = append(argv, "--model", s.Model)
	}
	argv = append(argv, "--prompt", s.Prompt)
	if len(s.Args) > 0 {
		argv = append(argv, "--args", bench.QuoteWords(s.Args))
	}
	if w := strings.Join(s.Template.Words(), " "); s.Serve == nil && w != strings.Join(mustWords(bench.DefaultTemplate), " ") {
		argv = append(argv, "--command", bench.QuoteWords(s.Template.Words()))
	}
	if s.Setup != "" {
		argv = append(argv, "--setup", s.Setup)
	}
	if p.Options != report.DefaultOptions() {
		o := p.Options
		argv = append(argv, "--threshold", report.FormatNum(o.ThresholdPct)+"%", "--min-delta-ms", report.FormatNum(o.MinDeltaMs),
			"--memory-threshold", report.FormatNum(o.MemoryThresholdPct)+"%", "--alpha", report.FormatNum(o.Alpha))
	}
	return bench.QuoteWords(argv)
}

func mustWords(s string) []string {
	w, _ := bench.SplitWords(s)
	return w
}

// measureAndReport runs the measurement, saves and prints the report, and
// returns what it found.
func measureAndReport(ctx context.Context, spec bench.Spec, plan protocol.Plan, reproduce string, vf verdictFlags, e Env) (*finding, error) {
	r, err := protocol.Measure(ctx, spec, plan)
	if r == nil {
		return nil, err
	}
	r.Reproduce = reproduce
	secrets := bench.SecretValues(spec.Env, spec.RedactNames)
	return &finding{r, vf.failOnRegression}, emit(e, single(r), spec.OutDir, vf.format, secrets, interrupted(r, err))
}

// interrupted is err, told as an interruption when the measurement was
// canceled before it could decide (the runs of r are kept).
func interrupted(r *report.Result, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted: the measurement was canceled before it could decide (%d+%d runs measured; the dumps and logs are kept)", len(r.Base.Runs), len(r.Head.Runs))
	}
	return err
}

func cmdBench(ctx context.Context, args []string, e Env) (f *finding, err error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var mf measureFlags
	mf.register(fs, false)
	var vf verdictFlags
	vf.register(fs)
	var baseline string
	fs.StringVar(&baseline, "baseline", "", "dump file or folder to compare against")
	fs.StringVar(&mf.out, "out", "", "folder for the dumps and logs (default: a new temporary folder, named at the end)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	// MODEL is the first argument when the command uses {model}; the rest
	// are extra generate arguments.
	if strings.Contains(mf.serve.modelCommand(mf.command), "{model}") {
		if len(pos) == 0 {
			return nil, input.Errorf("MODEL", "needed, since the command uses {model}: diffperf bench MODEL [flags]")
		}
		mf.model, pos = pos[0], pos[1:]
	}
	mf.args = bench.QuoteWords(pos)
	if err := vf.check(); err != nil {
		return nil, err
	}
	t, gargs, err := mf.template()
	if err != nil {
		return nil, err
	}
	serve, err := mf.serve.serve(fs)
	if err != nil {
		return nil, err
	}
	runs := mf.runs
	if serve != nil {
		runs = mf.serve.launches
	}
	var base []dump.Run
	if baseline != "" {
		if base, err = loadSide(baseline); err != nil {
			return nil, err
		}
	}
	if mf.out == "" {
		// Not in the checkout, where it would show as untracked files.
		if mf.out, err = os.MkdirTemp("", "diffperf-bench-"); err != nil {
			return nil, err
		}
	}
	if err := prepareOutTo(mf.out, e.Stderr); err != nil {
		return nil, err
	}
	defer sealOutInto(&err, mf.out)
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	sb, rw, err := mf.confine(ctx, e)
	if err != nil {
		return nil, err
	}
	measured, failure, err := bench.Repeat(ctx, bench.RepeatSpec{
		Dir: dir, Template: t, Model: mf.model, Prompt: mf.prompt, Args: gargs, Runs: runs,
		Timeout: mf.timeout, OutDir: mf.out, Env: e.Environ(), Progress: progressFor(e), Serve: serve,
		Sandbox: sb, SandboxRW: rw,
	})
	if err != nil {
		return nil, err
	}
	if failure != nil {
		if failure.LogTail != "" {
			fmt.Fprintln(e.Stderr, "--- end of its log ---")
			tail := untrustedOut(e, e.Stderr)
			fmt.Fprintln(tail, failure.LogTail)
			tail.Close()
		}
		return nil, fmt.Errorf("%s", failure.Reason)
	}
	vals := make([]float64, len(measured))
	for i, r := range measured {
		vals[i] = r.Dump.TotalMs
	}
	fmt.Fprintf(e.Stderr, "dumps and logs: %s\n", mf.out)
	fmt.Fprintf(e.Stdout, "median e2e: %.2f s over %d runs (min %.2f s, max %.2f s)\n", report.Median(vals)/1000, len(vals), slices.Min(vals)/1000, slices.Max(vals)/1000)
	printLaunches(e.Stdout, measured)
	if base == nil {
		return nil, nil
	}
	orderRuns(base, measured)
	r := report.Compare(dump.Side{Label: "Baseline", Runs: base}, dump.Side{Label: "New", Runs: measured}, vf.opt)
	fmt.Fprintln(e.Stdout)
	return vf.emit(e, single(r))
}
