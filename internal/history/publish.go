package history

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/diffperf/diffperf/internal/bench"
	gitrepo "github.com/diffperf/diffperf/internal/git"
)

// DefaultBranch is the data branch when the workflow names none (input
// history-branch).
const DefaultBranch = "diffperf-data"

// The identity of the store's commits: GitHub's own for the default
// GITHUB_TOKEN, so they show as github-actions[bot].
const (
	BotName  = "github-actions[bot]"
	BotEmail = "41898282+github-actions[bot]@users.noreply.github.com"
)

// DefaultTries is how many times Publish pushes before it gives up.
const DefaultTries = 5

// Publisher appends lines to the data branch of a repository's remote.
//
// It works in a private worktree of Repo (so the remote's credentials, as
// actions/checkout configures them in Repo, apply and nothing in Repo's
// own checkout changes). Each try fetches the branch, replays the append
// on its tip (or on no commit at all when the remote lacks the branch, so
// that the first push creates it as a branch of its own), commits as the
// bot and pushes without force. A push that fails, because another job
// pushed first or the network failed, is tried again from a fresh fetch,
// up to Tries times with doubling waits. Replaying the append rather than
// rebasing a commit cannot conflict, and lines already on the branch are
// not added again, so a push that landed although its answer was lost
// adds nothing on the next try.
//
// git runs with gitrepo.Repo's filtered environment: no token reaches it.
// Credentials for the push are the caller's concern: a remote URL or a
// credential helper configured in Repo (actions/checkout's persisted
// credentials do this).
type Publisher struct {
	// Repo is a clone of the repository with Remote configured; Branch the
	// data branch (DefaultBranch when empty) and Remote the remote
	// ("origin" when empty).
	Repo, Remote, Branch string
	// WorkDir is a private folder for the worktree (bench.PrivateDir
	// checks it); it is removed afterwards.
	WorkDir string
	// Env is git's environment before filtering; nil is this process's.
	Env []string
	// Tries bounds the pushes (DefaultTries when 0); Backoff is the first
	// wait, doubled after each failed try (1s when 0).
	Tries   int
	Backoff time.Duration
	// Sleep waits between tries; nil waits for d or until ctx is done.
	Sleep func(ctx context.Context, d time.Duration) error
	// Update, when set, runs in the worktree on every try, after the lines
	// are appended to the fresh tip: it may read the store and write
	// files beside it (the change-point state, the dashboard in docs/).
	// What it writes is committed with the lines; a try that changes no
	// file pushes nothing.
	Update func(dir string) error

	beforePush func(try int) // tests: what happens between commit and push
}

// Published is what a publish did: the lines it added, the commit it
// pushed ("" when every line was on the branch already) and how many tries
// it took.
type Published struct {
	Added  int
	Commit string
	Tries  int
}

// Publish appends lines to the data branch and pushes it; message is the
// commit message (see CommitMessage).
func (p *Publisher) Publish(ctx context.Context, lines []Line, message string) (res Published, err error) {
	remote, branch := cmp.Or(p.Remote, "origin"), cmp.Or(p.Branch, DefaultBranch)
	if err := gitrepo.ValidateRef(branch); err != nil {
		return res, err
	}
	if err := bench.PrivateDir("history worktree", p.WorkDir); err != nil {
		return res, err
	}
	repo := gitrepo.Repo{Dir: p.Repo, Env: p.Env}
	dir, err := os.MkdirTemp(p.WorkDir, gitrepo.WorktreeName(os.Getpid(), "history-"))
	if err != nil {
		return res, fmt.Errorf("history worktree: %w", err)
	}
	if err := os.Remove(dir); err != nil { // git worktree add makes it
		return res, fmt.Errorf("history worktree: %w", err)
	}
	if err := repo.AddEmptyWorktree(ctx, dir, "HEAD"); err != nil {
		return res, fmt.Errorf("history worktree: %w", err)
	}
	defer func() {
		// A fresh context: the worktree goes even when ctx is done.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if rerr := repo.RemoveWorktree(rctx, dir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove the history worktree: %w", rerr))
		}
	}()
	wt := gitrepo.Repo{Dir: dir, Env: p.Env}
	tries, wait := cmp.Or(p.Tries, DefaultTries), cmp.Or(p.Backoff, time.Second)
	local := "refs/diffperf/history/" + branch
	var last error
	for try := 1; try <= tries; try++ {
		res.Tries = try
		if try > 1 {
			if err := p.sleep(ctx, wait); err != nil {
				return res, errors.Join(last, err)
			}
			wait *= 2
		}
		added, commit, err := p.prepare(ctx, wt, dir, remote, branch, local, lines, message)
		if err != nil {
			return res, err
		}
		res.Added = added
		if added == 0 {
			return res, nil
		}
		if p.beforePush != nil {
			p.beforePush(try)
		}
		_, err = wt.Run(ctx, "push", "--quiet", "--no-verify", remote, commit+":refs/heads/"+branch)
		if err == nil {
			res.Commit = commit
			return res, nil
		}
		if ctx.Err() != nil {
			return res, fmt.Errorf("push %s: %w", branch, err)
		}
		last = fmt.Errorf("push %s (try %d of %d): %w", branch, try, tries, err)
	}
	return res, last
}

