package command

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/report"
)

// runCLI runs the CLI in-process and returns its exit code and output.
func runCLI(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	return runCLIEnv(t, getenv, os.Environ(), args...)
}

// runCLIEnv is runCLI with the environment the benchmark starts from.
func runCLIEnv(t *testing.T, getenv func(string) string, environ []string, args ...string) (int, string, string) {
	t.Helper()
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var out, errOut bytes.Buffer
	e := Env{Getenv: getenv, Environ: func() []string { return environ }, Executable: func() (string, error) { return diffperfBin, nil },
		Stdout: &out, Stderr: &errOut}
	err := Run(context.Background(), args, e)
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return ExitCode(err), out.String(), errOut.String()
}

func TestCompareCLI(t *testing.T) {
	t.Parallel()
	const d = "../../testdata/dumps/"
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    string
		wantStderr string
	}{
		{"two files", []string{"compare", d + "old_nov2025.json", d + "dec2025.json"}, 0, "| **E2E Latency** | 7351.97 ms | 7012.40 ms | **-339.57 ms (-4.6%)** | ✅ |", ""},
		{"directories, regression reported", []string{"compare", d + "runs/base", d + "runs/head"}, 0, "## ❌ diffperf: regression", ""},
		{"directories, gated", []string{"compare", "--fail-on-regression", d + "runs/base", d + "runs/head"}, 1, "## ❌ diffperf: regression", ""},
		{"flags after arguments", []string{"compare", d + "runs/base", d + "runs/head", "--fail-on-regression", "--threshold", "15%"}, 0, "no-change", ""},
		{"A/A is no change", []string{"compare", "--fail-on-regression", d + "runs/base", d + "runs/base"}, 0, "## ⚪️ diffperf: no-change", ""},
		{"three files", []string{"compare", d + "old_nov2025.json", d + "dec2025.json", d + "newest_spans.json"}, 0, "| Metric | Baseline | dec2025.json | newest_spans.json |", ""},
		{"threshold without %", []string{"compare", "--threshold", "5", d + "server.json", d + "server.json"}, 2, "", `--threshold: "5" is not a percentage (write it like 5%)`},
		{"negative threshold", []string{"compare", "--threshold", "-5%", d + "server.json", d + "server.json"}, 2, "", `--threshold: "-5%" is negative`},
		{"a typo in a flag", []string{"compare", "--treshold", "3%", d + "server.json", d + "server.json"}, 2, "", "--treshold: no such flag of compare; did you mean --threshold?"},
		{"timeout without a unit", []string{"run", "--base", "a", "--head", "b", "--timeout", "5"}, 2, "", `--timeout: "5" is not a positive duration: write it like 30m`},
		{"a repository that is not there", []string{"run", "--base", "a", "--head", "b", "--model", "m", "--repo", "/nonexistent", "--out", "OUTDIR"}, 2, "", "repo: /nonexistent is not a folder"},
		{"alpha out of range", []string{"compare", "--alpha", "1.5", d + "server.json", d + "server.json"}, 2, "", "alpha: 1.5 is not in (0, 1)"},
		{"unknown format", []string{"compare", "--format", "html", d + "server.json", d + "server.json"}, 2, "", `--format: "html"`},
		{"unknown flag", []string{"compare", "--nope", d + "server.json", d + "server.json"}, 2, "", "--nope: no such flag of compare; see diffperf compare --help"},
		{"NaN dump", []string{"compare", d + "bad/nan.json", d + "server.json"}, 2, "", "dump ../../testdata/dumps/bad/nan.json: field total_duration_ms: is NaN"},
		{"missing file", []string{"compare", d + "nope.json", d + "server.json"}, 2, "", "dump ../../testdata/dumps/nope.json: no such file or directory"},
		{"empty directory", []string{"compare", "../../internal", d + "server.json"}, 2, "", "dump directory ../../internal: no *.json files"},
		{"one argument", []string{"compare", d + "server.json"}, 2, "", "need BASE and HEAD"},
		{"directory in the three-file form", []string{"compare", d + "server.json", d + "runs/base", d + "server.json"}, 2, "", "is a directory"},
		{"extract a file", []string{"extract", d + "old_nov2025.json"}, 0, "7.35\n", ""},
		{"extract a directory", []string{"extract", d + "runs/head"}, 0, "7.68\n", ""},
		{"extract a bad dump", []string{"extract", d + "bad/steps_object.json"}, 2, "", "field steps: not an array"},
		{"no command", nil, 2, "", "command: none given"},
		{"unknown command", []string{"frobnicate"}, 2, "", `command: "frobnicate" is not one of diffperf's commands`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := slices.Clone(tt.args)
			if i := slices.Index(args, "OUTDIR"); i >= 0 {
				args[i] = filepath.Join(t.TempDir(), "out")
			}
			code, out, stderr := runCLI(t, nil, args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; stderr: %s", code, tt.wantCode, stderr)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantOut, out)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantStderr, stderr)
			}
		})
	}
}

