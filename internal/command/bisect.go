package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/bisect"
	"github.com/diffperf/diffperf/internal/git"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/proc"
	"github.com/diffperf/diffperf/internal/protocol"
)

const bisectHelp = `usage: diffperf bisect --good REF --bad REF [flags]

Finds the first-parent commit after --good up to --bad that made the
change: good and bad measured first, then each midpoint against both with
the measurement protocol (skipped when it fails to build or run), and the
culprit confirmed against its parent. Takes run's flags; see docs/bisect.md.`

// cmdBisect is `diffperf bisect --good G --bad B [run flags]`: the
// first-parent commit between G and B that made the change
// (docs/bisect.md). It exits 0 with or without a culprit, 2 when a ref is
// unknown or G is not an ancestor of B, 3 when it could not measure.
func cmdBisect(ctx context.Context, args []string, e Env) (err error) {
	fs := flag.NewFlagSet("bisect", flag.ContinueOnError)
	var mf measureFlags
	mf.register(fs, true)
	var vf verdictFlags
	vf.register(fs)
	var good, bad, repo, setup, pythonPath, worktrees string
	var maxRuns int
	var confirm bool
	fs.StringVar(&good, "good", "", "a commit (ref or SHA) before the change")
	fs.StringVar(&bad, "bad", "", "a later commit, after the change; --good must be an ancestor of it")
	fs.StringVar(&repo, "repo", ".", "the git checkout")
	fs.StringVar(&setup, "setup", "", "command run once in each worktree before its runs (by /bin/sh)")
	fs.StringVar(&pythonPath, "python-path", "python", `folder of the worktree put first on PYTHONPATH ("" for none)`)
	fs.StringVar(&mf.args, "args", "", "extra generate arguments ({args})")
	fs.StringVar(&mf.out, "out", "diffperf-bisect", "folder for bisect.md, bisect.json and a folder of dumps and logs per comparison")
	fs.StringVar(&worktrees, "worktrees", "", "folder for the worktrees, outside the checkout, yours alone (default: a fresh temporary folder)")
	fs.IntVar(&maxRuns, "max-runs", 0, "runs per side at most when a step is unclear (default: --runs + 5)")
	fs.BoolVar(&confirm, "confirm", true, "confirm the culprit against its parent with an independent batch")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return input.Errorf("bisect", "unexpected argument %q", pos[0])
	}
	if good == "" || bad == "" {
		return input.Errorf("bisect", "--good and --bad are required")
	}
	if err := vf.check(); err != nil {
		return err
	}
	if vf.failOnRegression {
		return input.Errorf("--fail-on-regression", "not a flag of bisect, which exits 0 with or without a culprit")
	}
	t, gargs, err := mf.template()
	if err != nil {
		return err
	}
	if maxRuns == 0 {
		maxRuns = mf.runs + 5
	}
	serve, err := mf.serve.serve(fs)
	if err != nil {
		return err
	}
	plan := mf.serve.plan(mf.runs, maxRuns, confirm, vf.opt)
	if err := plan.Validate(); err != nil {
		return asFlag(err)
	}
	if err := checkCheckout(ctx, repo, good, bad, e); err != nil {
		return err
	}
	rng, err := firstParentRange(ctx, git.Repo{Dir: repo, Env: proc.FilterEnv(e.Environ(), nil)}, good, bad, "--good", "--bad")
	if err != nil {
		return err
	}
	sb, rw, err := mf.confine(ctx, e)
	if err != nil {
		return err
	}
	if err := prepareOutTo(mf.out, e.Stderr); err != nil {
		return err
	}
	defer sealOutInto(&err, mf.out)
	spec := bench.Spec{
		Repo: repo, BaseRef: rng.Good.SHA, HeadRef: rng.Commits[len(rng.Commits)-1].SHA, Template: t, Model: mf.model, Prompt: mf.prompt, Args: gargs,
		Setup: setup, PythonPath: pythonPath, Timeout: mf.timeout,
		OutDir: mf.out, WorktreeRoot: worktrees, Env: e.Environ(), Progress: progressFor(e), Serve: serve,
		Sandbox: sb, SandboxRW: rw, RunnerName: mf.runnerName,
	}
	res, md, js, err := runBisect(ctx, spec, plan, rng, bisectReproduce(spec, plan), "", e)
	if res == nil {
		return err
	}
	out := md
	if vf.format == "json" {
		out = string(js)
	}
	if _, werr := io.WriteString(e.Stdout, bench.Redact(out, bench.SecretValues(spec.Env, nil))); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