// prepare fetches the branch, puts the worktree at its tip (or at no
// commit), appends lines and commits them; it returns the lines added and
// the commit, "" when none were new.
func (p *Publisher) prepare(ctx context.Context, wt gitrepo.Repo, dir, remote, branch, local string, lines []Line, message string) (int, string, error) {
	heads, err := wt.Run(ctx, "ls-remote", "--heads", remote, "refs/heads/"+branch)
	if err != nil {
		return 0, "", fmt.Errorf("look for %s on %s: %w", branch, remote, err)
	}
	tip := ""
	if heads != "" {
		if _, err := wt.Run(ctx, "fetch", "--quiet", "--no-tags", remote, "+refs/heads/"+branch+":"+local); err != nil {
			return 0, "", fmt.Errorf("fetch %s: %w", branch, err)
		}
		if tip, err = wt.Run(ctx, "rev-parse", "--verify", "--end-of-options", local+"^{commit}"); err != nil {
			return 0, "", fmt.Errorf("fetch %s: %w", branch, err)
		}
		if _, err := wt.Run(ctx, "reset", "--hard", "--quiet", tip); err != nil {
			return 0, "", fmt.Errorf("check out %s: %w", branch, err)
		}
	} else {
		// No branch yet: an empty index and no files, so the first commit
		// holds the store alone.
		if _, err := wt.Run(ctx, "read-tree", "--empty"); err != nil {
			return 0, "", fmt.Errorf("start %s: %w", branch, err)
		}
		if err := os.RemoveAll(filepath.Join(dir, Folder)); err != nil {
			return 0, "", fmt.Errorf("start %s: %w", branch, err)
		}
	}
	added, err := Store{Dir: dir}.Append(lines)
	if err != nil || (added == 0 && p.Update == nil) {
		return 0, "", err
	}
	stage := []string{"add", "--", Folder}
	if p.Update != nil {
		if err := p.Update(dir); err != nil {
			return 0, "", err
		}
		stage = []string{"add", "-A", "--", "."}
	}
	if _, err := wt.Run(ctx, stage...); err != nil {
		return 0, "", fmt.Errorf("stage the store: %w", err)
	}
	tree, err := wt.Run(ctx, "write-tree")
	if err != nil {
		return 0, "", fmt.Errorf("stage the store: %w", err)
	}
	if p.Update != nil {
		old := ""
		if tip != "" {
			old, _ = wt.Run(ctx, "rev-parse", tip+"^{tree}")
		}
		if tree == old || (tip == "" && added == 0 && tree == emptyTree) {
			return 0, "", nil // nothing changed
		}
		added = max(added, 1) // something to push
	}
	args := []string{"-c", "user.name=" + BotName, "-c", "user.email=" + BotEmail, "commit-tree", "--no-gpg-sign", tree, "-m", message}
	if tip != "" {
		args = append(args, "-p", tip)
	}
	commit, err := wt.Run(ctx, args...)
	if err != nil {
		return 0, "", fmt.Errorf("commit the store: %w", err)
	}
	return added, commit, nil
}

// emptyTree is git's tree of no files (SHA-1).
const emptyTree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

func (p *Publisher) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CommitMessage names what a publish adds: the cases and the commits
// measured, e.g. "history: flux-h100 at 0123456789ab (base 89abcdef0123)".
func CommitMessage(lines []Line) string {
	var keys, heads, bases []string
	for _, l := range lines {
		add := func(list *[]string, s string) {
			if !slices.Contains(*list, s) {
				*list = append(*list, s)
			}
		}
		add(&keys, l.Case.Key)
		if l.Side == SideHead {
			add(&heads, shortSHA(l.Commit))
		} else {
			add(&bases, shortSHA(l.Commit))
		}
	}
	msg := "history: " + strings.Join(keys, ", ")
	if len(heads) > 0 {
		msg += " at " + strings.Join(heads, ", ")
	}
	if len(bases) > 0 {
		msg += " (base " + strings.Join(bases, ", ") + ")"
	}
	return msg
}

func shortSHA(s string) string { return s[:min(12, len(s))] }
