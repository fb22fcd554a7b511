package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/diffperf/diffperf/internal/input"
)

// Git runs git in one repository. Every call runs under a context, and its
// errors carry git's stderr.
type Git struct {
	Dir string
	Env []string // environment of git; nil means ours
}

// RefError says a ref could not be resolved to a commit: unusable input.
type RefError struct {
	Ref string
	Err error
}

func (e *RefError) Error() string {
	return fmt.Sprintf("ref %q: not a commit in %s: %v", e.Ref, "the repository", e.Err)
}

// Unwrap gives the marker of unusable input, named for the ref, around
// the cause.
func (e *RefError) Unwrap() error {
	return &input.Error{Name: "ref " + strconv.Quote(e.Ref), Err: e.Err}
}

// GitError is a failed git command with its stderr.
type GitError struct {
	Args   []string
	Stderr string
	Err    error
}

func (e *GitError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.Args, " "), msg)
}

func (e *GitError) Unwrap() error { return e.Err }

func (g Git) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = g.Dir
	cmd.Env = g.Env
	if cmd.Env != nil {
		cmd.Env = append(cmd.Env, "GIT_TERMINAL_PROMPT=0")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return "", &GitError{Args: args, Stderr: stderr.String(), Err: err}
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Toplevel returns the repository's top directory, or an error when Dir is
// not inside a git work tree.
func (g Git) Toplevel(ctx context.Context) (string, error) {
	return g.run(ctx, "rev-parse", "--show-toplevel")
}

// hasCommit reports whether sha names a commit present locally.
func (g Git) hasCommit(ctx context.Context, rev string) (string, bool) {
	sha, err := g.run(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	return sha, err == nil && sha != ""
}

// ResolveCommit returns the SHA of ref. A ref or SHA missing from a shallow
// or partial clone is fetched from origin first. An unknown ref is a
// *RefError.
func (g Git) ResolveCommit(ctx context.Context, ref string) (string, error) {
	if ref == "" || strings.HasPrefix(ref, "-") {
		return "", &RefError{Ref: ref, Err: errors.New("empty or starts with '-'")}
	}
	if sha, ok := g.hasCommit(ctx, ref); ok {
		return sha, nil
	}
	if !g.hasRemote(ctx, "origin") {
		return "", &RefError{Ref: ref, Err: errors.New("unknown, and there is no origin remote to fetch it from")}
	}
	// actions/checkout fetches one commit; fetch what we need by name.
	if _, err := g.run(ctx, "fetch", "--no-tags", "--depth=1", "origin", "--end-of-options", ref); err != nil {
		return "", &RefError{Ref: ref, Err: err}
	}
	if sha, ok := g.hasCommit(ctx, "FETCH_HEAD"); ok && (sha == ref || !isHex(ref)) {
		return sha, nil
	}
	if sha, ok := g.hasCommit(ctx, ref); ok {
		return sha, nil
	}
	return "", &RefError{Ref: ref, Err: errors.New("not found after fetching from origin")}
}

func (g Git) hasRemote(ctx context.Context, name string) bool {
	_, err := g.run(ctx, "remote", "get-url", name)
	return err == nil
}

// IsShallow reports whether the repository is a shallow clone.
func (g Git) IsShallow(ctx context.Context) bool {
	out, err := g.run(ctx, "rev-parse", "--is-shallow-repository")
	return err == nil && out == "true"
}

// MergeBase returns the best common ancestor of a and b. In a shallow
// clone it deepens the history from origin, doubling the depth, until the
// merge base appears or the clone is complete.
func (g Git) MergeBase(ctx context.Context, a, b string) (string, error) {
	depth := 32
	for {
		mb, err := g.run(ctx, "merge-base", a, b)
		if err == nil && mb != "" {
			return mb, nil
		}
		if !g.IsShallow(ctx) || !g.hasRemote(ctx, "origin") {
			return "", fmt.Errorf("merge base of %s and %s: %w", short(a), short(b), err)
		}
		args := []string{"fetch", "--no-tags", "--deepen=" + strconv.Itoa(depth), "origin", a, b}
		if depth > 4096 {
			args = []string{"fetch", "--no-tags", "--unshallow", "origin"}
		}
		if _, ferr := g.run(ctx, args...); ferr != nil {
			return "", fmt.Errorf("deepen the shallow clone to find the merge base: %w", ferr)
		}
		if depth > 4096 {
			depth = 1 << 30 // unshallowed: the next failure is final
			continue
		}
		depth *= 4
	}
}

// AddWorktree checks sha out, detached, in a new worktree at dir.
func (g Git) AddWorktree(ctx context.Context, dir, sha string) error {
	if err := g.AddEmptyWorktree(ctx, dir, sha); err != nil {
		return err
	}
	return Git{Dir: dir, Env: g.Env}.Populate(ctx)
}

// AddEmptyWorktree registers a detached worktree at dir without checking
// files out. Two of these must not run at once in one repository: git
// reads the other worktrees' metadata while it writes this one's.
func (g Git) AddEmptyWorktree(ctx context.Context, dir, sha string) error {
	_, err := g.run(ctx, "worktree", "add", "--detach", "--force", "--no-checkout", dir, sha)
	return err
}

// Populate checks out the files of the worktree at g.Dir. It touches only
// that worktree's index and files, so several may run at once. Parallel
// checkout (git 2.32+, one worker per core; older git ignores the key)
// helps with sglang's thousands of files.
func (g Git) Populate(ctx context.Context) error {
	_, err := g.run(ctx, "-c", "checkout.workers=0", "reset", "--hard", "--quiet")
	return err
}

// RemoveWorktree removes the worktree at dir, its files included.
func (g Git) RemoveWorktree(ctx context.Context, dir string) error {
	_, err := g.run(ctx, "worktree", "remove", "--force", "--force", dir)
	if err != nil {
		// Already gone from git's list: remove the files, forget the entry.
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			return errors.Join(err, rmErr)
		}
		_, err = g.run(ctx, "worktree", "prune")
	}
	return err
}

// PruneStale removes worktrees under root left by diffperf processes that
// no longer run (a killed run), then lets git forget missing ones.
func (g Git) PruneStale(ctx context.Context, root string) error {
	if _, err := g.run(ctx, "worktree", "prune"); err != nil {
		return err
	}
	out, err := g.run(ctx, "worktree", "list", "--porcelain")
	if err != nil {
		return err
	}
	var errs []error
	for _, line := range strings.Split(out, "\n") {
		path, ok := strings.CutPrefix(line, "worktree ")
		if !ok || filepath.Dir(path) != filepath.Clean(root) {
			continue
		}
		if pid, ok := ownerPID(filepath.Base(path)); ok && processAlive(pid) {
			continue // another diffperf run is using it
		}
		errs = append(errs, g.RemoveWorktree(ctx, path))
	}
	// Directories that git no longer knows but that a killed run left.
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if pid, ok := ownerPID(e.Name()); ok && !processAlive(pid) {
			errs = append(errs, os.RemoveAll(filepath.Join(root, e.Name())))
		}
	}
	return errors.Join(errs...)
}

// WorktreeName is the directory name of a side's worktree: the owner's PID
// first, so PruneStale can tell a live run's worktrees from stale ones.
func WorktreeName(pid int, side string) string {
	return fmt.Sprintf("%d-%s", pid, side)
}

func ownerPID(name string) (int, bool) {
	p, _, ok := strings.Cut(name, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(p)
	return pid, err == nil && pid > 0
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func isHex(s string) bool {
	if len(s) < 7 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

func short(sha string) string {
	if len(sha) > 12 && isHex(sha) {
		return sha[:12]
	}
	return sha
}
