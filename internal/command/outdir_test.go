package command

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/fakesglang"
	"github.com/diffperf/diffperf/internal/report"
)

func writeFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func entryNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestOutManifest: a run removes only what its manifest names as
// diffperf's; files diffperf did not write are kept and listed, those of a
// run that died before sealing too, and a manifest cannot name anything
// outside its folder.
func TestOutManifest(t *testing.T) {
	t.Parallel()
	t.Run("foreign files kept and listed", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "out")
		if err := prepareOut(out); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(out, "case-a"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFiles(t, out, "base-01.json", "result.json")
		if err := sealOut(out); err != nil {
			t.Fatal(err)
		}
		writeFiles(t, out, "my-notes.txt")
		var w bytes.Buffer
		if err := prepareOutTo(out, &w); err != nil {
			t.Fatal(err)
		}
		if got, want := entryNames(t, out), []string{outMarker, "my-notes.txt"}; !slices.Equal(got, want) {
			t.Errorf("after the second prepare: %q, want %q", got, want)
		}
		if !strings.Contains(w.String(), "kept 1 file(s) that diffperf did not write: my-notes.txt") {
			t.Errorf("the kept file is not listed: %q", w.String())
		}
		// A third run still keeps it (the manifest says it was kept).
		writeFiles(t, out, "head-01.json")
		if err := sealOut(out); err != nil {
			t.Fatal(err)
		}
		if err := prepareOut(out); err != nil {
			t.Fatal(err)
		}
		if got, want := entryNames(t, out), []string{outMarker, "my-notes.txt"}; !slices.Equal(got, want) {
			t.Errorf("after the third prepare: %q, want %q", got, want)
		}
	})
	t.Run("unsealed files kept", func(t *testing.T) {
		t.Parallel()
		out := t.TempDir()
		if err := prepareOut(out); err != nil {
			t.Fatal(err)
		}
		writeFiles(t, out, "base-01.json") // the process died here
		var w bytes.Buffer
		if err := prepareOutTo(out, &w); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(out, "base-01.json")); err != nil || !strings.Contains(w.String(), "base-01.json") {
			t.Errorf("a file no manifest names was removed or not listed: %v %q", err, w.String())
		}
	})
	t.Run("no manifest refused", func(t *testing.T) {
		t.Parallel()
		out := t.TempDir()
		writeFiles(t, out, "thesis.tex")
		err := prepareOut(out)
		if ExitCode(err) != ExitInput || !strings.Contains(err.Error(), "--out: "+out+" is not empty and has no manifest") {
			t.Errorf("prepareOut = %v (exit %d), want the refusal naming --out", err, ExitCode(err))
		}
		if got := entryNames(t, out); !slices.Equal(got, []string{"thesis.tex"}) {
			t.Errorf("refused folder now holds %q", got)
		}
	})
	t.Run("manifest names nothing outside", func(t *testing.T) {
		t.Parallel()
		parent := t.TempDir()
		out := filepath.Join(parent, "out")
		if err := prepareOut(out); err != nil {
			t.Fatal(err)
		}
		writeFiles(t, parent, "precious")
		if err := os.WriteFile(filepath.Join(out, outMarker), []byte("wrote ../precious\nwrote ..\nwrote /etc\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := prepareOut(out); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(parent, "precious")); err != nil {
			t.Errorf("a manifest removed a file outside its folder: %v", err)
		}
	})
}

// TestBenchOutKeepsForeignFiles is the report of a user: `bench --out X`,
// a note of one's own in X, `bench --out X` again: the note survives and
// the second run says so.
func TestBenchOutKeepsForeignFiles(t *testing.T) {
	t.Parallel()
	repo := repoWith(t, "step_ms=5\n", "step_ms=5\n")
	out := filepath.Join(t.TempDir(), "out")
	bench := func() string {
		cmd := exec.Command(diffperfBin, "bench", "test/model", "--runs", "1", "--out", out)
		cmd.Dir, cmd.Env = repo, fakeEnviron()
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bench: %v\n%s", err, b)
		}
		return string(b)
	}
	bench()
	writeFiles(t, out, "my-notes.txt")
	second := bench()
	if _, err := os.Stat(filepath.Join(out, "my-notes.txt")); err != nil {
		t.Errorf("my-notes.txt was removed: %v", err)
	}
	if !strings.Contains(second, "my-notes.txt") {
		t.Errorf("the second bench does not list the kept file:\n%s", second)
	}
	if _, err := os.Stat(filepath.Join(out, "bench-01.json")); err != nil {
		t.Errorf("the second bench wrote no dump: %v", err)
	}
}

