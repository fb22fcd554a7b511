package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/diffperf/diffperf/internal/fakesglang"
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

// gitEnv makes git work the same on any machine, with no user config.
func gitEnv() []string {
	return append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z")
}

// gitT runs git in dir and returns its trimmed output.
func gitT(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = dir, gitEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commitWorkload writes the fake's workload file and commits it.
func commitWorkload(t *testing.T, dir, workload, msg string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, fakesglang.WorkloadFile), []byte(workload), 0o644); err != nil {
		t.Fatal(err)
	}
	gitT(t, dir, "add", "-A")
	gitT(t, dir, "commit", "-q", "--allow-empty", "-m", msg)
	return gitT(t, dir, "rev-parse", "HEAD")
}

// newRepo makes a repository whose base and head commits carry the given
// workloads, and returns it with both SHAs.
func newRepo(t *testing.T, base, head string) (dir, baseSHA, headSHA string) {
	t.Helper()
	dir = t.TempDir()
	gitT(t, dir, "init", "-q", "-b", "main")
	baseSHA = commitWorkload(t, dir, base, "base")
	headSHA = commitWorkload(t, dir, head, "head")
	return dir, baseSHA, headSHA
}

// spec is a measurement of the fake in repo with test-sized thresholds.
func spec(t *testing.T, repo, base, head string) Spec {
	t.Helper()
	tmpl, err := ParseTemplate(DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	opt := report.DefaultOptions()
	opt.MinDeltaMs = 5
	return Spec{
		Repo: repo, BaseRef: base, HeadRef: head, Template: tmpl, Model: "test/model", Prompt: "A curious raccoon",
		PythonPath: "python", Runs: 5, MaxRuns: 5, Timeout: time.Minute, OutDir: mkdir(t, root, "out"),
		WorktreeRoot: filepath.Join(root, "worktrees"), Env: withFake(), Options: opt,
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

func measure(t *testing.T, s Spec) *report.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := Measure(ctx, s)
	if err != nil {
		t.Fatalf("Measure: %v", err)
	}
	// Worktrees are gone afterwards, failures included.
	if entries, _ := os.ReadDir(s.WorktreeRoot); len(entries) != 0 {
		t.Errorf("worktrees left behind: %v", entries)
	}
	return r
}

// workload is the fake's file: a 10 × 20 ms denoising loop by default.
func workload(kv ...string) string {
	base := map[string]string{"step_ms": "20", "steps": "10", "text_ms": "2", "decode_ms": "5", "jitter": "0.005", "mem_mb": "1000"}
	for i := 0; i+1 < len(kv); i += 2 {
		base[kv[i]] = kv[i+1]
	}
	var b strings.Builder
	for _, k := range []string{"step_ms", "steps", "text_ms", "decode_ms", "jitter", "mem_mb", "help", "behavior", "argv_file", "env_file", "confirm_step_ms"} {
		if v, ok := base[k]; ok {
			b.WriteString(k + "=" + v + "\n")
		}
	}
	return b.String()
}
