// Package git runs git for diffperf: refs resolved and validated before git
// sees them, merge bases found in shallow clones by deepening them, detached
// worktrees added, checked out and removed, and stale ones pruned. Every call
// runs under a context with git's stderr in its error, and with an
// environment that holds no token and reads no user or system config.
package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/proc"
)

// Repo runs git in one repository (or one of its worktrees). Every call
// runs under a context, and its errors carry git's stderr.
type Repo struct {
	Dir string
	Env []string // environment of git; nil means ours (see Environ)
}

// RefError says a ref is unusable input: malformed (Invalid), or not a
// commit in the repository or on origin.
type RefError struct {
	Ref     string
	Err     error
	Invalid bool // the ref is malformed; git was never asked
}

func (e *RefError) Error() string {
	if e.Invalid {
		return fmt.Sprintf("ref %q: not a usable ref: %v", e.Ref, e.Err)
	}
	return fmt.Sprintf("ref %q: not a commit in %s: %v", e.Ref, "the repository", e.Err)
}

// Unwrap gives the marker of unusable input, named for the ref, around
// the cause.
func (e *RefError) Unwrap() error {
	return &input.Error{Name: "ref " + strconv.Quote(e.Ref), Err: e.Err}
}

// Error is a failed git command with its stderr.
type Error struct {
	Args   []string
	Stderr string
	Err    error
}

func (e *Error) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.Args, " "), msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Environ is git's environment: Env, or ours, never with the token or the
// Action's inputs (git may run hooks or config that the benchmarked code
// wrote into the checkout), never prompting for credentials, and reading
// neither the user's ~/.gitconfig nor the system's config (a hooks path,
// an fsmonitor or a credential helper there would run under diffperf).
// Dir stays a safe directory, as actions/checkout makes it in the global
// config of a container job whose checkout another user owns.
func (g Repo) Environ() []string {
	env := g.Env
	if env == nil {
		env = os.Environ()
	}
	env = append(proc.FilterEnv(env, nil), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	if filepath.IsAbs(g.Dir) && !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "GIT_CONFIG_COUNT=") }) {
		env = append(env, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=safe.directory", "GIT_CONFIG_VALUE_0="+g.Dir)
	}
	return env
}

// Run runs git with args in Dir under ctx, with the filtered environment
// of Environ, and returns its stdout without surrounding space. A failure
// is a *Error that carries git's stderr.
func (g Repo) Run(ctx context.Context, args ...string) (string, error) {
	return g.run(ctx, args...)
}

func (g Repo) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = g.Dir
	cmd.Env = g.Environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return "", &Error{Args: args, Stderr: stderr.String(), Err: err}
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Toplevel returns the repository's top directory, or an error when Dir is
// not inside a git work tree.
func (g Repo) Toplevel(ctx context.Context) (string, error) {
	return g.run(ctx, "rev-parse", "--show-toplevel")
}

// Dirty reports whether the work tree or the index differs from HEAD in a
// tracked file (untracked files, such as an out folder, do not count).
func (g Repo) Dirty(ctx context.Context) (bool, error) {
	out, err := g.run(ctx, "status", "--porcelain", "--untracked-files=no")
	return out != "", err
}