// TestCompareOutKeepsFailure: a run that was interrupted (failed, its
// dumps kept, one more written after it stopped counting) stays failed
// when compare judges its folder again with other thresholds, and the
// uncounted dump is left out.
func TestCompareOutKeepsFailure(t *testing.T) {
	t.Parallel()
	const runs = "../../testdata/dumps/runs/"
	out := t.TempDir()
	if err := prepareOut(out); err != nil {
		t.Fatal(err)
	}
	copyDump := func(from, to string) *dump.Dump {
		b, err := os.ReadFile(runs + from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, to), b, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := readDump(filepath.Join(out, to))
		if err != nil {
			t.Fatal(err)
		}
		d.Name = to
		return d
	}
	var base, head []dump.Run
	for i, n := range []string{"01", "02"} {
		base = append(base, dump.Run{Index: i + 1, Dump: copyDump("base/base-"+n+".json", "base-"+n+".json")})
		head = append(head, dump.Run{Index: i + 1, Dump: copyDump("head/head-"+n+".json", "head-"+n+".json")})
	}
	r := report.Compare(dump.Side{Runs: base}, dump.Side{Runs: head}, report.DefaultOptions())
	r.Fail(dump.Failure{Reason: "interrupted: the measurement was canceled"})
	js, err := report.MarshalJSON(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "result.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	copyDump("base/base-03.json", "base-03.json") // finished after the cancel
	if err := sealOut(out); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"compare", "--format", "json", out}, {"compare", "--format", "json", "--threshold", "20%", out}} {
		code, stdout, stderr := runCLI(t, nil, args...)
		var got struct {
			Verdict string
			Reason  string
			Base    struct{ Runs []json.RawMessage }
		}
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatalf("%q: %v\n%s\n%s", args, err, stdout, stderr)
		}
		if code != ExitRuntime || got.Verdict != "failed" || !strings.Contains(got.Reason, "interrupted") {
			t.Errorf("%q: exit %d, verdict %q (%s), want 3 and the run's failure", args, code, got.Verdict, got.Reason)
		}
		if len(got.Base.Runs) != 2 {
			t.Errorf("%q: %d base runs, want the 2 the run counted", args, len(got.Base.Runs))
		}
	}
}

// TestRefusedRunLeavesNothing: input that is refused (not a checkout, a
// ref that names nothing, --runs 0 of the demo) leaves no folder behind.
func TestRefusedRunLeavesNothing(t *testing.T) {
	t.Parallel()
	repo := repoWith(t, "step_ms=5\n", "step_ms=5\n")
	tests := []struct {
		name, want string
		args       []string
	}{
		{"not a checkout", "is not a git checkout", []string{"run", "--repo", "NOTGIT", "--base", "main~1", "--head", "main", "--model", "m"}},
		{"no such head", `ref "nope"`, []string{"run", "--repo", repo, "--base", "main~1", "--head", "nope", "--model", "m"}},
		{"no such base", `ref "nope"`, []string{"run", "--repo", repo, "--base", "nope", "--head", "main", "--model", "m"}},
		{"demo runs 0", "--runs: 0 is not a positive count", []string{"demo", "--runs", "0"}},
		{"demo slowdown -100", "--slowdown: -100 is not a percentage above -100", []string{"demo", "--slowdown", "-100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir() // the working folder and TMPDIR both
			args := slices.Clone(tt.args)
			for i, a := range args {
				if a == "NOTGIT" {
					args[i] = dir
				}
			}
			cmd := exec.Command(diffperfBin, args...)
			cmd.Dir = dir
			cmd.Env = append(fakeEnviron(), "TMPDIR="+dir)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != ExitInput || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d (%v), want 2 and %q:\n%s", code, err, tt.want, stderr.String())
			}
			if got := entryNames(t, dir); len(got) != 0 {
				t.Errorf("a refused %s left %q", tt.args[0], got)
			}
		})
	}
}

// TestDemoAA: --slowdown 0 runs an A/A demo (head as fast as base) rather
// than failing on a commit with nothing in it.
func TestDemoAA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, stderr := runCLI(t, nil, "demo", "--runs", "4", "--slowdown", "0", "--dir", dir, "--format", "json", "--fail-on-regression")
	var got struct{ Verdict string }
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.Verdict != "no-change" {
		t.Fatalf("demo --slowdown 0: exit %d, verdict %q (%v), want 0 and no-change; stderr:\n%s", code, got.Verdict, err, stderr)
	}
}

// TestRunDirtyHead: --head HEAD with uncommitted edits warns that the
// commit is measured, not the edits.
func TestRunDirtyHead(t *testing.T) {
	t.Parallel()
	repo := repoWith(t, "step_ms=5\n", "step_ms=5\n")
	var clean bytes.Buffer
	if err := checkCheckout(t.Context(), repo, "main~1", "HEAD", Env{Environ: os.Environ, Stderr: &clean}); err != nil || clean.Len() != 0 {
		t.Fatalf("clean checkout: %v, warned %q", err, clean.String())
	}
	if err := os.WriteFile(filepath.Join(repo, fakesglang.WorkloadFile), []byte("step_ms=9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var dirty bytes.Buffer
	if err := checkCheckout(t.Context(), repo, "main~1", "HEAD", Env{Environ: os.Environ, Stderr: &dirty}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dirty.String(), "warning: --head HEAD: "+repo+" has uncommitted changes, which are not measured") {
		t.Errorf("no warning for a dirty checkout: %q", dirty.String())
	}
}
