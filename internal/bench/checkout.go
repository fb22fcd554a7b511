package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/git"
	"github.com/diffperf/diffperf/internal/input"
)

// Workspace is where the Checkouts of one repository are made and
// measured with one command: the folder of their worktrees, the out
// folder, the sandbox, the environment and the progress lines are the
// Workspace's, shared by all its Checkouts. Any number of Checkouts may be
// open at once (a bisect keeps one per commit it measures); Close removes
// every worktree that is left.
//
// A Workspace, its Checkouts and its Pairs are used by one goroutine at a
// time.
type Workspace struct {
	r        *runner
	setupCmd string
	git      git.Repo
	root     string // the worktrees' folder, once CheckOut made or checked it
	tempRoot string // root, when CheckOut made it
	given    string // Spec.WorktreeRoot
	open     []*Checkout
	env      *dump.Environment
}

// NewWorkspace checks everything of s but the refs (BaseRef and HeadRef
// are Open's): the command, the repository, the sandbox. The caller must
// Close it.
func NewWorkspace(ctx context.Context, s Spec) (*Workspace, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if s.Progress == nil {
		s.Progress = nopProgress{}
	}
	if tp, ok := s.Progress.(*TextProgress); ok && s.Serve != nil && tp.Unit == "" {
		tp.Unit = "request" // a warm server's samples are requests
	}
	r := newRunner(s.Template, s.Model, s.Prompt, s.Args, s.PythonPath, s.Timeout, s.OutDir, s.Env, s.Secrets, s.Progress)
	w := &Workspace{r: &r, setupCmd: s.Setup, git: git.Repo{Dir: s.Repo, Env: r.env}, given: s.WorktreeRoot}
	if s.Serve != nil {
		w.r.serve = newServing(s.Serve)
	}
	if fi, err := os.Stat(s.Repo); err != nil || !fi.IsDir() {
		return nil, input.Errorf("repo", "%s is not a folder: give the path of a git checkout", s.Repo)
	}
	if _, err := w.git.Toplevel(ctx); err != nil {
		return nil, input.Errorf("repo", "%s is not a git checkout: %v", s.Repo, err)
	}
	w.r.runnerName = s.RunnerName
	w.r.secrets = append(w.r.secrets, SecretValues(s.Env, s.RedactNames)...)
	if err := w.r.useSandbox(ctx, s.Sandbox, s.SandboxRW, w.git); err != nil {
		return nil, err
	}
	return w, nil
}

// Resolve returns the SHA of ref, fetching it from origin when a shallow
// clone lacks it; a ref that is no commit is a *git.RefError.
func (w *Workspace) Resolve(ctx context.Context, ref string) (string, error) {
	return w.git.ResolveCommit(ctx, ref)
}

// Commit is one commit to check out. Name labels the Checkout's files,
// progress lines and report rows ("base", "head", "c3"): 1 to 40 letters,
// digits, '_' or '-', unique among the open Checkouts of a Workspace. Ref
// is what reports call the commit ("" for its SHA), SHA the resolved
// commit (Workspace.Resolve).
type Commit struct {
	Name, Ref, SHA string
}

