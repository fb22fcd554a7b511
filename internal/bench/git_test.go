package bench

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// branched makes main: c1 c2 [fork] c3 ... and feature: fork f1 f2, and
// returns the repo, the fork point, and the tips.
func branched(t *testing.T, mainAfter int) (repo, fork, mainTip, featureTip string) {
	t.Helper()
	repo = t.TempDir()
	gitT(t, repo, "init", "-q", "-b", "main")
	commitWorkload(t, repo, "step_ms=1\n", "c1")
	fork = commitWorkload(t, repo, "step_ms=2\n", "c2")
	gitT(t, repo, "checkout", "-q", "-b", "feature")
	commitWorkload(t, repo, "step_ms=3\n", "f1")
	featureTip = commitWorkload(t, repo, "step_ms=4\n", "f2")
	gitT(t, repo, "checkout", "-q", "main")
	for i := 0; i < mainAfter; i++ {
		mainTip = commitWorkload(t, repo, "step_ms=1\nmain="+string(rune('a'+i%26))+strings.Repeat("x", i)+"\n", "main")
	}
	return repo, fork, mainTip, featureTip
}

func TestMergeBaseOfBranchedHistory(t *testing.T) {
	t.Parallel()
	repo, fork, _, _ := branched(t, 3)
	g := Git{Dir: repo}
	ctx := context.Background()
	base, err := g.ResolveCommit(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	head, err := g.ResolveCommit(ctx, "feature")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := g.MergeBase(ctx, base, head)
	if err != nil || mb != fork {
		t.Errorf("MergeBase = %s, %v; want the fork point %s", mb, err, fork)
	}
}

func TestShallowCloneIsDeepenedForTheMergeBase(t *testing.T) {
	t.Parallel()
	// The fork point lies 40 commits below main's tip; the clone has one
	// commit of the feature branch, as actions/checkout leaves it.
	origin, fork, mainTip, featureTip := branched(t, 40)
	clone := filepath.Join(t.TempDir(), "clone")
	gitT(t, filepath.Dir(clone), "clone", "-q", "--depth=1", "--branch", "feature", "file://"+origin, clone)
	g := Git{Dir: clone}
	ctx := context.Background()
	if !g.IsShallow(ctx) {
		t.Fatal("the clone is not shallow")
	}
	base, err := g.ResolveCommit(ctx, mainTip) // a SHA the clone lacks
	if err != nil || base != mainTip {
		t.Fatalf("ResolveCommit(main tip) = %s, %v", base, err)
	}
	mb, err := g.MergeBase(ctx, base, featureTip)
	if err != nil || mb != fork {
		t.Fatalf("MergeBase in a shallow clone = %s, %v; want %s", mb, err, fork)
	}
}

func TestResolveCommitErrors(t *testing.T) {
	t.Parallel()
	repo, _, _, _ := branched(t, 1)
	g := Git{Dir: repo}
	for _, ref := range []string{"no-such-ref", "--upload-pack=touch pwned", "", "0123456789abcdef0123456789abcdef01234567"} {
		_, err := g.ResolveCommit(context.Background(), ref)
		var re *RefError
		if !errors.As(err, &re) || re.Ref != ref {
			t.Errorf("ResolveCommit(%q) = %v, want a RefError naming it", ref, err)
		}
	}
	if _, err := os.Stat(filepath.Join(repo, "pwned")); err == nil {
		t.Error("a ref reached git as an option")
	}
}

func TestPruneStaleWorktrees(t *testing.T) {
	t.Parallel()
	repo, fork, _, _ := branched(t, 1)
	g := Git{Dir: repo}
	ctx := context.Background()
	root := t.TempDir()
	// A PID that no longer runs: a process that has exited.
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(root, WorktreeName(done.Process.Pid, "base"))
	live := filepath.Join(root, WorktreeName(os.Getpid(), "head"))
	for _, dir := range []string{stale, live} {
		if err := g.AddWorktree(ctx, dir, fork); err != nil {
			t.Fatal(err)
		}
	}
	// A killed run's folder that git no longer lists.
	orphan := filepath.Join(root, WorktreeName(done.Process.Pid, "head"))
	mkdir(t, orphan)

	if err := g.PruneStale(ctx, root); err != nil {
		t.Fatal(err)
	}
	list := gitT(t, repo, "worktree", "list", "--porcelain")
	if strings.Contains(list, stale) {
		t.Errorf("stale worktree still listed:\n%s", list)
	}
	if !strings.Contains(list, live) {
		t.Errorf("a live run's worktree was removed:\n%s", list)
	}
	for _, dir := range []string{stale, orphan} {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s still exists", dir)
		}
	}
	if err := g.RemoveWorktree(ctx, live); err != nil {
		t.Fatal(err)
	}
}

func TestGitErrorsCarryStderr(t *testing.T) {
	t.Parallel()
	_, err := Git{Dir: t.TempDir()}.Toplevel(context.Background())
	var ge *GitError
	if !errors.As(err, &ge) || !strings.Contains(err.Error(), "not a git repository") {
		t.Errorf("err = %v, want a GitError with git's message", err)
	}
}
