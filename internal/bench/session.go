package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/sandbox"
)

// Spec describes the code and the command of one A/B measurement. How many
// runs to take, and what they mean, is the protocol's business.
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
	// Timeout limits one run; setup gets twice as long.
	Timeout time.Duration
	// OutDir receives each run's dump and log.
	OutDir string
	// WorktreeRoot is where the worktrees go, outside the checkout; ""
	// means a fresh temporary folder, removed at the end. A folder that is
	// given must belong to the current user and be writable by no one else.
	WorktreeRoot string
	// Env is the environment the benchmark starts from; FilterEnv removes
	// tokens and action inputs from it. Secrets are values that must never
	// reach the benchmark, in any variable.
	Env     []string
	Secrets []string
	// Progress reports each step; nil for none.
	Progress Progress
	// Serve, when set, measures warm servers (mode serve): a pair is one
	// launch of each side's server, with Serve.Requests samples each.
	Serve *Serve
	// Sandbox confines the runs, the setup and the servers; nil runs them
	// without one. SandboxRW are more paths they may change (input
	// sandbox-rw), absolute.
	Sandbox   *sandbox.Sandbox
	SandboxRW []string
	// RedactNames are more variables of Env whose values are redacted
	// like secrets (input redact); see SecretValues.
	RedactNames []string
	// RunnerName names the machine in the report (input runner-name);
	// "" names none. The host name is never published.
	RunnerName string
}

func (s *Spec) validate() error {
	switch {
	case s.Template == nil:
		return input.Errorf("command", "no template")
	case s.Timeout <= 0:
		return input.Errorf("timeout", "%s is not positive", s.Timeout)
	case s.OutDir == "":
		return input.Errorf("out", "the out folder is required")
	case s.Serve != nil:
		return s.Serve.validate()
	}
	return nil
}

// Session is one A/B measurement in progress: both sides checked out in
// worktrees, ready for balanced pairs of runs. It measures; it does not
// decide how many runs a verdict needs (package protocol does).
type Session struct {
	runner
	setupCmd string
	git      Git
	tempRoot string // the worktrees' folder when Open made it
	sides    [2]*side
	// mergeBase is true when the base side is the merge base of the refs
	// rather than the base ref itself.
	mergeBase bool
	env       *dump.Environment
}

// Open resolves the refs and the merge base and checks both sides out in
// worktrees of their own. The caller must Close the session.
func Open(ctx context.Context, s Spec) (*Session, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if s.Progress == nil {
		s.Progress = NopProgress{}
	}
	ss := &Session{runner: newRunner(s.Template, s.Model, s.Prompt, s.Args, s.PythonPath, s.Timeout, s.OutDir, s.Env, s.Secrets, s.Progress),
		setupCmd: s.Setup, git: Git{Dir: s.Repo, Env: FilterEnv(s.Env, s.Secrets)}}
	if s.Serve != nil {
		ss.serve = newServing(s.Serve)
	}
	if fi, err := os.Stat(s.Repo); err != nil || !fi.IsDir() {
		return nil, input.Errorf("repo", "%s is not a folder: give the path of a git checkout", s.Repo)
	}
	if _, err := ss.git.Toplevel(ctx); err != nil {
		return nil, input.Errorf("repo", "%s is not a git checkout: %v", s.Repo, err)
	}
	ss.runnerName = s.RunnerName
	ss.secrets = append(ss.secrets, SecretValues(s.Env, s.RedactNames)...)
	if err := ss.useSandbox(ctx, s.Sandbox, s.SandboxRW, ss.git); err != nil {
		return nil, err
	}
	headSHA, err := ss.git.ResolveCommit(ctx, s.HeadRef)
	if err != nil {
		return nil, err
	}
	baseSHA, err := ss.git.ResolveCommit(ctx, s.BaseRef)
	if err != nil {
		return nil, err
	}
	mb, err := ss.git.MergeBase(ctx, baseSHA, headSHA)
	if err != nil {
		return nil, err
	}
	if mb != baseSHA {
		ss.mergeBase = true
	}
	ss.sides = [2]*side{
		{name: "base", ref: s.BaseRef, sha: mb, runs: map[string][]dump.Run{}},
		{name: "head", ref: s.HeadRef, sha: headSHA, runs: map[string][]dump.Run{}},
	}
	ss.progress.Step(fmt.Sprintf("base %s (%s), head %s (%s)", short(mb), s.BaseRef, short(headSHA), s.HeadRef))

	root := s.WorktreeRoot
	if root == "" {
		if root, err = os.MkdirTemp("", "diffperf-worktrees-"); err != nil {
			return nil, fmt.Errorf("worktree folder: %w", err)
		}
		ss.tempRoot = root
	} else if err := PrivateDir("worktrees", root); err != nil {
		return nil, err
	}
	if err := ss.git.PruneStale(ctx, root); err != nil {
		ss.progress.Step("could not prune stale worktrees: " + err.Error())
	}
	if err := ss.addWorktrees(ctx, root); err != nil {
		return nil, errors.Join(err, ss.Close())
	}
	return ss, nil
}

