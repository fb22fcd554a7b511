package git

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
	g := Repo{Dir: repo}
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
	g := Repo{Dir: clone}
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
	g := Repo{Dir: repo}
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
	g := Repo{Dir: repo}
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
		if err := g.AddEmptyWorktree(ctx, dir, fork); err != nil {
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
	_, err := Repo{Dir: t.TempDir()}.Toplevel(context.Background())
	var ge *Error
	if !errors.As(err, &ge) || !strings.Contains(err.Error(), "not a git repository") {
		t.Errorf("err = %v, want a Error with git's message", err)
	}
}

// clone makes a full clone of origin, as a developer's checkout, and
// returns it.
func clone(t *testing.T, origin string, args ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	gitT(t, filepath.Dir(dir), append(append([]string{"clone", "-q"}, args...), "file://"+origin, dir)...)
	return dir
}

// TestFullCloneStaysComplete: a ref missing from a full clone (a branch
// whose tip only origin has) is fetched in full, so the clone does not
// turn shallow.
func TestFullCloneStaysComplete(t *testing.T) {
	t.Parallel()
	origin, fork, mainTip, _ := branched(t, 3)
	dir := clone(t, origin)
	// A push to origin after the clone: the new tip is not here yet.
	gitT(t, origin, "checkout", "-q", "feature")
	featureTip := commitWorkload(t, origin, "step_ms=5\n", "f3")
	g := Repo{Dir: dir}
	ctx := context.Background()
	head, err := g.ResolveCommit(ctx, "feature") // only origin/feature here
	if err != nil || head != featureTip {
		t.Fatalf("ResolveCommit(feature) = %s, %v; want %s", head, err, featureTip)
	}
	base, err := g.ResolveCommit(ctx, "main")
	if err != nil || base != mainTip {
		t.Fatalf("ResolveCommit(main) = %s, %v; want %s", base, err, mainTip)
	}
	// Checked before the merge base: deepening a clone that turned
	// shallow can make it whole again, but an A/A run (--base main --head
	// main) never deepens.
	if g.IsShallow(ctx) {
		t.Error("the full clone turned shallow")
	}
	if _, err := os.Stat(filepath.Join(dir, ".git", "shallow")); err == nil {
		t.Error(".git/shallow exists")
	}
	if mb, err := g.MergeBase(ctx, base, head); err != nil || mb != fork {
		t.Errorf("MergeBase = %s, %v; want %s", mb, err, fork)
	}
}

// TestRefspecRefsAreRefused: a ref that a fetch would read as a refspec
// (src:dst, +src:dst) is refused before git sees it, naming the ref; no
// branch is created or moved.
func TestRefspecRefsAreRefused(t *testing.T) {
	t.Parallel()
	origin, _, mainTip, _ := branched(t, 1)
	dir := clone(t, origin)
	gitT(t, dir, "branch", "keep", mainTip)
	g := Repo{Dir: dir}
	for _, ref := range []string{"main:README.md", "+feature:keep", "feature:keep"} {
		_, err := g.ResolveCommit(context.Background(), ref)
		var re *RefError
		if !errors.As(err, &re) || re.Ref != ref || !re.Invalid || !strings.Contains(err.Error(), ref) {
			t.Errorf("ResolveCommit(%q) = %v, want an invalid-ref RefError naming it", ref, err)
		}
	}
	if out, err := exec.Command("git", "-C", dir, "rev-parse", "--verify", "--quiet", "refs/heads/README.md").Output(); err == nil {
		t.Errorf("a branch README.md was created at %s", out)
	}
	if got := gitT(t, dir, "rev-parse", "keep"); got != mainTip {
		t.Errorf("branch keep moved to %s, want %s", got, mainTip)
	}
}

func TestValidateRef(t *testing.T) {
	t.Parallel()
	sha1 := strings.Repeat("0123456789", 4)
	sha256 := strings.Repeat("abcdef0123456789", 4)
	for _, ref := range []string{"main", "HEAD", "main~1", "HEAD^", "HEAD^2~3", "feature/x-1.2", "v1.0", "refs/pull/7/head", sha1, sha256, "abc1234", "模型"} {
		if err := ValidateRef(ref); err != nil {
			t.Errorf("ValidateRef(%q) = %v, want nil", ref, err)
		}
	}
	for _, ref := range []string{"", "-x", "--upload-pack=x", "+main", "+main:main", "main:README.md", ":main", "a..b", "main main",
		"a\x00b", "a\tb", "a\x7fb", "refs/heads/*", "a?", "a[b]", `a\b`, "main@{1}", "@", ".hidden", "a/.b", "x.lock", "a//b", "a/", "a.", "main^{tree}", "~1"} {
		var re *RefError
		if err := ValidateRef(ref); !errors.As(err, &re) || !re.Invalid || re.Ref != ref {
			t.Errorf("ValidateRef(%q) = %v, want an invalid-ref RefError", ref, err)
		}
	}
}