// runBisect bisects rng with comparisons made as spec describes (its
// refs and out folder set for each), writes bisect.md and bisect.json in
// spec.OutDir, and returns the result with both renderings. The result
// is there whenever something was measured, also with an error.
func runBisect(ctx context.Context, spec bench.Spec, plan protocol.Plan, rng bisect.Range, reproduce, marker string, e Env) (*bisect.Result, string, []byte, error) {
	m, err := newCheckoutMeasurer(ctx, spec)
	if err != nil {
		return nil, "", nil, err
	}
	res, err := bisect.Run(ctx, m, rng, bisect.Options{Plan: plan, Progress: func(line string) { fmt.Fprintln(e.Stderr, line) }})
	if cerr := m.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("bisect: remove the worktrees: %w", cerr))
	}
	if res == nil {
		return nil, "", nil, err
	}
	if err == nil && m.failed() != nil {
		err = m.failed()
	}
	md := bisect.Markdown(res, bisect.RenderOptions{Reproduce: reproduce, Marker: marker})
	js, jerr := bisect.MarshalJSON(res, reproduce)
	if jerr != nil {
		return res, md, nil, errors.Join(err, jerr)
	}
	secrets := append(append([]string{}, spec.Secrets...), bench.SecretValues(spec.Env, spec.RedactNames)...)
	mdPath, jsPath := filepath.Join(spec.OutDir, "bisect.md"), filepath.Join(spec.OutDir, "bisect.json")
	werr := writeFileAtomic(jsPath, []byte(bench.Redact(string(js), secrets)))
	if werr == nil {
		werr = writeFileAtomic(mdPath, []byte(bench.Redact(md, secrets)))
	}
	if werr != nil {
		return res, md, js, errors.Join(err, werr)
	}
	fmt.Fprintf(e.Stderr, "report: %s\nresult: %s\n", mdPath, jsPath)
	return res, md, js, err
}

// bisectReproduce is the `diffperf bisect` command line that repeats a
// bisection: run's flags, with the range's SHAs.
func bisectReproduce(spec bench.Spec, plan protocol.Plan) string {
	line := reproduceLine(spec, plan)
	line = strings.Replace(line, "diffperf run --base ", "diffperf bisect --good ", 1)
	line = strings.Replace(line, " --head ", " --bad ", 1)
	if spec.Serve == nil && plan.MaxRuns == plan.Runs {
		// run's default max-runs is --runs; bisect's is --runs + 5.
		line = strings.Replace(line, fmt.Sprintf(" --runs %d", plan.Runs), fmt.Sprintf(" --runs %d --max-runs %d", plan.Runs, plan.MaxRuns), 1)
	}
	return line
}

// firstParentRange lists the first-parent commits after good up to bad,
// oldest first, with their subjects, authors, dates and pull requests.
// An unknown ref, good not an ancestor of bad, or good off bad's
// first-parent history is unusable input.
//
// goodName and badName name the flags (or inputs) in errors.
func firstParentRange(ctx context.Context, g git.Repo, good, bad, goodName, badName string) (bisect.Range, error) {
	goodSHA, err := g.ResolveCommit(ctx, good)
	if err != nil {
		return bisect.Range{}, err
	}
	badSHA, err := g.ResolveCommit(ctx, bad)
	if err != nil {
		return bisect.Range{}, err
	}
	if goodSHA == badSHA {
		return bisect.Range{}, input.Errorf(badName, "%s is the same commit as %s %s: nothing to bisect", bad, goodName, good)
	}
	if _, err := g.Run(ctx, "merge-base", "--is-ancestor", goodSHA, badSHA); err != nil {
		var ge *git.Error
		var ee *exec.ExitError
		if errors.As(err, &ge) && errors.As(ge.Err, &ee) && ee.ExitCode() == 1 {
			return bisect.Range{}, input.Errorf(goodName, "%s (%.12s) is not an ancestor of %s %s (%.12s): give a good commit that bad's history contains", good, goodSHA, badName, bad, badSHA)
		}
		return bisect.Range{}, fmt.Errorf("bisect: %w", err)
	}
	const format = "--format=%H%x00%P%x00%an%x00%aI%x00%s%x00"
	out, err := g.Run(ctx, "log", "--first-parent", "--reverse", "--no-show-signature", format, goodSHA+".."+badSHA)
	if err != nil {
		return bisect.Range{}, fmt.Errorf("bisect: list the commits: %w", err)
	}
	commits, parents := parseLog(out)
	if len(commits) == 0 || parents[0] != goodSHA {
		return bisect.Range{}, input.Errorf(goodName, "%s (%.12s) is not on the first-parent history of %s %s: give a commit of the branch itself, not of a branch merged into it", good, goodSHA, badName, bad)
	}
	out, err = g.Run(ctx, "log", "-1", "--no-show-signature", format, goodSHA)
	if err != nil {
		return bisect.Range{}, fmt.Errorf("bisect: describe %s: %w", good, err)
	}
	gc, _ := parseLog(out)
	if len(gc) != 1 {
		return bisect.Range{}, fmt.Errorf("bisect: describe %s: git printed %q", good, out)
	}
	return bisect.Range{Good: gc[0], Commits: commits}, nil
}

// parseLog reads git log's NUL-separated fields: SHA, parents, author,
// date, subject. parents are the first parents.
func parseLog(out string) (commits []bisect.Commit, parents []string) {
	f := strings.Split(out, "\x00")
	for i := 0; i+5 <= len(f); i += 5 {
		sha := strings.TrimSpace(f[i])
		if sha == "" {
			break
		}
		first, _, _ := strings.Cut(f[i+1], " ")
		c := bisect.Commit{SHA: sha, Author: f[i+2], Date: f[i+3], Subject: f[i+4]}
		c.PR = bisect.PRNumber(c.Subject)
		commits, parents = append(commits, c), append(parents, first)
	}
	return commits, parents
}
