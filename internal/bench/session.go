package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/git"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/sandbox"
)

// Spec describes the code and the command of one A/B measurement (Open),
// or of any number of Checkouts (NewWorkspace, which ignores BaseRef and
// HeadRef). How many runs to take, and what they mean, is the protocol's
// business.
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

// Session is one A/B measurement in progress: the Pair of the base and
// head Checkouts of one Workspace, ready for balanced pairs of runs. It
// measures; it does not decide how many runs a verdict needs (package
// protocol does).
type Session struct {
	ws         *Workspace
	base, head *Checkout
	pair       *Pair
	// mergeBase is true when the base side is the merge base of the refs
	// rather than the base ref itself.
	mergeBase bool
}

// Open resolves the refs and the merge base and checks both sides out in
// worktrees of their own: Checkouts "base" and "head" of a new Workspace.
// The caller must Close the session.
func Open(ctx context.Context, s Spec) (*Session, error) {
	ws, err := NewWorkspace(ctx, s)
	if err != nil {
		return nil, err
	}
	headSHA, err := ws.Resolve(ctx, s.HeadRef)
	if err != nil {
		return nil, err
	}
	baseSHA, err := ws.Resolve(ctx, s.BaseRef)
	if err != nil {
		return nil, err
	}
	mb, err := ws.git.MergeBase(ctx, baseSHA, headSHA)
	if err != nil {
		return nil, err
	}
	ws.r.progress.Step(fmt.Sprintf("base %s (%s), head %s (%s)", git.Short(mb), s.BaseRef, git.Short(headSHA), s.HeadRef))
	cs, err := ws.CheckOut(ctx, Commit{Name: "base", Ref: s.BaseRef, SHA: mb}, Commit{Name: "head", Ref: s.HeadRef, SHA: headSHA})
	if err != nil {
		return nil, errors.Join(err, ws.Close())
	}
	return &Session{ws: ws, base: cs[0], head: cs[1], pair: NewPair(cs[0], cs[1]), mergeBase: mb != baseSHA}, nil
}

// Close removes the worktrees, also when ctx was canceled (Ctrl-C).
func (s *Session) Close() error { return s.ws.Close() }

// Prepare reads the GPU state, then runs setup and the warm-up probe on
// each side. A setup that fails is a Failure: nothing can be measured.
func (s *Session) Prepare(ctx context.Context) *dump.Failure {
	s.ws.Begin(ctx)
	for _, c := range []*Checkout{s.base, s.head} {
		if f := c.Prepare(ctx); f != nil {
			return f
		}
	}
	return nil
}

// Expect adds runs to the total that progress lines count towards: in
// mode serve, launches, each of Serve.Requests samples.
func (s *Session) Expect(runs int) { s.pair.Expect(runs) }

// Step reports a phase or a decision, in words.
func (s *Session) Step(msg string) { s.pair.Step(msg) }

// Pair runs one balanced pair of batch (see Pair.Pair): base then head,
// then head then base, and so on.
func (s *Session) Pair(ctx context.Context, batch string) *dump.Failure {
	return s.pair.Pair(ctx, batch)
}

// Sides returns what each side measured in batch so far, labelled as
// compare_perf labels them.
func (s *Session) Sides(batch string) (base, head dump.Side) { return s.pair.Sides(batch) }

// Command is the command line of run (1-based) of side ("base" or
// "head"), as Checkout.Command gives it.
func (s *Session) Command(name string, run int) string {
	if name == "base" {
		return s.base.Command(run)
	}
	return s.head.Command(run)
}

// MergeBase reports whether the base side is the merge base of the base
// and head refs, rather than the base ref's own commit.
func (s *Session) MergeBase() bool { return s.mergeBase }

// Environment reads the GPU state after the runs and returns it with the
// state before; nil before Prepare.
func (s *Session) Environment(ctx context.Context) *dump.Environment { return s.ws.Environment(ctx) }
