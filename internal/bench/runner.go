package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/diffperf/diffperf/internal/report"
)

// Spec describes one A/B measurement of a change.
type Spec struct {
	// Repo is a directory inside the git checkout.
	Repo string
	// BaseRef and HeadRef are refs or SHAs. The base side is their merge
	// base, as a pull request is measured against the code it branched from.
	BaseRef, HeadRef string
	Template         *Template
	Model, Prompt    string
	Args             []string
	// Setup, when set, is a command line run once in each worktree before
	// its runs, by /bin/sh (it comes from the workflow, not from the PR).
	Setup string
	// PythonPath is the folder of each worktree put first on PYTHONPATH
	// ("python" for sglang); "" for none.
	PythonPath string
	// Runs is the number of runs per side; MaxRuns bounds it when an unclear
	// result earns extra balanced pairs.
	Runs, MaxRuns int
	// Confirm re-measures an apparent regression with an independent batch
	// of Runs pairs before it counts.
	Confirm bool
	// Timeout limits one run; setup gets twice as long.
	Timeout time.Duration
	// OutDir receives each run's dump and log.
	OutDir string
	// WorktreeRoot is where the worktrees go, outside the checkout.
	WorktreeRoot string
	// Env is the environment the benchmark starts from; FilterEnv removes
	// tokens and action inputs from it. Secrets are values that must never
	// reach the benchmark, in any variable.
	Env     []string
	Secrets []string
	Options report.Options
	// Progress reports each step; nil for none.
	Progress Progress
}

// InputError is a Spec that cannot be measured as given (exit 2).
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// FallbackSigns are log lines that show sglang fell back to the diffusers
// backend: the numbers are then not sglang's, so the evidence is invalid.
var FallbackSigns = []string{"Falling back to diffusers backend", "Using diffusers backend", "Loaded diffusers pipeline"}

// side is one side's code and runs.
type side struct {
	name, ref, sha string
	worktree       string
	warmupMode     bool // rewrite --warmup to --warmup-mode request
	runs           map[string][]report.Run
}

type measurement struct {
	Spec
	git   Git
	sides [2]*side
	order int
	done  int
	total int
	env   []string
	out   io.Writer
}

// Measure runs the whole protocol of DESIGN.md: refs, merge base,
// worktrees, setup, balanced interleaved runs, extra pairs while unclear,
// confirmation of a regression, GPU state before and after. A run that fails
// ends the measurement with a result whose verdict is failed; errors are
// for what prevents measuring at all. The result is returned whenever there
// is one, also together with an error from cleaning up.
func Measure(ctx context.Context, s Spec) (res *report.Result, err error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if s.Progress == nil {
		s.Progress = NopProgress{}
	}
	m := &measurement{Spec: s, git: Git{Dir: s.Repo}}
	m.env = FilterEnv(s.Env, s.Secrets)
	if _, err := m.git.Toplevel(ctx); err != nil {
		return nil, &InputError{fmt.Sprintf("repo %s: not a git checkout: %v", s.Repo, err)}
	}
	headSHA, err := m.git.ResolveCommit(ctx, s.HeadRef)
	if err != nil {
		return nil, err
	}
	baseSHA, err := m.git.ResolveCommit(ctx, s.BaseRef)
	if err != nil {
		return nil, err
	}
	mb, err := m.git.MergeBase(ctx, baseSHA, headSHA)
	if err != nil {
		return nil, err
	}
	var notes []string
	if mb != baseSHA {
		notes = append(notes, fmt.Sprintf("The base side is the merge base %s of %s and %s.", short(mb), s.BaseRef, s.HeadRef))
	}
	m.sides = [2]*side{
		{name: "base", ref: s.BaseRef, sha: mb, runs: map[string][]report.Run{}},
		{name: "head", ref: s.HeadRef, sha: headSHA, runs: map[string][]report.Run{}},
	}
	s.Progress.Step(fmt.Sprintf("base %s (%s), head %s (%s)", short(mb), s.BaseRef, short(headSHA), s.HeadRef))

	if err := os.MkdirAll(s.WorktreeRoot, 0o755); err != nil {
		return nil, fmt.Errorf("worktree folder: %w", err)
	}
	if err := m.git.PruneStale(ctx, s.WorktreeRoot); err != nil {
		s.Progress.Step("could not prune stale worktrees: " + err.Error())
	}
	defer func() {
		// Remove the worktrees even when ctx was canceled (Ctrl-C).
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		for _, sd := range m.sides {
			if sd.worktree != "" {
				if rerr := m.git.RemoveWorktree(cctx, sd.worktree); rerr != nil {
					err = errors.Join(err, fmt.Errorf("remove worktree %s: %w", sd.worktree, rerr))
				}
			}
		}
	}()
	if err := m.addWorktrees(ctx); err != nil {
		return nil, err
	}

	before, note := ReadGPUs(ctx, m.env)
	env := &report.Environment{Before: before, Note: note, Host: hostInfo()}

	fail := func(f report.Failure) *report.Result {
		r := m.result("")
		r.Notes = append(r.Notes, notes...)
		r.Env = env
		r.Fail(f)
		return r
	}
	for _, sd := range m.sides {
		if f := m.setup(ctx, sd); f != nil {
			return fail(*f), ctx.Err()
		}
		m.probeWarmup(ctx, sd)
	}

	m.total = 2 * s.Runs
	for i := 0; i < s.Runs; i++ {
		if f := m.pair(ctx, ""); f != nil {
			return fail(*f), ctx.Err()
		}
	}
	r := m.result("")
	for r.NeedsMoreRuns() && len(m.sides[0].runs[""]) < s.MaxRuns {
		// Two pairs keep the order balanced: base head head base.
		add := min(2, s.MaxRuns-len(m.sides[0].runs[""]))
		m.total += 2 * add
		s.Progress.Step(fmt.Sprintf("past the thresholds but not significant: %d more pairs (up to %d runs a side)", add, s.MaxRuns))
		for i := 0; i < add; i++ {
			if f := m.pair(ctx, ""); f != nil {
				return fail(*f), ctx.Err()
			}
		}
		r = m.result("")
	}
	if r.Verdict == report.Regression && s.Confirm {
		s.Progress.Step(fmt.Sprintf("apparent regression (%s): confirming with an independent batch of %d pairs", r.Reason, s.Runs))
		m.total += 2 * s.Runs
		for i := 0; i < s.Runs; i++ {
			if f := m.pair(ctx, "confirm"); f != nil {
				return fail(*f), ctx.Err()
			}
		}
		c := m.result("confirm")
		r.Confirmation = c
		if c.Verdict != report.Regression {
			r.Verdict = report.Inconclusive
			r.Reason = "a regression in the first batch (" + r.Reason + ") was not confirmed by a second, independent batch (" + c.Reason + ")"
		}
	}
	env.After, _ = ReadGPUs(ctx, m.env)
	r.Env = env
	r.Notes = append(r.Notes, notes...)
	return r, nil
}