var checkoutName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$`)

// CheckOut adds a detached worktree for each commit in the Workspace's
// folder (pruning stale ones first, the first time), and checks them out
// at once: the checkout of a large tree is most of diffperf's own time.
// On error none of these Checkouts stays.
func (w *Workspace) CheckOut(ctx context.Context, commits ...Commit) ([]*Checkout, error) {
	if err := w.makeRoot(ctx); err != nil {
		return nil, err
	}
	var cs []*Checkout
	fail := func(err error) ([]*Checkout, error) {
		for _, c := range cs {
			err = errors.Join(err, c.Close())
		}
		return nil, err
	}
	// Registered one after the other: git cannot add two at once.
	for _, cm := range commits {
		if !checkoutName.MatchString(cm.Name) || w.byName(cm.Name) != nil {
			return fail(fmt.Errorf("checkout name %q: not 1 to 40 letters, digits, '_' or '-', or already open", cm.Name))
		}
		dir := filepath.Join(w.root, git.WorktreeName(os.Getpid(), cm.Name))
		if _, statErr := os.Stat(dir); statErr == nil {
			_ = w.git.RemoveWorktree(ctx, dir) // ours by name: a PID reused from a killed run
		}
		if err := w.git.AddEmptyWorktree(ctx, dir, cm.SHA); err != nil {
			return fail(fmt.Errorf("worktree for %s: %w", cm.Name, err))
		}
		// Removed by Close from here on, even if the checkout fails.
		c := &Checkout{w: w, sd: &side{name: cm.Name, ref: cm.Ref, sha: cm.SHA, worktree: dir, runs: map[string][]dump.Run{}}}
		w.open = append(w.open, c)
		cs = append(cs, c)
	}
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := (git.Repo{Dir: c.sd.worktree, Env: w.git.Env}).Populate(ctx); err != nil {
				errs[i] = fmt.Errorf("check out %s: %w", c.sd.name, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	return cs, nil
}

// makeRoot makes the worktrees' folder, or checks the one Spec gave, and
// prunes the stale worktrees of killed runs in it, once.
func (w *Workspace) makeRoot(ctx context.Context) error {
	if w.root != "" {
		return nil
	}
	root := w.given
	if root == "" {
		var err error
		if root, err = os.MkdirTemp("", "diffperf-worktrees-"); err != nil {
			return fmt.Errorf("worktree folder: %w", err)
		}
		w.tempRoot = root
	} else if err := PrivateDir("worktrees", root); err != nil {
		return err
	}
	w.root = root
	if err := w.git.PruneStale(ctx, root); err != nil {
		w.r.progress.Step("could not prune stale worktrees: " + err.Error())
	}
	return nil
}

func (w *Workspace) byName(name string) *Checkout {
	for _, c := range w.open {
		if c.sd.name == name {
			return c
		}
	}
	return nil
}

// Close removes the worktrees of the Checkouts still open, and the
// worktrees' folder when CheckOut made it, also when ctx was canceled
// (Ctrl-C).
func (w *Workspace) Close() error {
	var err error
	for len(w.open) > 0 {
		err = errors.Join(err, w.open[0].Close())
	}
	if w.tempRoot != "" {
		if rerr := os.RemoveAll(w.tempRoot); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove the worktrees' folder: %w", rerr))
		}
		w.tempRoot = ""
	}
	return err
}

// Begin reads the GPU state that the runs start from; Environment reads
// it again after them.
func (w *Workspace) Begin(ctx context.Context) {
	before, note := ReadGPUs(ctx, w.r.env0())
	w.env = w.r.environment(before, note)
}

// Environment reads the GPU state after the runs and returns it with the
// state before; nil before Begin.
func (w *Workspace) Environment(ctx context.Context) *dump.Environment {
	if w.env != nil {
		w.env.After, _ = ReadGPUs(ctx, w.r.env0())
	}
	return w.env
}

// Checkout is one commit in a worktree of its own, measured with its
// Workspace's command: setup runs in it once (Prepare), and each run (a
// fresh process) or server launch starts in it, under the sandbox. It
// numbers its runs and launches by batch across all the Pairs it is in,
// so that its files never clash; each Pair keeps its own samples.
type Checkout struct {
	w        *Workspace
	sd       *side
	prepared bool
	setup    *dump.Failure // Prepare's outcome, once prepared
}

// Name is the Checkout's name (Commit.Name); SHA its commit.
func (c *Checkout) Name() string { return c.sd.name }

// SHA is the commit checked out.
func (c *Checkout) SHA() string { return c.sd.sha }

// Prepare runs setup (Spec.Setup) in the worktree and, in mode generate,
// asks its sglang whether it wants --warmup-mode; once: later calls
// return the first outcome. A setup that fails is a Failure: the commit
// cannot be measured (a bisect skips it).
func (c *Checkout) Prepare(ctx context.Context) *dump.Failure {
	if c.prepared {
		return c.setup
	}
	c.prepared = true
	if c.setup = c.w.setup(ctx, c.sd); c.setup != nil {
		return c.setup
	}
	if c.w.r.serve == nil {
		c.w.r.probeWarmup(ctx, c.sd)
	}
	return nil
}

// Command is the command line of run (1-based) of the Checkout,
// shell-quoted for the report, as it runs in the worktree: the dump is
// named relative to the out folder and the worktree is ".", so that no
// path of the machine that ran it shows. In mode serve it is the serve
// command and the request the server gets.
func (c *Checkout) Command(run int) string {
	r, sd := c.w.r, c.sd
	run = max(run, 1)
	here := &side{name: sd.name, sha: sd.sha, worktree: ".", template: sd.template}
	if r.serve != nil {
		return r.serveCommand(here)
	}
	return QuoteWords(r.argv(here, dump.RunName("", sd.name, run)+".json", run))
}

// Close removes the worktree; its samples stay readable through its
// Pairs. Closing a closed Checkout does nothing.
func (c *Checkout) Close() error {
	w := c.w
	for i, o := range w.open {
		if o == c {
			w.open = append(w.open[:i], w.open[i+1:]...)
			break
		}
	}
	if c.sd.worktree == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := c.sd.worktree
	c.sd.worktree = ""
	if err := w.git.RemoveWorktree(ctx, dir); err != nil {
		return fmt.Errorf("remove worktree %s: %w", dir, err)
	}
	return nil
}

// Pair is a sampler over two open Checkouts of one Workspace: a, labelled
// as the baseline, and b, as the new code. It is protocol.Sampler. A
// Checkout may be in several Pairs (a bisect pairs the midpoint with the
// good and the bad commit) and is set up once for all; each Pair keeps the
// samples it took, by batch, so Pairs that share a Checkout never mix
// theirs.
type Pair struct {
	a, b *Checkout
	runs map[string][2][]dump.Run // by batch: a's and b's
}

// NewPair pairs two open Checkouts of one Workspace. Pairing a Checkout
// with itself, or Checkouts of two Workspaces, is a mistake of the caller
// and panics.
func NewPair(a, b *Checkout) *Pair {
	if a == b || a.w != b.w {
		panic("bench.NewPair: two different Checkouts of one Workspace are needed")
	}
	return &Pair{a: a, b: b, runs: map[string][2][]dump.Run{}}
}

// Pair runs one balanced pair of batch: a then b when the Pair has an
// even number of a's samples in the batch so far (in mode serve, when a has
// had an even number of launches in the batch), b then a otherwise, so the
// sequence is a b b a a b ... A failed run ends the pair; the samples taken
// before it are kept.
//
// In mode serve a pair is one launch of each Checkout's server, in the
// same balanced order, each giving Serve.Requests samples.
func (p *Pair) Pair(ctx context.Context, batch string) *dump.Failure {
	r, a, b := p.a.w.r, p.a.sd, p.b.sd
	na, nb := len(a.runs[batch]), len(b.runs[batch])
	defer func() {
		got := p.runs[batch]
		p.runs[batch] = [2][]dump.Run{append(got[0], a.runs[batch][na:]...), append(got[1], b.runs[batch][nb:]...)}
	}()
	if r.serve != nil {
		return r.servePair(ctx, [2]*side{a, b}, batch)
	}
	first, second := a, b
	if len(p.runs[batch][0])%2 == 1 {
		first, second = second, first
	}
	for _, sd := range []*side{first, second} {
		if f := r.runOne(ctx, sd, batch); f != nil {
			return f
		}
	}
	return nil
}

// Sides returns what each Checkout measured in batch so far, labelled as
// compare_perf labels them: a "Baseline", b "New".
func (p *Pair) Sides(batch string) (base, head dump.Side) {
	a, b, runs := p.a.sd, p.b.sd, p.runs[batch]
	return dump.Side{Label: "Baseline", Ref: a.ref, SHA: a.sha, Runs: runs[0]},
		dump.Side{Label: "New", Ref: b.ref, SHA: b.sha, Runs: runs[1]}
}

// Expect adds runs to the total that the Workspace's progress lines count
// towards: in mode serve, launches, each of Serve.Requests samples.
func (p *Pair) Expect(runs int) {
	r := p.a.w.r
	if r.serve != nil {
		runs *= r.serve.Requests
	}
	r.total += runs
}

// Step reports a phase or a decision, in words.
func (p *Pair) Step(msg string) { p.a.w.r.progress.Step(msg) }