func TestCompareCLIJSON(t *testing.T) {
	t.Parallel()
	code, out, stderr := runCLI(t, nil, "compare", "--format", "json", "../../testdata/dumps/runs/base", "../../testdata/dumps/runs/head")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Schema  string `json:"schema"`
		Verdict string `json:"verdict"`
		Base    struct {
			Runs []struct{ Order int } `json:"runs"`
		} `json:"base"`
		Metrics []struct {
			ID string  `json:"id"`
			P  float64 `json:"p"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if got.Schema != "diffperf.result/v1" || got.Verdict != "regression" || got.Metrics[0].ID != "e2e" || got.Metrics[0].P >= 0.05 {
		t.Errorf("unexpected result: %+v", got)
	}
	// The dumps' timestamps give the run order: base ran 1st, 4th, 5th, ...
	if o := got.Base.Runs; len(o) != 5 || o[0].Order != 1 || o[1].Order != 4 {
		t.Errorf("base run order = %+v, want 1, 4, ...", o)
	}
}

func TestParsePercent(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{"5%": 5, " 2.5 % ": 2.5, "0%": 0} {
		if got, err := report.ParsePercent(in); err != nil || got != want {
			t.Errorf("report.ParsePercent(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"5", "0.05", "-1%", "abc%", "NaN%", ""} {
		if _, err := report.ParsePercent(in); err == nil {
			t.Errorf("report.ParsePercent(%q) succeeded, want an error", in)
		}
	}
}

// TestHelp: every command answers -h and --help on stdout with exit 0, its
// usage line first, and lists its flags.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"compare", "extract", "bench", "run", "demo", "merge", "action", "version"} {
		for _, flag := range []string{"--help", "-h"} {
			code, out, stderr := runCLI(t, nil, cmd, flag)
			if code != 0 || stderr != "" {
				t.Errorf("%s %s: exit %d, stderr %q; want 0 and nothing", cmd, flag, code, stderr)
			}
			if !strings.HasPrefix(out, "usage: diffperf "+cmd) {
				t.Errorf("%s %s: stdout starts %.40q, want the usage line", cmd, flag, out)
			}
		}
	}
	_, out, _ := runCLI(t, nil, "compare", "--help")
	for _, want := range []string{"BASE HEAD", "--threshold\n", "(default 5%)", "--fail-on-regression"} {
		if !strings.Contains(out, want) {
			t.Errorf("compare --help lacks %q:\n%s", want, out)
		}
	}
}

func TestNearestFlag(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	for _, n := range []string{"threshold", "min-delta-ms", "memory-threshold", "runs", "max-runs"} {
		fs.String(n, "", "")
	}
	for in, want := range map[string]string{"treshold": "threshold", "run": "runs", "max-run": "max-runs", "min-delta": "", "frobnicate": ""} {
		if got := nearestFlag(fs, in); got != want {
			t.Errorf("nearestFlag(%q) = %q, want %q", in, got, want)
		}
	}
}
