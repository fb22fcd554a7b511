package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/git"
	"github.com/diffperf/diffperf/internal/report"
)

func TestMeasureAAIsNoChange(t *testing.T) {
	t.Parallel()
	repo, _, head := newRepo(t, workload(), workload())
	r := measure(t, spec(t, repo, head, head), 5)
	if r.Verdict != report.NoChange {
		t.Errorf("A/A verdict = %s (%s), want no-change", r.Verdict, r.Reason)
	}
	if r.Base.SHA != r.Head.SHA {
		t.Errorf("A/A measured %s against %s", r.Base.SHA, r.Head.SHA)
	}
}

func TestMeasureOrderIsBalanced(t *testing.T) {
	t.Parallel()
	repo, _, _ := newRepo(t, workload("step_ms", "1"), workload("step_ms", "1"))
	s := spec(t, repo, "main~1", "main")
	r := measure(t, s, 4)
	orders := func(runs []dump.Run) (o []int) {
		for _, r := range runs {
			o = append(o, r.Order)
		}
		return o
	}
	// base head head base base head head base
	if got, want := orders(r.Base.Runs), []int{1, 4, 5, 8}; !equalInts(got, want) {
		t.Errorf("base ran at %v, want %v", got, want)
	}
	if got, want := orders(r.Head.Runs), []int{2, 3, 6, 7}; !equalInts(got, want) {
		t.Errorf("head ran at %v, want %v", got, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMeasurePromptReachesProgramAsOneArgument(t *testing.T) {
	t.Parallel()
	argvFile := filepath.Join(t.TempDir(), "argv.jsonl")
	w := workload("step_ms", "1", "argv_file", argvFile)
	repo, _, _ := newRepo(t, w, w)
	s := spec(t, repo, "main~1", "main")
	const prompt = `it's a "raccoon" $(touch pwned) ; touch pwned2 && echo ` + "`touch pwned3`" + ` | {dump} > x`
	s.Prompt = prompt
	s.Args = []string{"--seed", "42"}
	r := measure(t, s, 1)
	if r.Verdict == report.Failed {
		t.Fatalf("failed: %s", r.Reason)
	}
	f, err := os.Open(argvFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var argv []string
		if err := json.Unmarshal(sc.Bytes(), &argv); err != nil {
			t.Fatal(err)
		}
		if len(argv) > 0 && argv[len(argv)-1] == "--help" {
			continue // the warm-up probe
		}
		n++
		i := indexOf(argv, "--prompt")
		if i < 0 || argv[i+1] != prompt {
			t.Errorf("argv %q: prompt is not one argument equal to the input", argv)
		}
		if j := indexOf(argv, "--seed"); j < 0 || argv[j+1] != "42" {
			t.Errorf("argv %q: {args} not expanded into words", argv)
		}
	}
	if n != 2 {
		t.Errorf("%d runs recorded, want 2", n)
	}
	for _, dir := range []string{repo, s.OutDir, s.WorktreeRoot, "."} {
		for _, p := range []string{"pwned", "pwned2", "pwned3", "x"} {
			if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
				t.Errorf("%s was created in %s: the prompt reached a shell", p, dir)
			}
		}
	}
}

func indexOf(s []string, w string) int {
	for i, x := range s {
		if x == w {
			return i
		}
	}
	return -1
}

func TestMeasureWarmupModeProbe(t *testing.T) {
	t.Parallel()
	argvFile := filepath.Join(t.TempDir(), "argv.jsonl")
	// The head's sglang knows only --warmup-mode and rejects --warmup.
	repo, _, _ := newRepo(t, workload("step_ms", "1", "argv_file", argvFile), workload("step_ms", "1", "help", "warmup-mode", "argv_file", argvFile))
	s := spec(t, repo, "main~1", "main")
	s.Prompt = "--warmup" // a value, not a word of the template: never rewritten
	r := measure(t, s, 1)
	if r.Verdict == report.Failed {
		t.Fatalf("failed: %s\n%s", r.Reason, r.Failure.LogTail)
	}
	data, err := os.ReadFile(argvFile)
	if err != nil {
		t.Fatal(err)
	}
	var sawOld, sawNew bool
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var argv []string
		if err := json.Unmarshal([]byte(line), &argv); err != nil {
			t.Fatal(err)
		}
		if argv[len(argv)-1] == "--help" {
			continue // the probe
		}
		if i := indexOf(argv, "--prompt"); i < 0 || argv[i+1] != "--warmup" {
			t.Errorf("argv %q: the prompt was rewritten", argv)
		}
		sawOld = sawOld || strings.Contains(line, `"--warmup","--perf-dump-path"`)
		sawNew = sawNew || strings.Contains(line, `"--warmup-mode","request"`)
	}
	if !sawOld || !sawNew {
		t.Errorf("want base with --warmup and head with --warmup-mode request; argv:\n%s", data)
	}
}

func TestMeasureFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		head       string
		command    string
		wantReason string
		wantTail   string
	}{
		{"crash", workload("behavior", "fail"), "", "run 1 of head: ", "CUDA error: out of memory"},
		{"diffusers fallback", workload("behavior", "diffusers"), "", "fell back to the diffusers backend", ""},
		{"diffusers fallback after 5 MiB of output", workload("behavior", "diffusers-late"), "", "fell back to the diffusers backend", ""},
		{"no dump", workload("behavior", "nodump"), "", "exited 0 but wrote no dump", ""},
		{"bad dump", workload("behavior", "baddump"), "", "unusable dump", ""},
		{"command not found", workload(), "no-such-sglang-binary generate --perf-dump-path {dump}", `"no-such-sglang-binary" not found`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo, _, _ := newRepo(t, workload("step_ms", "1"), tt.head)
			s := spec(t, repo, "main~1", "main")
			if tt.command != "" {
				tmpl, err := ParseTemplate(tt.command)
				if err != nil {
					t.Fatal(err)
				}
				s.Template = tmpl
			}
			r := measure(t, s, 5)
			if r.Verdict != report.Failed || r.Failure == nil {
				t.Fatalf("verdict = %s, want failed", r.Verdict)
			}
			f := r.Failure
			wantSide := "head"
			if tt.command != "" {
				wantSide = "base" // base runs first and fails first
			}
			if f.Side != wantSide || f.Run != 1 || !strings.Contains(f.Reason, tt.wantReason) {
				t.Errorf("failure = %+v, want %s run 1 with %q", f, wantSide, tt.wantReason)
			}
			if !strings.Contains(f.LogTail, tt.wantTail) {
				t.Errorf("log tail %q lacks %q", f.LogTail, tt.wantTail)
			}
		})
	}
}

