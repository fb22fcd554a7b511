package history

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gitrepo "github.com/diffperf/diffperf/internal/git"
	"github.com/google/go-cmp/cmp"
)

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gitrepo.Repo{Dir: dir}.Run(context.Background(), args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// remote is a bare repository with one commit on main, and clone makes a
// clone of it as a job's checkout would be.
func remote(t *testing.T) (bare string, clone func() string) {
	t.Helper()
	root := t.TempDir()
	bare = filepath.Join(root, "remote.git")
	seed := filepath.Join(root, "seed")
	git(t, root, "init", "--quiet", "--bare", "-b", "main", bare)
	git(t, root, "init", "--quiet", "-b", "main", seed)
	git(t, seed, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "--allow-empty", "--no-gpg-sign", "-m", "main")
	git(t, seed, "push", "--quiet", bare, "main")
	n := 0
	var mu sync.Mutex
	return bare, func() string {
		mu.Lock()
		n++
		dir := filepath.Join(root, fmt.Sprintf("clone%d", n))
		mu.Unlock()
		git(t, root, "clone", "--quiet", bare, dir)
		return dir
	}
}

func publisher(t *testing.T, repo string) *Publisher {
	return &Publisher{Repo: repo, WorkDir: filepath.Join(t.TempDir(), "work"), Sleep: func(context.Context, time.Duration) error { return nil }}
}

// stored reads the branch's lines of a case and month from the bare
// repository.
func stored(t *testing.T, bare, file string) []Line {
	t.Helper()
	dir := t.TempDir()
	git(t, dir, "clone", "--quiet", "--branch", DefaultBranch, bare, filepath.Join(dir, "c"))
	ls, problems, err := Store{Dir: filepath.Join(dir, "c")}.Read()
	if err != nil || len(problems) > 0 {
		t.Fatalf("read the branch: %v %v", err, problems)
	}
	var out []Line
	for _, l := range ls {
		if File(&l) == file {
			out = append(out, l)
		}
	}
	return out
}

func TestPublishCreatesTheBranch(t *testing.T) {
	t.Parallel()
	bare, clone := remote(t)
	ls := lines(t, "flux", 1, 2, t0)
	res, err := publisher(t, clone()).Publish(context.Background(), ls, CommitMessage(ls))
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 2 || res.Tries != 1 || res.Commit == "" {
		t.Errorf("Publish = %+v, want 2 lines in one try", res)
	}
	if got := git(t, bare, "rev-parse", DefaultBranch); got != res.Commit {
		t.Errorf("branch at %s, want %s", got, res.Commit)
	}
	// A branch of its own: no parent, the store alone, the bot's commit.
	info := git(t, bare, "log", "-1", "--format=%P|%an|%ae|%s", DefaultBranch)
	want := "|" + BotName + "|" + BotEmail + "|history: flux at " + sha(2)[:12] + " (base " + sha(1)[:12] + ")"
	if info != want {
		t.Errorf("commit %q, want %q", info, want)
	}
	if files := git(t, bare, "ls-tree", "-r", "--name-only", DefaultBranch); files != "history/flux/2026-06.jsonl" {
		t.Errorf("branch files %q", files)
	}
	if d := cmp.Diff(ls, stored(t, bare, "history/flux/2026-06.jsonl")); d != "" {
		t.Errorf("stored (-want +got):\n%s", d)
	}
}

// Several jobs append to one case's month at once, each from its own
// checkout: every push lands, no line is lost, none is there twice.
func TestPublishConcurrentAppendsAllLand(t *testing.T) {
	t.Parallel()
	bare, clone := remote(t)
	const jobs = 3
	var want []Line
	pubs := make([]*Publisher, jobs)
	batches := make([][]Line, jobs)
	for i := range jobs {
		pubs[i] = publisher(t, clone())
		batches[i] = lines(t, "flux", i+1, i+2, t0.Add(time.Duration(i)*time.Minute))
		want = append(want, batches[i]...)
	}
	var wg sync.WaitGroup
	errs := make([]error, jobs)
	results := make([]Published, jobs)
	start := make(chan struct{})
	for i := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = pubs[i].Publish(context.Background(), batches[i], CommitMessage(batches[i]))
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("job %d: %v", i, err)
		}
		t.Logf("job %d: %d tries", i, results[i].Tries)
		if results[i].Added != 2 {
			t.Errorf("job %d added %d lines, want 2", i, results[i].Added)
		}
	}
	got := stored(t, bare, "history/flux/2026-06.jsonl")
	if d := cmp.Diff(Series(want, "flux"), Series(got, "flux")); d != "" {
		t.Errorf("stored (-want +got):\n%s", d)
	}
	if n := git(t, bare, "rev-list", "--count", DefaultBranch); n != fmt.Sprint(jobs) {
		t.Errorf("%s commits on the branch, want one a job", n)
	}
}

