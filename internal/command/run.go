package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/diffperf/diffperf/internal/action"
	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/git"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/proc"
	"github.com/diffperf/diffperf/internal/protocol"
	"github.com/diffperf/diffperf/internal/report"
)

// runHelp is what `diffperf run --help` prints above its flags.
const runHelp = `usage: diffperf run --base REF --head REF [flags]

Benchmarks the merge base of REF and HEAD against HEAD in worktrees of the
checkout, interleaved, with the measurement protocol (extra pairs while
unclear, a confirming batch for a regression), and prints the report.`

func cmdRun(ctx context.Context, args []string, e Env) (f *finding, err error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var mf measureFlags
	mf.register(fs, true)
	var vf verdictFlags
	vf.register(fs)
	var base, head, repo, setup, pythonPath, worktrees string
	var maxRuns int
	var confirm bool
	var profileWhen string
	fs.StringVar(&base, "base", "", "base ref or SHA (its merge base with head is measured)")
	fs.StringVar(&head, "head", "", "head ref or SHA")
	fs.StringVar(&repo, "repo", ".", "the git checkout")
	fs.StringVar(&setup, "setup", "", "command run once in each worktree before its runs (by /bin/sh)")
	fs.StringVar(&pythonPath, "python-path", action.DefaultPythonPath, `folder of the worktree put first on PYTHONPATH ("" for none)`)
	fs.StringVar(&mf.args, "args", "", "extra generate arguments ({args})")
	fs.StringVar(&mf.out, "out", "diffperf-out", "folder for dumps, logs, report.md and result.json")
	fs.StringVar(&worktrees, "worktrees", "", "folder for the worktrees, outside the checkout, yours alone (default: a fresh temporary folder)")
	fs.IntVar(&maxRuns, "max-runs", 0, "runs per side at most when an unclear result earns extra pairs (default: --runs)")
	fs.BoolVar(&confirm, "confirm", true, "re-measure an apparent regression with an independent batch before it counts")
	fs.StringVar(&profileWhen, "profile", protocol.ProfileAuto, "auto (after a confirmed regression), always or off: one profiled run a side, never timed (docs/profile.md)")
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
	if profileWhen, err = protocol.ParseProfile("--profile", profileWhen); err != nil {
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
	plan.Profile = profileWhen
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
	g := git.Repo{Dir: repo, Env: proc.FilterEnv(e.Environ(), nil)}
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