// Close removes the worktrees, also when ctx was canceled (Ctrl-C).
func (s *Session) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	for _, sd := range s.sides {
		if sd != nil && sd.worktree != "" {
			if rerr := s.git.RemoveWorktree(ctx, sd.worktree); rerr != nil {
				err = errors.Join(err, fmt.Errorf("remove worktree %s: %w", sd.worktree, rerr))
			}
			sd.worktree = ""
		}
	}
	if s.tempRoot != "" {
		if rerr := os.RemoveAll(s.tempRoot); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove the worktrees' folder: %w", rerr))
		}
		s.tempRoot = ""
	}
	return err
}

// addWorktrees registers both worktrees one after the other (git cannot
// add two at once), then checks both out at once: the checkout of a large
// tree is most of diffperf's own time.
func (s *Session) addWorktrees(ctx context.Context, root string) error {
	for _, sd := range s.sides {
		dir := filepath.Join(root, WorktreeName(os.Getpid(), sd.name))
		if _, statErr := os.Stat(dir); statErr == nil {
			_ = s.git.RemoveWorktree(ctx, dir) // ours by name: a PID reused from a killed run
		}
		if err := s.git.AddEmptyWorktree(ctx, dir, sd.sha); err != nil {
			return fmt.Errorf("worktree for %s: %w", sd.name, err)
		}
		sd.worktree = dir // removed by Close from here on, even if checkout fails
	}
	errs := make([]error, len(s.sides))
	var wg sync.WaitGroup
	for i, sd := range s.sides {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := (Git{Dir: sd.worktree, Env: s.git.Env}).Populate(ctx); err != nil {
				errs[i] = fmt.Errorf("check out %s: %w", sd.name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Prepare reads the GPU state, then runs setup and the warm-up probe on
// each side. A setup that fails is a Failure: nothing can be measured.
func (s *Session) Prepare(ctx context.Context) *dump.Failure {
	before, note := ReadGPUs(ctx, s.env0())
	s.env = s.environment(before, note)
	for _, sd := range s.sides {
		if f := s.setup(ctx, sd); f != nil {
			return f
		}
		if s.serve == nil {
			s.probeWarmup(ctx, sd)
		}
	}
	return nil
}

// Expect adds runs to the total that progress lines count towards: in
// mode serve, launches, each of Serve.Requests samples.
func (s *Session) Expect(runs int) {
	if s.serve != nil {
		runs *= s.serve.Requests
	}
	s.total += runs
}

// Step reports a phase or a decision, in words.
func (s *Session) Step(msg string) { s.progress.Step(msg) }

// Pair runs one balanced pair of batch: base then head when the batch has
// an even number of pairs so far, head then base otherwise, so the sequence
// is base head head base base head ... A failed run ends the pair.
//
// In mode serve a pair is one launch of each side's server, in the same
// balanced order, each giving Serve.Requests samples.
func (s *Session) Pair(ctx context.Context, batch string) *dump.Failure {
	if s.serve != nil {
		return s.servePair(ctx, s.sides, batch)
	}
	first, second := s.sides[0], s.sides[1]
	if len(first.runs[batch])%2 == 1 {
		first, second = second, first
	}
	for _, sd := range []*side{first, second} {
		if f := s.runOne(ctx, sd, batch); f != nil {
			return f
		}
	}
	return nil
}

// Sides returns what each side measured in batch so far, labelled as
// compare_perf labels them.
func (s *Session) Sides(batch string) (base, head dump.Side) {
	b, h := s.sides[0], s.sides[1]
	return dump.Side{Label: "Baseline", Ref: b.ref, SHA: b.sha, Runs: b.runs[batch]},
		dump.Side{Label: "New", Ref: h.ref, SHA: h.sha, Runs: h.runs[batch]}
}

// Command is the command line of run (1-based) of side ("base" or
// "head"), shell-quoted for the report, as it runs in the side's worktree:
// the dump is named relative to the out folder and the worktree is ".", so
// that no path of the machine that ran it shows. In mode serve it is the
// side's serve command and the request it gets.
func (s *Session) Command(name string, run int) string {
	sd := s.sides[1]
	if name == "base" {
		sd = s.sides[0]
	}
	run = max(run, 1)
	here := &side{name: sd.name, sha: sd.sha, worktree: ".", template: sd.template}
	if s.serve != nil {
		return s.serveCommand(here)
	}
	dump := fmt.Sprintf("%s-%02d.json", sd.name, run)
	return QuoteWords(s.argv(here, dump, run))
}

// MergeBase reports whether the base side is the merge base of the base
// and head refs, rather than the base ref's own commit.
func (s *Session) MergeBase() bool { return s.mergeBase }

// Environment reads the GPU state after the runs and returns it with the
// state before; nil before Prepare.
func (s *Session) Environment(ctx context.Context) *dump.Environment {
	if s.env != nil {
		s.env.After, _ = ReadGPUs(ctx, s.env0())
	}
	return s.env
}