func TestMeasureUnknownRef(t *testing.T) {
	t.Parallel()
	repo, _, _ := newRepo(t, workload(), workload())
	_, err := Open(context.Background(), spec(t, repo, "no-such-branch", "main"))
	var re *git.RefError
	if !errors.As(err, &re) || re.Ref != "no-such-branch" {
		t.Fatalf("err = %v, want a RefError naming no-such-branch", err)
	}
}

func TestMeasureCanceledCleansUp(t *testing.T) {
	t.Parallel()
	repo, _, _ := newRepo(t, workload(), workload("behavior", "hang"))
	s := spec(t, repo, "main~1", "main")
	ctx, cancel := context.WithCancel(context.Background())
	s.Progress = cancelOnRun{cancel: cancel, side: "head"}
	r, err := session(ctx, s, 5)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if r == nil || r.Verdict != report.Failed {
		t.Errorf("result = %+v, want a failed result that keeps what was measured", r)
	} else if len(r.Base.Runs) != 1 {
		t.Errorf("%d base runs kept, want 1", len(r.Base.Runs))
	}
	if entries, _ := os.ReadDir(s.WorktreeRoot); len(entries) != 0 {
		t.Errorf("worktrees left behind after cancel: %v", entries)
	}
	if out := gitT(t, repo, "worktree", "list"); strings.Count(out, "\n") != 0 {
		t.Errorf("git still lists worktrees:\n%s", out)
	}
}

// cancelOnRun cancels the measurement when a run of side starts (Ctrl-C).
type cancelOnRun struct {
	nopProgress
	cancel func()
	side   string
}

func (c cancelOnRun) RunStart(n, total int, side string, run int) {
	if side == c.side {
		c.cancel()
	}
}