// hasCommit reports whether sha names a commit present locally.
func (g Repo) hasCommit(ctx context.Context, rev string) (string, bool) {
	sha, err := g.run(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	return sha, err == nil && sha != ""
}

// ResolveCommit returns the SHA of ref. A ref or SHA missing from a shallow
// or partial clone is fetched from origin first: in a shallow clone with
// --depth=1, as actions/checkout would, in a full clone in full, so the
// clone stays complete. A malformed or unknown ref is a *RefError (unusable
// input); a fetch that fails for another reason (origin unreachable, a
// stale lock) or a git that is too old is a plain error (a runtime
// failure).
func (g Repo) ResolveCommit(ctx context.Context, ref string) (string, error) {
	if err := ValidateRef(ref); err != nil {
		return "", err
	}
	if err := checkGitVersion(ctx); err != nil {
		return "", err
	}
	if sha, ok := g.hasCommit(ctx, ref); ok {
		return sha, nil
	}
	if !g.hasRemote(ctx, "origin") {
		return "", &RefError{Ref: ref, Err: errors.New("unknown, and there is no origin remote to fetch it from")}
	}
	if revSuffix.MatchString(ref) {
		// main~1 names a commit relative to another; origin cannot send it
		// by that name.
		return "", &RefError{Ref: ref, Err: errors.New("unknown here, and a revision expression cannot be fetched from origin")}
	}
	args := []string{"fetch", "--no-tags"}
	if g.IsShallow(ctx) {
		// actions/checkout fetches one commit; fetch what we need by name.
		args = append(args, "--depth=1")
	}
	if _, err := g.run(ctx, append(args, "origin", "--end-of-options", ref)...); err != nil {
		if fetchFoundNoRef(err) {
			return "", &RefError{Ref: ref, Err: err}
		}
		return "", fmt.Errorf("fetch %q from origin: %w", ref, err)
	}
	if sha, ok := g.hasCommit(ctx, "FETCH_HEAD"); ok && (sha == ref || !isHex(ref)) {
		return sha, nil
	}
	if sha, ok := g.hasCommit(ctx, ref); ok {
		return sha, nil
	}
	return "", &RefError{Ref: ref, Err: errors.New("not found after fetching from origin")}
}

// fetchFoundNoRef reports whether a failed fetch says the remote has no
// such ref or object (the ref is wrong), as opposed to a fetch that could
// not run (no network, no such remote repository, a lock left behind).
// These are git's messages, unchanged since before 2.30.
func fetchFoundNoRef(err error) bool {
	var ge *Error
	if !errors.As(err, &ge) {
		return false
	}
	for _, msg := range []string{"couldn't find remote ref", "not our ref", "unadvertised object", "no such remote ref"} {
		if strings.Contains(ge.Stderr, msg) {
			return true
		}
	}
	return false
}

// revSuffix is the ~N and ^N suffixes of a revision expression (main~1,
// HEAD^2), which ValidateRef allows after a ref name.
var revSuffix = regexp.MustCompile(`([~^][0-9]*)+$`)

// ValidateRef refuses, before git sees it, a ref that git would read as
// something other than one commit: an option (-x), a fetch refspec
// (src:dst, or +src to force), a range (a..b), a pattern, or text with
// control characters or spaces. What is allowed is a SHA, or a ref name by
// the rules of git check-ref-format --allow-onelevel, optionally followed
// by ~N and ^N (main~1).
func ValidateRef(ref string) error {
	bad := func(why string) error { return &RefError{Ref: ref, Err: errors.New(why), Invalid: true} }
	name := revSuffix.ReplaceAllString(ref, "")
	switch {
	case name == "":
		return bad("empty")
	case name[0] == '-':
		return bad("starts with '-', which git would read as an option")
	case name[0] == '+':
		return bad("starts with '+', which a fetch reads as a forced refspec")
	case strings.Contains(name, ".."):
		return bad("contains '..', a range")
	case strings.Contains(name, "@{"):
		return bad("contains '@{'")
	case name == "@":
		return bad("is '@'")
	case strings.Contains(name, "//") || strings.HasSuffix(name, "/") || strings.HasSuffix(name, "."):
		return bad("is not a ref name (an empty component, or a trailing '/' or '.')")
	}
	for _, r := range name {
		switch {
		case r < 0x20 || r == 0x7f:
			return bad("contains a control character")
		case r == ' ':
			return bad("contains a space")
		case r == ':':
			return bad("contains ':', which a fetch reads as a refspec src:dst")
		case strings.ContainsRune(`~^?*[\`, r):
			return bad(fmt.Sprintf("contains %q", r))
		}
	}
	for _, c := range strings.Split(name, "/") {
		if strings.HasPrefix(c, ".") || strings.HasSuffix(c, ".lock") {
			return bad("has a component that starts with '.' or ends with '.lock'")
		}
	}
	return nil
}

// MinGitVersion is the oldest git diffperf works with: rev-parse
// --end-of-options, which keeps a ref from being read as an option, came
// in git 2.30.
var MinGitVersion = [2]int{2, 30}

var gitVersion struct {
	sync.Mutex
	ok bool
}

// checkGitVersion asks git for its version once per process (the git on
// our PATH is the one every Repo runs) and fails, naming the minimum, when
// it is older than MinGitVersion.
func checkGitVersion(ctx context.Context) error {
	gitVersion.Lock()
	defer gitVersion.Unlock()
	if gitVersion.ok {
		return nil
	}
	out, err := Repo{}.run(ctx, "version")
	if err != nil {
		return fmt.Errorf("git: %w", err)
	}
	if err := gitVersionError(out); err != nil {
		return err
	}
	gitVersion.ok = true
	return nil
}

// gitVersionError says why the git that printed out (git version) cannot
// serve, or nil.
func gitVersionError(out string) error {
	v, err := parseGitVersion(out)
	if err != nil {
		return err
	}
	if v[0] < MinGitVersion[0] || v[0] == MinGitVersion[0] && v[1] < MinGitVersion[1] {
		return fmt.Errorf("git %d.%d.%d is too old: diffperf needs git %d.%d or newer (for rev-parse --end-of-options)",
			v[0], v[1], v[2], MinGitVersion[0], MinGitVersion[1])
	}
	return nil
}

// parseGitVersion reads the output of git version: "git version 2.39.5",
// "git version 2.30.0.windows.1", "git version 2.37.1 (Apple Git-137.1)".
func parseGitVersion(out string) ([3]int, error) {
	var v [3]int
	rest, ok := strings.CutPrefix(strings.TrimSpace(out), "git version ")
	fields := strings.Fields(rest)
	if !ok || len(fields) == 0 {
		return v, fmt.Errorf("git version: cannot read %q", out)
	}
	parts := strings.Split(fields[0], ".")
	for i := 0; i < len(v) && i < len(parts); i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			if i < 2 {
				return v, fmt.Errorf("git version: cannot read %q", out)
			}
			break // 2.40.rc0: no patch number
		}
		v[i] = n
	}
	if len(parts) < 2 {
		return v, fmt.Errorf("git version: cannot read %q", out)
	}
	return v, nil
}

func (g Repo) hasRemote(ctx context.Context, name string) bool {
	_, err := g.run(ctx, "remote", "get-url", name)
	return err == nil
}

// IsShallow reports whether the repository is a shallow clone.
func (g Repo) IsShallow(ctx context.Context) bool {
	out, err := g.run(ctx, "rev-parse", "--is-shallow-repository")
	return err == nil && out == "true"
}

// MergeBase returns the best common ancestor of a and b. In a shallow
// clone it deepens the history from origin, doubling the depth, until the
// merge base appears or the clone is complete.
func (g Repo) MergeBase(ctx context.Context, a, b string) (string, error) {
	depth := 32
	for {
		mb, err := g.run(ctx, "merge-base", a, b)
		if err == nil && mb != "" {
			return mb, nil
		}
		if !g.IsShallow(ctx) || !g.hasRemote(ctx, "origin") {
			return "", fmt.Errorf("merge base of %s and %s: %w", Short(a), Short(b), err)
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

// AddEmptyWorktree registers a detached worktree at dir without checking
// files out. Two of these must not run at once in one repository: git
// reads the other worktrees' metadata while it writes this one's.
func (g Repo) AddEmptyWorktree(ctx context.Context, dir, sha string) error {
	_, err := g.run(ctx, "worktree", "add", "--detach", "--force", "--no-checkout", dir, sha)
	return err
}

// Populate checks out the files of the worktree at g.Dir. It touches only
// that worktree's index and files, so several may run at once. Parallel
// checkout (git 2.32+, one worker per core; older git ignores the key)
// helps with sglang's thousands of files.
func (g Repo) Populate(ctx context.Context) error {
	_, err := g.run(ctx, "-c", "checkout.workers=0", "reset", "--hard", "--quiet")
	return err
}

// RemoveWorktree removes the worktree at dir, its files included.
func (g Repo) RemoveWorktree(ctx context.Context, dir string) error {
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
func (g Repo) PruneStale(ctx context.Context, root string) error {
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

// Short is the first 12 digits of a SHA, for progress lines and errors;
// anything else as it is.
func Short(sha string) string {
	if len(sha) > 12 && isHex(sha) {
		return sha[:12]
	}
	return sha
}
