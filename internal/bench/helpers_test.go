package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/fakesglang"
	"github.com/diffperf/diffperf/internal/fakesglang/fakerepo"
	"github.com/diffperf/diffperf/internal/report"
)

// fakeBin is the fake sglang program, built once by TestMain, and fakeDir
// its folder, for PATH.
var fakeBin, fakeDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fakesglang-")
	if err != nil {
		panic(err)
	}
	if fakeBin, err = fakesglang.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fakeDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// withFake is the test's environment with the fake sglang first on PATH.
func withFake() []string {
	return append(os.Environ(), "PATH="+fakeDir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// Test helpers from fakerepo, under short names.
var (
	gitEnv         = fakerepo.GitEnv
	commitWorkload = fakerepo.Commit
	workload       = fakerepo.Workload
)

func gitT(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return fakerepo.Git(t, dir, args...)
}

// newRepo makes a repository whose base and head commits carry the given
// workloads, and returns it with both SHAs.
func newRepo(t *testing.T, base, head string) (dir, baseSHA, headSHA string) {
	t.Helper()
	dir, shas := fakerepo.New(t, base, head)
	return dir, shas[0], shas[1]
}

// spec is a measurement of the fake in repo.
func spec(t *testing.T, repo, base, head string) Spec {
	t.Helper()
	tmpl, err := ParseTemplate(DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	return Spec{
		Repo: repo, BaseRef: base, HeadRef: head, Template: tmpl, Model: "test/model", Prompt: "A curious raccoon",
		PythonPath: "python", Timeout: time.Minute, OutDir: mkdir(t, root, "out"),
		WorktreeRoot: filepath.Join(root, "worktrees"), Env: withFake(),
	}
}

func mkdir(t *testing.T, parts ...string) string {
	t.Helper()
	p := filepath.Join(parts...)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// measure takes pairs balanced pairs in a Session and compares them with
// test-sized thresholds; a failed run ends it with a failed result, as the
// protocol's would be. The worktrees must be gone afterwards.
func measure(t *testing.T, s Spec, pairs int) *report.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := session(ctx, s, pairs)
	if err != nil {
		t.Fatalf("measure: %v", err)
	}
	if s.WorktreeRoot != "" {
		if entries, _ := os.ReadDir(s.WorktreeRoot); len(entries) != 0 {
			t.Errorf("worktrees left behind: %v", entries)
		}
	}
	return r
}

func session(ctx context.Context, s Spec, pairs int) (r *report.Result, err error) {
	ss, err := Open(ctx, s)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, ss.Close()) }()
	opt := report.DefaultOptions()
	opt.MinDeltaMs = 5
	compare := func(f *dump.Failure) *report.Result {
		b, h := ss.Sides("")
		r := report.Compare(b, h, opt)
		if f != nil {
			r.Fail(*f)
		}
		r.Env = ss.Environment(ctx)
		return r
	}
	if f := ss.Prepare(ctx); f != nil {
		return compare(f), ctx.Err()
	}
	ss.Expect(2 * pairs)
	for range pairs {
		if f := ss.Pair(ctx, ""); f != nil {
			return compare(f), ctx.Err()
		}
	}
	return compare(nil), nil
}

var pidRE = regexp.MustCompile(`(?:pid|grandchild) (\d+)`)

// gone waits for the kernel to end pid, for up to 10 s (a killed process
// on a loaded machine may wait its turn to die), and reports whether it no
// longer runs. A zombie counts as gone: it holds no GPU and no pipe.
func gone(pid int) bool {
	for i := 0; i < 500; i++ {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && strings.Contains(string(b), ") Z ") {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