// A push that another job's push beat is tried again on the new tip.
func TestPublishRetriesARejectedPush(t *testing.T) {
	t.Parallel()
	bare, clone := remote(t)
	first := lines(t, "flux", 1, 2, t0)
	if _, err := publisher(t, clone()).Publish(context.Background(), first, "seed"); err != nil {
		t.Fatal(err)
	}
	other := publisher(t, clone())
	p := publisher(t, clone())
	var waits []time.Duration
	p.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	p.Backoff = 10 * time.Millisecond
	otherLines := lines(t, "flux", 2, 3, t0.Add(time.Minute))
	p.beforePush = func(try int) {
		if try == 1 {
			if _, err := other.Publish(context.Background(), otherLines, "other"); err != nil {
				t.Error(err)
			}
		}
	}
	ours := lines(t, "flux", 3, 4, t0.Add(2*time.Minute))
	res, err := p.Publish(context.Background(), ours, "ours")
	if err != nil {
		t.Fatal(err)
	}
	if res.Tries != 2 || res.Added != 2 {
		t.Errorf("Publish = %+v, want 2 lines on the second try", res)
	}
	if d := cmp.Diff([]time.Duration{10 * time.Millisecond}, waits); d != "" {
		t.Errorf("waits (-want +got):\n%s", d)
	}
	want := append(append(append([]Line{}, first...), otherLines...), ours...)
	if d := cmp.Diff(want, stored(t, bare, "history/flux/2026-06.jsonl")); d != "" {
		t.Errorf("stored (-want +got):\n%s", d)
	}
	if subj := git(t, bare, "log", "--format=%s", DefaultBranch); subj != "ours\nother\nseed" {
		t.Errorf("history of the branch %q", subj)
	}
}

// The retry is bounded: a push beaten every time fails after Tries, with
// doubling waits, naming the last try.
func TestPublishGivesUpAfterTries(t *testing.T) {
	t.Parallel()
	_, clone := remote(t)
	other := publisher(t, clone())
	p := publisher(t, clone())
	p.Tries, p.Backoff = 3, time.Second
	var waits []time.Duration
	p.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	p.beforePush = func(try int) {
		ls := lines(t, "flux", 10+try, 11+try, t0.Add(time.Duration(try)*time.Minute))
		if _, err := other.Publish(context.Background(), ls, "other"); err != nil {
			t.Error(err)
		}
	}
	res, err := p.Publish(context.Background(), lines(t, "flux", 1, 2, t0), "ours")
	if err == nil || !strings.Contains(err.Error(), "try 3 of 3") {
		t.Errorf("Publish = %+v, %v; want a failure after 3 tries", res, err)
	}
	if d := cmp.Diff([]time.Duration{time.Second, 2 * time.Second}, waits); d != "" {
		t.Errorf("waits (-want +got):\n%s", d)
	}
}

func TestPublishNothingNewPushesNothing(t *testing.T) {
	t.Parallel()
	bare, clone := remote(t)
	ls := lines(t, "flux", 1, 2, t0)
	p := publisher(t, clone())
	if _, err := p.Publish(context.Background(), ls, "first"); err != nil {
		t.Fatal(err)
	}
	res, err := p.Publish(context.Background(), ls, "again")
	if err != nil || res.Added != 0 || res.Commit != "" {
		t.Errorf("Publish again = %+v, %v; want nothing added", res, err)
	}
	if n := git(t, bare, "rev-list", "--count", DefaultBranch); n != "1" {
		t.Errorf("%s commits, want 1", n)
	}
}

func TestPublishRefusesABadBranch(t *testing.T) {
	t.Parallel()
	_, clone := remote(t)
	p := publisher(t, clone())
	p.Branch = "--upload-pack=evil"
	if _, err := p.Publish(context.Background(), lines(t, "flux", 1, 2, t0), "x"); err == nil || !strings.Contains(err.Error(), "not a usable ref") {
		t.Errorf("Publish = %v, want the branch refused", err)
	}
}

// The token given in the environment never reaches git: a program that
// git runs from the checkout's config (here its file-system monitor)
// sees an environment without it.
func TestPublishKeepsTheTokenFromGit(t *testing.T) {
	t.Parallel()
	_, clone := remote(t)
	repo := clone()
	seen := filepath.Join(t.TempDir(), "env")
	script := filepath.Join(t.TempDir(), "monitor")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nenv >> "+seen+"\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "config", "core.fsmonitor", script)
	p := publisher(t, repo)
	p.Env = append(os.Environ(), "GITHUB_TOKEN=ghs_secret_token", "INPUT_GITHUB-TOKEN=ghs_secret_token")
	if _, err := p.Publish(context.Background(), lines(t, "flux", 1, 2, t0), "x"); err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile(seen)
	if err != nil {
		t.Fatalf("the monitor never ran, so this test proves nothing: %v", err)
	}
	if strings.Contains(string(env), "ghs_secret_token") {
		t.Errorf("git's environment held the token")
	}
}