// TestFetchFailureIsNotARefError: a fetch that cannot run (origin
// unreachable, a lock a killed git left) is a runtime failure (exit 3),
// not a ref that does not exist (exit 2); a ref origin lacks still is.
func TestFetchFailureIsNotARefError(t *testing.T) {
	t.Parallel()
	origin, _, mainTip, _ := branched(t, 2)
	ctx := context.Background()

	reachable := clone(t, origin)
	_, err := Repo{Dir: reachable}.ResolveCommit(ctx, "no-such-branch")
	var re *RefError
	if !errors.As(err, &re) {
		t.Errorf("a branch origin lacks: %v, want a RefError", err)
	}

	unreachable := clone(t, origin)
	gitT(t, unreachable, "remote", "set-url", "origin", filepath.Join(t.TempDir(), "no-such-repo"))
	_, err = Repo{Dir: unreachable}.ResolveCommit(ctx, "feature")
	if err == nil || errors.As(err, &re) || !strings.Contains(err.Error(), "fetch") {
		t.Errorf("origin unreachable: %v, want a fetch error that is no RefError", err)
	}

	locked := clone(t, origin, "--depth=1", "--branch", "feature")
	if err := os.WriteFile(filepath.Join(locked, ".git", "shallow.lock"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Repo{Dir: locked}.ResolveCommit(ctx, mainTip)
	if err == nil || errors.As(err, &re) || !strings.Contains(err.Error(), "shallow.lock") {
		t.Errorf("stale shallow.lock: %v, want a fetch error that is no RefError", err)
	}
}

func TestParseGitVersion(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		out     string
		want    [3]int
		tooOld  bool
		badText bool
	}{
		{"git version 2.39.5", [3]int{2, 39, 5}, false, false},
		{"git version 2.30.0.windows.1", [3]int{2, 30, 0}, false, false},
		{"git version 2.29.2", [3]int{2, 29, 2}, true, false},
		{"git version 2.37.1 (Apple Git-137.1)\n", [3]int{2, 37, 1}, false, false},
		{"git version 2.45.0.rc1", [3]int{2, 45, 0}, false, false},
		{"git version 3.0.0", [3]int{3, 0, 0}, false, false},
		{"git version 1.9.1", [3]int{1, 9, 1}, true, false},
		{"hub version 2.14", [3]int{}, false, true},
		{"git version x.y", [3]int{}, false, true},
	} {
		got, err := parseGitVersion(tt.out)
		if tt.badText {
			if err == nil {
				t.Errorf("parseGitVersion(%q) = %v, want an error", tt.out, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseGitVersion(%q) = %v, %v; want %v", tt.out, got, err, tt.want)
		}
		verr := gitVersionError(tt.out)
		if tt.tooOld != (verr != nil) || tt.tooOld && !strings.Contains(verr.Error(), "2.30 or newer") {
			t.Errorf("gitVersionError(%q) = %v, too old: %v", tt.out, verr, tt.tooOld)
		}
	}
}

// TestGitGetsNoToken: git runs hooks and config that the benchmarked code
// may have written into the checkout, so it never gets the token.
func TestGitGetsNoToken(t *testing.T) {
	t.Setenv("GITHUB_TOKEN", "ghs_from_the_process")
	t.Setenv("INPUT_GITHUB-TOKEN", "ghs_from_the_process")
	for _, g := range []Repo{{}, {Env: []string{"PATH=/bin", "GITHUB_TOKEN=ghs_given", "INPUT_GITHUB-TOKEN=ghs_given", "HOME=/h"}}} {
		env := strings.Join(g.Environ(), "\n")
		if strings.Contains(env, "ghs_") || !strings.Contains(env, "GIT_TERMINAL_PROMPT=0") {
			t.Errorf("git's environment:\n%s", env)
		}
	}
}

// TestGitReadsNoUserConfig: a core.hooksPath in the HOME's ~/.gitconfig
// (which a benchmark without a sandbox can write) names a post-checkout
// hook; diffperf's git reads no user or system config, so it never runs.
func TestGitReadsNoUserConfig(t *testing.T) {
	t.Parallel()
	repo, _, _ := newRepo(t, workload(), workload())
	home, hooks := t.TempDir(), t.TempDir()
	ran := filepath.Join(t.TempDir(), "hook-ran")
	hook := "#!/bin/sh\necho ran > '" + ran + "'\n"
	if err := os.WriteFile(filepath.Join(hooks, "post-checkout"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte("[core]\n\thooksPath = "+hooks+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := Repo{Dir: repo, Env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}}
	if _, err := g.run(t.Context(), "checkout", "-q", "--detach", "main~1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Errorf("git ran the post-checkout hook of the HOME's core.hooksPath")
	}
	if out, err := g.run(t.Context(), "config", "--get", "core.hooksPath"); err == nil {
		t.Errorf("git read core.hooksPath %q from the HOME's .gitconfig", out)
	}
}

// TestGitTrustsItsCheckoutOfAnotherOwner: without the global config,
// the safe.directory that actions/checkout writes there for a container
// job is gone; diffperf's git still works in a checkout another user owns.
// It needs root, to give the checkout away.
func TestGitTrustsItsCheckoutOfAnotherOwner(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the checkout to another user")
	}
	repo, _, _ := newRepo(t, workload(), workload())
	if out, err := exec.Command("chown", "-R", "4242:4242", repo).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	g := Repo{Dir: repo, Env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}}
	if _, err := g.run(t.Context(), "rev-parse", "HEAD"); err != nil {
		t.Errorf("git in a checkout of another owner: %v", err)
	}
}
