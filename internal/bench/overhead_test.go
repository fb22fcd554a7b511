package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/diffperf/diffperf/internal/proc"
	"github.com/diffperf/diffperf/internal/report"
)

// elapsedSum adds up the time the benchmark processes themselves took.
type elapsedSum struct {
	nopProgress
	mu  sync.Mutex
	sum time.Duration
}

func (e *elapsedSum) RunEnd(n, total int, side string, run int, ms float64, res proc.Result, log, failure string) {
	e.mu.Lock()
	e.sum += res.Elapsed
	e.mu.Unlock()
}

// BenchmarkMeasureOverhead measures diffperf's own cost around the
// benchmark: refs, merge base, two worktrees of a 5,000-file repository,
// the warm-up probes, reading dumps, statistics and cleanup, with a no-op
// benchmark of 5 runs a side. It reports overhead-ms (wall time less the
// benchmark processes' own time) per measurement.
func BenchmarkMeasureOverhead(b *testing.B) {
	repo := b.TempDir()
	gitB := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = repo, gitEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	gitB("init", "-q", "-b", "main")
	for i := 0; i < 5000; i++ {
		d := filepath.Join(repo, "src", fmt.Sprintf("pkg%03d", i/50))
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("file%04d.py", i)), []byte(fmt.Sprintf("# file %d\nx = %d\n", i, i)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	noop := "step_ms=0\nsteps=0\ntext_ms=0\ndecode_ms=0\n"
	if err := os.WriteFile(filepath.Join(repo, "fake_workload.txt"), []byte(noop), 0o644); err != nil {
		b.Fatal(err)
	}
	gitB("add", "-A")
	gitB("commit", "-q", "-m", "base")
	gitB("commit", "-q", "--allow-empty", "-m", "head")

	tmpl, _ := ParseTemplate(DefaultTemplate)
	root := b.TempDir()
	var overhead []float64
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		out := filepath.Join(root, fmt.Sprint("out", i))
		if err := os.MkdirAll(out, 0o755); err != nil {
			b.Fatal(err)
		}
		p := &elapsedSum{}
		s := Spec{Repo: repo, BaseRef: "main~1", HeadRef: "main", Template: tmpl, Model: "m", Prompt: "p", PythonPath: "python",
			Timeout: time.Minute, OutDir: out, WorktreeRoot: filepath.Join(root, "wt"), Env: withFake(), Progress: p}
		start := time.Now()
		r, err := session(context.Background(), s, 5)
		wall := time.Since(start)
		if err != nil || r.Verdict == report.Failed {
			b.Fatalf("Measure: %v %+v", err, r)
		}
		overhead = append(overhead, float64((wall-p.sum).Microseconds())/1000)
	}
	b.ReportMetric(report.Median(overhead), "overhead-ms")
}
