package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/fakesglang/fakerepo"
	"github.com/google/go-cmp/cmp"
)

// TestSessionGitGetsNoToken: the session's git runs with the filtered
// environment, without the secrets of the benchmark's environment.
func TestSessionGitGetsNoToken(t *testing.T) {
	t.Parallel()
	repo, _, _ := newRepo(t, workload(), workload())
	s := spec(t, repo, "main~1", "main")
	s.Env = append(s.Env, "GH_TOKEN=x", "MY_COPY=ghs_secret_copy")
	s.Secrets = []string{"ghs_secret_copy"}
	ss, err := Open(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	if env := strings.Join(ss.ws.git.Environ(), "\n"); strings.Contains(env, "ghs_secret_copy") || strings.Contains(env, "GH_TOKEN") {
		t.Errorf("the session's git environment holds a secret:\n%s", env)
	}
}

// TestCheckoutPerCommit is the shape of a bisect: one Checkout per commit
// of a three-commit repository, all open at once, set up once however
// often they are prepared, the middle one reused by two Pairs of the same
// batch (as protocol.Decide would use them), each Pair measuring each of
// its Checkouts once and seeing only its own samples; Close leaves only the
// main worktree and removes the worktrees' temporary folder.
func TestCheckoutPerCommit(t *testing.T) {
	t.Parallel()
	repo, shas := fakerepo.New(t, workload("step_ms", "1"), workload("step_ms", "2"), workload("step_ms", "3"))
	s := spec(t, repo, "", "")
	s.WorktreeRoot = "" // a temporary folder, removed by Close
	s.Setup = "echo ran >> setup-ran.txt"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ws, err := NewWorkspace(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var commits []Commit
	for i, ref := range []string{"main~2", "main~1", "main"} {
		sha, err := ws.Resolve(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if sha != shas[i] {
			t.Fatalf("Resolve(%s) = %s, want %s", ref, sha, shas[i])
		}
		commits = append(commits, Commit{Name: "c" + string(rune('1'+i)), Ref: ref, SHA: sha})
	}
	cs, err := ws.CheckOut(ctx, commits...)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(gitT(t, repo, "worktree", "list"), "\n") + 1; n != 4 {
		t.Errorf("with three Checkouts open, git lists %d worktrees, want 4", n)
	}
	tempRoot := ws.tempRoot
	ws.Begin(ctx)
	for range 2 {
		for _, c := range cs {
			if f := c.Prepare(ctx); f != nil {
				t.Fatalf("prepare %s: %s", c.Name(), f.Reason)
			}
		}
	}
	for _, c := range cs {
		b, err := os.ReadFile(filepath.Join(c.sd.worktree, "setup-ran.txt"))
		if err != nil || string(b) != "ran\n" {
			t.Errorf("setup of %s: %q, %v; want it run once", c.Name(), b, err)
		}
	}
	steps := []struct {
		batch string
		pair  *Pair
		a, b  int
	}{
		{"", NewPair(cs[0], cs[1]), 0, 1},
		{"", NewPair(cs[1], cs[2]), 1, 2},
	}
	for _, st := range steps {
		st.pair.Expect(2)
		if f := st.pair.Pair(ctx, st.batch); f != nil {
			t.Fatalf("%s: %s", st.batch, f.Reason)
		}
	}
	for i, st := range steps {
		base, head := st.pair.Sides(st.batch)
		got := [][]string{{base.Ref, base.SHA}, {head.Ref, head.SHA}}
		want := [][]string{{commits[st.a].Ref, shas[st.a]}, {commits[st.b].Ref, shas[st.b]}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("step %d: sides (-want +got):\n%s", i+1, diff)
		}
		// One run each, by the Checkout's own code.
		got = [][]string{commitsOf(base.Runs), commitsOf(head.Runs)}
		want = [][]string{{shas[st.a]}, {shas[st.b]}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("step %d: the commits that wrote each side's dumps (-want +got):\n%s", i+1, diff)
		}
	}
	// c2's runs are numbered across both Pairs, so its files never clash.
	for _, name := range []string{"c1-01.json", "c2-01.json", "c2-02.json", "c3-01.json"} {
		if _, err := os.Stat(filepath.Join(s.OutDir, name)); err != nil {
			t.Errorf("dump %s: %v", name, err)
		}
	}
	if got := cs[1].Command(1); !strings.Contains(got, "c2-01.json") {
		t.Errorf("the command of c2 = %q, want it to name c2's first dump", got)
	}
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	if list := gitT(t, repo, "worktree", "list"); strings.Count(list, "\n") != 0 || !strings.HasPrefix(list, repo) {
		t.Errorf("after Close, git lists:\n%s\nwant only the main worktree", list)
	}
	if _, err := os.Stat(tempRoot); !os.IsNotExist(err) {
		t.Errorf("the worktrees' temporary folder %s: %v, want it removed", tempRoot, err)
	}
}

// commitsOf is the commit each run's dump says wrote it.
func commitsOf(runs []dump.Run) []string {
	var out []string
	for _, r := range runs {
		out = append(out, r.Dump.CommitHash)
	}
	return out
}

// TestCheckoutMisuse: a bad or repeated name is refused and leaves no
// worktree; pairing a Checkout with itself panics.
func TestCheckoutMisuse(t *testing.T) {
	t.Parallel()
	repo, sha, _ := newRepo(t, workload(), workload())
	s := spec(t, repo, "", "")
	ws, err := NewWorkspace(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, cms := range [][]Commit{
		{{Name: "../up", SHA: sha}},
		{{Name: "", SHA: sha}},
		{{Name: "a", SHA: sha}, {Name: "a", SHA: sha}},
	} {
		if _, err := ws.CheckOut(t.Context(), cms...); err == nil || !strings.Contains(err.Error(), "checkout name") {
			t.Errorf("CheckOut(%v) = %v, want an error naming the checkout name", cms, err)
		}
		if list := gitT(t, repo, "worktree", "list"); strings.Count(list, "\n") != 0 {
			t.Errorf("after CheckOut(%v) failed, git lists:\n%s", cms, list)
		}
	}
	cs, err := ws.CheckOut(t.Context(), Commit{Name: "a", SHA: sha})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("NewPair of a Checkout with itself did not panic")
		}
	}()
	NewPair(cs[0], cs[0])
}
