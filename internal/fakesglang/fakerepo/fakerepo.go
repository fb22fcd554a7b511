// Package fakerepo makes throwaway git repositories for tests: each commit
// carries a workload of the fake sglang (package fakesglang), so that two
// commits differ in speed by a known amount. Only tests import it.
package fakerepo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/fakesglang"
)

// GitEnv makes git behave the same on any machine: no user or system
// configuration, fixed names and dates.
func GitEnv() []string {
	return append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z")
}

// Git runs git in dir and returns its trimmed output; a failure fails t.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = dir, GitEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Commit writes the fake's workload file in dir and commits it.
func Commit(t testing.TB, dir, workload, msg string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, fakesglang.WorkloadFile), []byte(workload), 0o644); err != nil {
		t.Fatal(err)
	}
	Git(t, dir, "add", "-A")
	Git(t, dir, "commit", "-q", "--allow-empty", "-m", msg)
	return Git(t, dir, "rev-parse", "HEAD")
}

// New makes a repository on branch main with one commit per workload, in
// order (the last is main, the one before main~1, ...), and returns it with
// the commits' SHAs.
func New(t testing.TB, workloads ...string) (dir string, shas []string) {
	t.Helper()
	dir = t.TempDir()
	Git(t, dir, "init", "-q", "-b", "main")
	for i, w := range workloads {
		shas = append(shas, Commit(t, dir, w, "commit "+string(rune('1'+i))))
	}
	return dir, shas
}

// Workload is the fake's file: a 10 × 20 ms denoising loop with 0.5 %
// noise by default; kv pairs override keys or add others.
func Workload(kv ...string) string {
	base := map[string]string{"step_ms": "20", "steps": "10", "text_ms": "2", "decode_ms": "5", "jitter": "0.005", "mem_mb": "1000"}
	var extra []string
	for i := 0; i+1 < len(kv); i += 2 {
		if _, ok := base[kv[i]]; !ok {
			extra = append(extra, kv[i])
		}
		base[kv[i]] = kv[i+1]
	}
	var b strings.Builder
	for _, k := range append([]string{"step_ms", "steps", "text_ms", "decode_ms", "jitter", "mem_mb"}, extra...) {
		b.WriteString(k + "=" + base[k] + "\n")
	}
	return b.String()
}
