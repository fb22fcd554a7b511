package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/report"
)

func TestHostileDumps(t *testing.T) {
	t.Parallel()
	tests := []struct{ behavior, want string }{
		{"hugedump", "larger than 64 MiB"},
		{"truncated", "unusable dump"},
		{"notjson", "not JSON"},
		{"baddump", "field total_duration_ms: is a string"},
		{"nodump", "wrote no dump"},
		{"fifo", "not a regular file"}, // opening it would wait for a writer forever
		{"symlink", "symbolic link instead of a dump"},
	}
	for _, tt := range tests {
		t.Run(tt.behavior, func(t *testing.T) {
			t.Parallel()
			repo, _, _ := newRepo(t, workload("step_ms", "1"), workload("step_ms", "1", "behavior", tt.behavior))
			s := spec(t, repo, "main~1", "main")
			r := measure(t, s, 5)
			if r.Verdict != report.Failed || r.Failure.Side != "head" || r.Failure.Run != 1 || !strings.Contains(r.Failure.Reason, tt.want) {
				t.Errorf("verdict %s, failure %+v; want failed at head run 1 with %q", r.Verdict, r.Failure, tt.want)
			}
			// What was measured before the failure is kept.
			if len(r.Base.Runs) != 1 {
				t.Errorf("%d base runs kept, want 1", len(r.Base.Runs))
			}
		})
	}
}

// TestTokenNeverReachesTheBenchmark: the environment a benchmark sees has
// neither the token nor the Action's inputs nor the runner's command files.
func TestTokenNeverReachesTheBenchmark(t *testing.T) {
	t.Parallel()
	const token = "ghs_never_in_the_benchmark_0123"
	envFile := filepath.Join(t.TempDir(), "env.txt")
	w := workload("step_ms", "1", "env_file", envFile)
	repo, _, _ := newRepo(t, w, w)
	s := spec(t, repo, "main~1", "main")
	s.Env = append(s.Env, "GITHUB_TOKEN="+token, "INPUT_GITHUB-TOKEN="+token, "INPUT_MODEL-PATH=m", "MY_COPY=x"+token,
		"GITHUB_ENV=/tmp/env", "GITHUB_OUTPUT=/tmp/out", "ACTIONS_RUNTIME_TOKEN=rt")
	s.Secrets = []string{token}
	if r := measure(t, s, 1); r.Verdict == report.Failed {
		t.Fatalf("failed: %s", r.Reason)
	}
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	env := string(b)
	for _, bad := range []string{token, "INPUT_", "GITHUB_ENV=", "GITHUB_OUTPUT=", "ACTIONS_RUNTIME_TOKEN="} {
		if strings.Contains(env, bad) {
			t.Errorf("the benchmark's environment contains %q", bad)
		}
	}
	for _, want := range []string{"DIFFPERF_SIDE=", "SGLANG_GIT_COMMIT=", "SGLANG_DIFFUSION_SYNC_STAGE_PROFILING=1"} {
		if !strings.Contains(env, want) {
			t.Errorf("the benchmark's environment lacks %s", want)
		}
	}
}