// addWorktrees registers both worktrees one after the other (git cannot
// add two at once), then checks both out at once: the checkout of a large
// tree is most of diffperf's own time.
func (m *measurement) addWorktrees(ctx context.Context) error {
	for _, sd := range m.sides {
		dir := filepath.Join(m.WorktreeRoot, WorktreeName(os.Getpid(), sd.name))
		if _, statErr := os.Stat(dir); statErr == nil {
			_ = m.git.RemoveWorktree(ctx, dir) // ours by name: a PID reused from a killed run
		}
		if err := m.git.AddEmptyWorktree(ctx, dir, sd.sha); err != nil {
			return fmt.Errorf("worktree for %s: %w", sd.name, err)
		}
		sd.worktree = dir // removed by the caller from here on, even if checkout fails
	}
	errs := make([]error, len(m.sides))
	var wg sync.WaitGroup
	for i, sd := range m.sides {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := (Git{Dir: sd.worktree, Env: m.git.Env}).Populate(ctx); err != nil {
				errs[i] = fmt.Errorf("check out %s: %w", sd.name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Spec) validate() error {
	switch {
	case s.Template == nil:
		return &InputError{"command: no template"}
	case s.Runs < 1:
		return &InputError{fmt.Sprintf("runs: %d is not a positive count", s.Runs)}
	case s.MaxRuns < s.Runs:
		return &InputError{fmt.Sprintf("max-runs: %d is less than runs (%d)", s.MaxRuns, s.Runs)}
	case s.Timeout <= 0:
		return &InputError{fmt.Sprintf("timeout: %s is not positive", s.Timeout)}
	case s.OutDir == "" || s.WorktreeRoot == "":
		return &InputError{"out and worktree folders are required"}
	}
	return s.Options.Validate()
}

// pair runs one balanced pair: base then head on even pairs, head then base
// on odd ones, so the sequence is base head head base base head ...
func (m *measurement) pair(ctx context.Context, batch string) *report.Failure {
	first, second := m.sides[0], m.sides[1]
	if len(m.sides[0].runs[batch])%2 == 1 {
		first, second = second, first
	}
	for _, sd := range []*side{first, second} {
		if f := m.runOne(ctx, sd, batch); f != nil {
			return f
		}
	}
	return nil
}

func (m *measurement) runOne(ctx context.Context, sd *side, batch string) *report.Failure {
	idx := len(sd.runs[batch]) + 1
	name := fmt.Sprintf("%s-%02d", sd.name, idx)
	if batch != "" {
		name = batch + "-" + name
	}
	dump := filepath.Join(m.OutDir, name+".json")
	logPath := filepath.Join(m.OutDir, name+".log")
	_ = os.Remove(dump)
	argv := m.argv(sd, dump, idx)
	m.order++
	m.done++
	m.Progress.RunStart(m.done, m.total, sd.name, idx)
	res := Proc{Argv: argv, Dir: sd.worktree, Env: m.childEnv(sd, dump, idx), Log: logPath, Timeout: m.Timeout}.Run(ctx)
	failure := func(reason string) *report.Failure {
		m.Progress.RunEnd(m.done, m.total, sd.name, idx, 0, res, logPath, reason)
		return &report.Failure{Side: sd.name, Run: idx, Reason: reason, LogTail: res.Tail}
	}
	if res.Failed() {
		return failure(fmt.Sprintf("run %d of %s: %s: %s (log: %s)", idx, sd.name, argv[0], res.Describe(m.Timeout), logPath))
	}
	if sign := fallbackSign(res); sign != "" {
		return failure(fmt.Sprintf("run %d of %s fell back to the diffusers backend (%q in its log): the numbers are not sglang's", idx, sd.name, sign))
	}
	d, err := readDumpFile(dump)
	if err != nil {
		return failure(fmt.Sprintf("run %d of %s exited 0 but %v", idx, sd.name, err))
	}
	sd.runs[batch] = append(sd.runs[batch], report.Run{Index: idx, Order: m.order, Dump: d})
	m.Progress.RunEnd(m.done, m.total, sd.name, idx, d.TotalMs, res, logPath, "")
	return nil
}

// readDumpFile reads a dump a run wrote, bounded in size.
func readDumpFile(path string) (*report.Dump, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("wrote no dump at %s", path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	const max = 64 << 20
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("dump %s: %v", path, err)
	}
	if len(data) > max {
		return nil, fmt.Errorf("wrote a dump larger than %d MiB at %s", max>>20, path)
	}
	d, err := report.ParseDump(path, data)
	if err != nil {
		return nil, fmt.Errorf("wrote an unusable dump: %v", err)
	}
	return d, nil
}

// fallbackSign is the sign of the diffusers fallback in the run's output,
// or "". Proc scans the whole output as it is written, not just the part
// the log keeps.
func fallbackSign(res ProcResult) string {
	return res.FallbackSign
}

func (m *measurement) argv(sd *side, dump string, idx int) []string {
	argv := m.Template.Expand(Vars{Model: m.Model, Prompt: m.Prompt, Dump: dump, Side: sd.name, Run: strconv.Itoa(idx), Worktree: sd.worktree, Args: m.Args})
	if !sd.warmupMode {
		return argv
	}
	out := make([]string, 0, len(argv)+1)
	for _, w := range argv {
		if w == "--warmup" {
			out = append(out, "--warmup-mode", "request")
			continue
		}
		out = append(out, w)
	}
	return out
}

// childEnv is the filtered environment plus what DESIGN.md promises the
// benchmark: its side, run, worktree, dump, commit and sync profiling.
func (m *measurement) childEnv(sd *side, dump string, idx int) []string {
	env := append([]string(nil), m.env...)
	pp := ""
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PYTHONPATH="); ok {
			pp = v
			env = append(env[:i], env[i+1:]...)
			break
		}
	}
	if m.PythonPath != "" {
		first := filepath.Join(sd.worktree, m.PythonPath)
		if pp == "" {
			pp = first
		} else {
			pp = first + string(os.PathListSeparator) + pp
		}
	}
	if pp != "" {
		env = append(env, "PYTHONPATH="+pp)
	}
	return append(env,
		"DIFFPERF_SIDE="+sd.name,
		"DIFFPERF_RUN="+strconv.Itoa(idx),
		"DIFFPERF_WORKTREE="+sd.worktree,
		"DIFFPERF_DUMP="+dump,
		"SGLANG_GIT_COMMIT="+sd.sha,
		"SGLANG_DIFFUSION_SYNC_STAGE_PROFILING=1",
	)
}

// setup runs the setup command once in the side's worktree.
func (m *measurement) setup(ctx context.Context, sd *side) *report.Failure {
	if m.Setup == "" {
		return nil
	}
	m.Progress.Step("setup of " + sd.name)
	logPath := filepath.Join(m.OutDir, "setup-"+sd.name+".log")
	res := Proc{Argv: []string{"/bin/sh", "-c", m.Setup}, Dir: sd.worktree, Env: m.childEnv(sd, "", 0), Log: logPath, Timeout: 2 * m.Timeout}.Run(ctx)
	if res.Failed() {
		return &report.Failure{Side: sd.name, Reason: fmt.Sprintf("setup of %s: %s (log: %s)", sd.name, res.Describe(2*m.Timeout), logPath), LogTail: res.Tail}
	}
	return nil
}

// probeWarmup asks the side's command for --help once when the template
// uses --warmup: sglang versions that have --warmup-mode get
// "--warmup-mode request" instead. A probe that fails changes nothing.
func (m *measurement) probeWarmup(ctx context.Context, sd *side) {
	argv := m.argv(sd, filepath.Join(m.OutDir, "probe.json"), 0)
	has := false
	for _, w := range argv {
		has = has || w == "--warmup"
	}
	if !has {
		return
	}
	probe := []string{argv[0]}
	for _, w := range argv[1:] {
		if strings.HasPrefix(w, "-") {
			break
		}
		probe = append(probe, w)
	}
	probe = append(probe, "--help")
	logPath := filepath.Join(m.OutDir, "probe-"+sd.name+".log")
	res := Proc{Argv: probe, Dir: sd.worktree, Env: m.childEnv(sd, "", 0), Log: logPath, Timeout: 2 * time.Minute}.Run(ctx)
	help := string(res.Head)
	if !res.Failed() && strings.Contains(help, "--warmup-mode") {
		sd.warmupMode = true
		m.Progress.Step(sd.name + ": this sglang has --warmup-mode; using --warmup-mode request")
	}
	_ = os.Remove(logPath)
}

// result compares the runs of one batch so far.
func (m *measurement) result(batch string) *report.Result {
	b, h := m.sides[0], m.sides[1]
	r := report.Compare(
		report.Side{Label: "Baseline", Ref: b.ref, SHA: b.sha, Runs: b.runs[batch]},
		report.Side{Label: "New", Ref: h.ref, SHA: h.sha, Runs: h.runs[batch]},
		m.Options)
	if r.Model == "" {
		r.Model = m.Model
	}
	if r.Prompt == "" {
		r.Prompt = m.Prompt
	}
	r.Command = QuoteWords(m.argv(h, filepath.Join(m.OutDir, "head-01.json"), 1))
	return r
}

// FilterEnv returns env without the GitHub token, the Action's inputs, the
// runner's command files and tokens, diffperf's own variables, and any
// variable whose value contains one of secrets.
func FilterEnv(env, secrets []string) []string {
	drop := map[string]bool{
		"GITHUB_TOKEN": true, "GH_TOKEN": true, "GITHUB_ENV": true, "GITHUB_OUTPUT": true, "GITHUB_PATH": true,
		"GITHUB_STATE": true, "GITHUB_STEP_SUMMARY": true, "ACTIONS_RUNTIME_TOKEN": true, "ACTIONS_RUNTIME_URL": true,
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": true, "ACTIONS_ID_TOKEN_REQUEST_URL": true, "ACTIONS_CACHE_URL": true,
		"ACTIONS_RESULTS_URL": true,
	}
	var out []string
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if drop[k] || strings.HasPrefix(k, "INPUT_") || strings.HasPrefix(k, "DIFFPERF_") {
			continue
		}
		secret := false
		for _, s := range secrets {
			secret = secret || (s != "" && strings.Contains(v, s))
		}
		if !secret {
			out = append(out, kv)
		}
	}
	return out
}

