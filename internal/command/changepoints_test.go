package command

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/diffperf/diffperf/internal/history"
)

// stepCSV is a CSV series of n commits, samples rows each, a level of 100
// with noise of 1 % that steps by pct percent at index at.
func stepCSV(seed uint64, n, samples, at int, pct float64) string {
	rng := rand.New(rand.NewPCG(seed, 3))
	var b strings.Builder
	b.WriteString("commit,value\n")
	for i := range n {
		level := 100.0
		if i >= at {
			level *= 1 + pct/100
		}
		for range samples {
			fmt.Fprintf(&b, "%040x,%.4f\n", i+1, level*(1+0.01*rng.NormFloat64()))
		}
	}
	return b.String()
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestChangepointsJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		csv       string
		args      []string
		points    int
		wantIndex []int
	}{
		{"a 3% step at 40, one row a commit", stepCSV(1, 80, 1, 40, 3), nil, 80, []int{40}},
		{"a 3% step at 25, three rows a commit", stepCSV(2, 50, 3, 25, 3), nil, 50, []int{25}},
		{"noise only", stepCSV(3, 100, 1, 0, 0), nil, 100, []int{}},
		{"a 0.8% step below --min-change 1%", stepCSV(4, 80, 20, 40, 0.8), nil, 80, []int{}},
		{"a 0.8% step at --min-change 0.5%", stepCSV(4, 80, 20, 40, 0.8), []string{"--min-change", "0.5%"}, 80, []int{40}},
		{"a 3% step at --p 1e-40", stepCSV(1, 80, 1, 40, 3), []string{"--p", "1e-40"}, 80, []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := writeFile(t, "series.csv", tt.csv)
			code, out, stderr := runCLI(t, nil, append(append([]string{"changepoints", "--format", "json"}, tt.args...), f)...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %s", code, stderr)
			}
			// Exactly the documented keys, nothing else.
			var raw map[string]json.RawMessage
			if err := json.Unmarshal([]byte(out), &raw); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if len(raw) != 2 || raw["points"] == nil || raw["change_points"] == nil {
				t.Errorf("keys of %s, want points and change_points", out)
			}
			var got struct {
				Points       int
				ChangePoints []map[string]any `json:"change_points"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatal(err)
			}
			if got.Points != tt.points {
				t.Errorf("points %d, want %d", got.Points, tt.points)
			}
			idx := []int{}
			for _, c := range got.ChangePoints {
				if diff := cmp.Diff([]string{"after_median", "before_median", "change_pct", "commit", "index", "p"}, slices.Sorted(maps.Keys(c))); diff != "" {
					t.Errorf("change point keys (-want +got):\n%s", diff)
				}
				i := int(c["index"].(float64))
				idx = append(idx, i)
				if want := fmt.Sprintf("%040x", i+1); c["commit"] != want {
					t.Errorf("change point %d: commit %v, want %s (the point's own)", i, c["commit"], want)
				}
				before, after, pct := c["before_median"].(float64), c["after_median"].(float64), c["change_pct"].(float64)
				if d := (after/before-1)*100 - pct; d > 1e-9 || d < -1e-9 {
					t.Errorf("change_pct %v, but the medians %v -> %v give %v", pct, before, after, (after/before-1)*100)
				}
			}
			if diff := cmp.Diff(tt.wantIndex, idx); diff != "" {
				t.Errorf("change point indexes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChangepointsMarkdown(t *testing.T) {
	t.Parallel()
	f := writeFile(t, "series.csv", stepCSV(1, 80, 1, 40, 3))
	code, out, stderr := runCLI(t, nil, "changepoints", f)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	for _, want := range []string{
		": 80 points, 1 change point(s) (p < 0.001, change ≥ 1%, window 50, minimum segment 3).",
		"| index | commit | before (median) | after (median) | change | p |",
		fmt.Sprintf("| 40 | `%040x` | ", 41),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// A commit name from the file is untrusted text: it cannot break the
	// table or open HTML.
	evil := strings.Replace(stepCSV(1, 80, 1, 40, 3), fmt.Sprintf("%040x", 41), `"<img src=x>|@team"`, -1)
	f = writeFile(t, "evil.csv", evil)
	code, out, stderr = runCLI(t, nil, "changepoints", f)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	if strings.Contains(out, "<img") || strings.Contains(out, "|@team") || !strings.Contains(out, "&lt;img") {
		t.Errorf("the commit name was not escaped:\n%s", out)
	}
}

// TestChangepointsBadInput: each unusable input exits 2 with a message
// that names the file, the line and the field, or the flag.
func TestChangepointsBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("good.csv", "commit,value\na,1\nb,2\n")
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no file", []string{}, "changepoints: need one file"},
		{"two files", []string{good, good}, "got 2 argument(s)"},
		{"missing file", []string{filepath.Join(dir, "nope.csv")}, "nope.csv: no such file or directory"},
		{"wrong header", []string{file("h.csv", "sha,ms\na,1\n")}, `h.csv:1: the header is "sha,ms", want commit,value`},
		{"empty file", []string{file("e.csv", "")}, "e.csv: no rows after the header"},
		{"header only", []string{file("ho.csv", "commit,value\n")}, "ho.csv: no rows after the header"},
		{"a value that is no number", []string{file("v.csv", "commit,value\na,1\nb,fast\n")}, `v.csv:3: field value "fast" is not a finite number`},
		{"a NaN value", []string{file("n.csv", "commit,value\na,NaN\n")}, `n.csv:2: field value "NaN" is not a finite number`},
		{"an empty commit", []string{file("c.csv", "commit,value\na,1\n,2\n")}, "c.csv:3: field commit is empty"},
		{"three fields", []string{file("f.csv", "commit,value\na,1\nb,2,3\n")}, "f.csv:3: 3 fields, want 2"},
		{"a broken quote", []string{file("q.csv", "commit,value\n\"a,1\n")}, "q.csv:2:"},
		{"--p 0", []string{"--p", "0", good}, "--p: 0 is not a significance level in (0, 1)"},
		{"--p 1.5", []string{"--p", "1.5", good}, "--p: 1.5 is not a significance level"},
		{"--p x", []string{"--p", "x", good}, `--p: "x" is not a non-negative number`},
		{"--min-change without %", []string{"--min-change", "1", good}, `--min-change: "1" is not a percentage`},
		{"--window 4", []string{"--window", "4", good}, "--window: 4 points cannot hold two segments of at least 3"},
		{"--min-segment 0", []string{"--min-segment", "0", good}, "--min-segment: 0 is not a number of points >= 1"},
		{"--format html", []string{"--format", "html", good}, `--format: "html" is neither markdown nor json`},
		{"unknown flag", []string{"--windw", "9", good}, "did you mean --window?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, stderr := runCLI(t, nil, append([]string{"changepoints"}, tt.args...)...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.want)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
		})
	}
}

func TestChangepointsHelp(t *testing.T) {
	t.Parallel()
	for _, flag := range []string{"--help", "-h"} {
		code, out, stderr := runCLI(t, nil, "changepoints", flag)
		if code != 0 || stderr != "" || !strings.HasPrefix(out, "usage: diffperf changepoints") {
			t.Errorf("%s: exit %d, stderr %q, stdout %.60q; want 0, nothing, the usage line", flag, code, stderr, out)
		}
		for _, want := range []string{"--min-change\n", "(default 1%)", "(default 0.001)", "(default 50)", "(default 3)"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q:\n%s", flag, want, out)
			}
		}
	}
}

// storeWith is a store of two cases, n commits each, 3 samples a commit:
// flux steps by 3 % at index at and changes its driver (no change of
// level) at index env; sdxl is noise only. It returns the store's folder.
func storeWith(t *testing.T, n, at, env int) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	var lines []history.Line
	for _, key := range []string{"flux", "sdxl"} {
		for i := range n {
			level := 1000.0
			if key == "flux" && i >= at {
				level *= 1.03
			}
			when := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
			l := history.Line{Schema: history.Schema, Case: history.Case{Name: key + " case", Key: key}, Commit: fmt.Sprintf("%040x", i+1),
				CommitTime: when.Format(time.RFC3339), RunTime: when.Add(time.Minute).Format(time.RFC3339), Side: history.SideHead, Batch: 1, Mode: "generate",
				Environment: history.Environment{GPU: "NVIDIA H100 80GB HBM3", GPUCount: 1, Driver: "550.90.07"}, N: 3}
			if key == "flux" && i >= env {
				l.Environment.Driver = "560.35.03"
			}
			m := history.Metric{ID: "e2e", Unit: "ms", Per: history.PerRun}
			for r := 1; r <= 3; r++ {
				m.Samples = append(m.Samples, history.Sample{Value: level * (1 + 0.01*rng.NormFloat64()), Run: r})
			}
			l.Metrics = []history.Metric{m}
			lines = append(lines, l)
		}
	}
	dir := t.TempDir()
	if _, err := (history.Store{Dir: dir}).Append(lines); err != nil {
		t.Fatal(err)
	}
	return dir
}

// changepoints reads the store: --store DIR --case C, or one of its .jsonl
// files; each commit's samples are its samples, and a driver change is an
// environment break, not a change point.
func TestChangepointsStore(t *testing.T) {
	t.Parallel()
	dir := storeWith(t, 60, 30, 45)
	file := filepath.Join(dir, "history", "flux", "2026-03.jsonl")
	type answer struct {
		Points       int
		ChangePoints []struct{ Index int } `json:"change_points"`
		EnvBreaks    []struct {
			Index    int
			From, To string
		} `json:"environment_breaks"`
	}
	for _, args := range [][]string{{"--store", dir, "--case", "flux"}, {"--store", dir, "--case", "flux case", "--metric", "e2e"}, {file}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			code, out, stderr := runCLI(t, nil, append([]string{"changepoints", "--format", "json"}, args...)...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %s", code, stderr)
			}
			var got answer
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if got.Points != 60 || len(got.ChangePoints) != 1 || got.ChangePoints[0].Index != 30 {
				t.Errorf("%s: want 60 points, one change point at 30", out)
			}
			if len(got.EnvBreaks) != 1 || got.EnvBreaks[0].Index != 45 || !strings.Contains(got.EnvBreaks[0].To, "driver 560.35.03") {
				t.Errorf("%s: want one environment break at 45, to driver 560.35.03", out)
			}
		})
	}
	t.Run("markdown names the case and the break", func(t *testing.T) {
		t.Parallel()
		code, out, stderr := runCLI(t, nil, "changepoints", "--store", dir, "--case", "flux")
		if code != 0 || !strings.Contains(out, "(case flux, e2e): 60 points, 1 change point(s)") || !strings.Contains(out, "Environment break at 45") {
			t.Errorf("exit %d, stderr %s, stdout:\n%s", code, stderr, out)
		}
	})
	t.Run("a corrupt line is reported and skipped", func(t *testing.T) {
		t.Parallel()
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		broken := writeFile(t, "flux.jsonl", "{cut short\n"+string(b))
		code, out, stderr := runCLI(t, nil, "changepoints", "--format", "json", broken)
		if code != 0 || !strings.Contains(stderr, broken+":1: ") || !strings.Contains(out, `"points": 60`) {
			t.Errorf("exit %d, stderr %q, stdout %s; want 0, line 1 reported, 60 points", code, stderr, out)
		}
	})
}

func TestChangepointsStoreBadInput(t *testing.T) {
	t.Parallel()
	dir := storeWith(t, 12, 6, 12)
	csv := writeFile(t, "s.csv", "commit,value\na,1\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"several cases", []string{"--store", dir}, "--case: " + dir + " holds 2 cases (flux, sdxl): name one"},
		{"unknown case", []string{"--store", dir, "--case", "qwen"}, `--case: "qwen" is not a case of ` + dir + " (its cases: flux, sdxl)"},
		{"unknown metric", []string{"--store", dir, "--case", "sdxl", "--metric", "memory.peak_allocated"}, `--metric: case sdxl of ` + dir + ` has no samples of "memory.peak_allocated" (its metrics: e2e)`},
		{"a store and a file", []string{"--store", dir, csv}, "--store: reads the store of " + dir + ": give no FILE"},
		{"no store", []string{"--store", filepath.Join(dir, "nope")}, "is not a folder"},
		{"an empty store", []string{"--store", t.TempDir()}, "holds no line of the history store"},
		{"--case on CSV", []string{"--case", "flux", csv}, "--case: --case and --metric choose a series of the store"},
		{"a missing .jsonl", []string{filepath.Join(dir, "x.jsonl")}, "x.jsonl: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, stderr := runCLI(t, nil, append([]string{"changepoints"}, tt.args...)...)
			if code != 2 || !strings.Contains(stderr, tt.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", code, out, stderr, tt.want)
			}
		})
	}
}