func hostInfo() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("%s, %d CPUs", h, numCPU())
}

// RepeatSpec is one measurement in the current checkout: the sglang
// workflow of `diffperf bench`.
type RepeatSpec struct {
	Dir           string
	Template      *Template
	Model, Prompt string
	Args          []string
	Runs          int
	Timeout       time.Duration
	OutDir        string
	Env, Secrets  []string
	Progress      Progress
}

// Repeat runs the command Runs times in Dir, each a fresh process writing its
// own dump. A failed run stops it and is returned as a Failure with the runs
// so far.
func Repeat(ctx context.Context, s RepeatSpec) ([]report.Run, *report.Failure, error) {
	if s.Runs < 1 {
		return nil, nil, &InputError{fmt.Sprintf("runs: %d is not a positive count", s.Runs)}
	}
	if s.Progress == nil {
		s.Progress = NopProgress{}
	}
	m := &measurement{Spec: Spec{Template: s.Template, Model: s.Model, Prompt: s.Prompt, Args: s.Args, Timeout: s.Timeout, OutDir: s.OutDir, Progress: s.Progress}}
	m.env = FilterEnv(s.Env, s.Secrets)
	sd := &side{name: "run", worktree: s.Dir, runs: map[string][]report.Run{}}
	if sha, err := (Git{Dir: s.Dir}).run(ctx, "rev-parse", "HEAD"); err == nil {
		sd.sha = sha
	}
	m.probeWarmup(ctx, sd)
	m.total = s.Runs
	for i := 0; i < s.Runs; i++ {
		if f := m.runOne(ctx, sd, ""); f != nil {
			return sd.runs[""], f, ctx.Err()
		}
	}
	return sd.runs[""], nil, nil
}
