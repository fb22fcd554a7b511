package command

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/git"
	"github.com/diffperf/diffperf/internal/history"
	"github.com/diffperf/diffperf/internal/report"
)

// pushed is a result of a push to main: base and head commits named, dumps
// timestamped at at.
func pushed(name, base, head string, at time.Time) *report.Result {
	r := measured(name, 1000, 1100)
	r.Base.SHA, r.Head.SHA = base, head
	for _, s := range []*dump.Side{&r.Base, &r.Head} {
		for i := range s.Runs {
			s.Runs[i].Dump.Timestamp = at.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)
		}
	}
	return r
}

const (
	shaA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	shaB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	shaC = "cccccccccccccccccccccccccccccccccccccccc"
)

var june = time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)

func showJSON(t *testing.T, args ...string) []history.Line {
	t.Helper()
	code, out, stderr := runCLI(t, nil, append([]string{"history", "show", "--format", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("history show: exit %d, %s", code, stderr)
	}
	var ls []history.Line
	if err := json.Unmarshal([]byte(out), &ls); err != nil {
		t.Fatalf("history show --format json: %v\n%s", err, out)
	}
	return ls
}

func TestHistoryAddShow(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	results := writeResults(t, pushed("flux", shaA, shaB, june), pushed("wan", shaA, shaB, june))
	later := writeResults(t, pushed("flux", shaB, shaC, june.Add(time.Hour)))

	code, out, stderr := runCLI(t, nil, "history", "add", "--store", store, results, filepath.Join(later, "diffperf-flux", "x", "result.json"))
	if code != 0 || out != "history: added 6 line(s) to "+store+" (0 already there)\n" {
		t.Fatalf("history add: exit %d, stdout %q, stderr %s", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(store, "history", "flux", "2026-06.jsonl")); err != nil {
		t.Errorf("no file of flux's month: %v", err)
	}
	// Adding the same result again keeps each line once.
	code, out, _ = runCLI(t, nil, "history", "add", "--store", store, later)
	if code != 0 || !strings.Contains(out, "added 0 line(s)") || !strings.Contains(out, "(2 already there)") {
		t.Errorf("history add again: exit %d, %q", code, out)
	}

	ls := showJSON(t, "--store", store, "--case", "flux")
	var got []string
	for _, l := range ls {
		got = append(got, l.Case.Key+" "+l.Side+" "+l.Commit[:1]+" parent "+l.Parent+" "+l.RunTime)
	}
	want := []string{
		"flux base a parent  2026-06-10T12:00:04Z",
		"flux head b parent " + shaA + " 2026-06-10T12:00:04Z",
		"flux base b parent  2026-06-10T13:00:04Z",
		"flux head c parent " + shaB + " 2026-06-10T13:00:04Z",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("show --case flux (-want +got):\n%s", d)
	}
	if e2e := ls[1].Metric(report.MetricE2E); e2e == nil || len(e2e.Samples) != 5 || e2e.Samples[0].Value != 1100 {
		t.Errorf("head e2e %+v, want its 5 samples", e2e)
	}
	if ls[1].Diffperf == "" || ls[1].Environment.GPU != "NVIDIA H100 80GB HBM3" {
		t.Errorf("diffperf %q, gpu %q", ls[1].Diffperf, ls[1].Environment.GPU)
	}
	if all := showJSON(t, "--store", store); len(all) != 6 {
		t.Errorf("show: %d lines, want 6", len(all))
	}

	code, out, _ = runCLI(t, nil, "history", "show", "--store", store)
	if code != 0 {
		t.Fatalf("show: exit %d", code)
	}
	for _, w := range []string{
		"### `flux`\n\n4 line(s).\n\n| commit | run time | side | e2e median (ms) | n | GPU |\n",
		"| `bbbbbbbbbbbb` | 2026-06-10T12:00:04Z | head | 1102.00 | 5 | NVIDIA H100 80GB HBM3 |\n",
		"### `wan`\n\n2 line(s).",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("show lacks %q:\n%s", w, out)
		}
	}
}

// --repo reads the committer dates, which then order the series.
func TestHistoryAddCommitTimesFromRepo(t *testing.T) {
	t.Parallel()
	repo := t.TempDir()
	ctx := context.Background()
	run := func(env []string, args ...string) string {
		out, err := git.Repo{Dir: repo, Env: append(os.Environ(), env...)}.Run(ctx, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	run(nil, "init", "--quiet", "-b", "main")
	var shas []string
	for _, date := range []string{"2026-05-01T10:00:00+02:00", "2026-05-02T10:00:00+02:00"} {
		run([]string{"GIT_COMMITTER_DATE=" + date}, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "--allow-empty", "--no-gpg-sign", "-m", date)
		shas = append(shas, run(nil, "rev-parse", "HEAD"))
	}
	store := t.TempDir()
	results := writeResults(t, pushed("flux", shas[0], shas[1], june))
	code, _, stderr := runCLI(t, nil, "history", "add", "--store", store, "--repo", repo, results)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ls := showJSON(t, "--store", store)
	if len(ls) != 2 || ls[0].CommitTime != "2026-05-01T08:00:00Z" || ls[1].CommitTime != "2026-05-02T08:00:00Z" {
		t.Errorf("commit times %+v", ls)
	}
}

func TestHistoryBadInput(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	good := writeResults(t, pushed("flux", shaA, shaB, june))
	notJSON := filepath.Join(t.TempDir(), "result.json")
	if err := os.WriteFile(notJSON, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	noSHA := writeResults(t, pushed("flux", "", shaB, june))
	missing := filepath.Join(t.TempDir(), "nowhere")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"history"}, "history: need add or show"},
		{"unknown subcommand", []string{"history", "drop"}, `history: "drop" is neither add nor show`},
		{"no store", []string{"history", "add", good}, "--store: missing"},
		{"store missing", []string{"history", "add", "--store", missing, good}, "--store: no such file or directory"},
		{"no results", []string{"history", "add", "--store", store}, "need at least one result.json"},
		{"bad result", []string{"history", "add", "--store", store, good, notJSON}, "result " + notJSON + ": not a diffperf result"},
		{"missing result", []string{"history", "add", "--store", store, missing}, missing + `" holds no result.json`},
		{"result without commit", []string{"history", "add", "--store", store, noSHA}, "diffperf-flux/x/result.json: the base side names no commit"},
		{"show format", []string{"history", "show", "--store", store, "--format", "xml"}, `--format: "xml" is neither markdown nor json`},
		{"show unknown case", []string{"history", "show", "--store", store, "--case", "nope"}, `--case: "nope" is no case of the store`},
		{"show arguments", []string{"history", "show", "--store", store, "extra"}, "takes no arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runCLI(t, nil, tc.args...)
			if code != ExitInput || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
	// Nothing of a refused add reached the store, not even the good result.
	if entries, _ := os.ReadDir(store); len(entries) != 0 {
		t.Errorf("the store holds %d entries after refused adds", len(entries))
	}
}

// show reports a corrupt line by file and line on stderr, shows the rest,
// exits 0, and leaves the line in the file.
func TestHistoryShowCorruptLine(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	if code, _, stderr := runCLI(t, nil, "history", "add", "--store", store, writeResults(t, pushed("flux", shaA, shaB, june))); code != 0 {
		t.Fatal(stderr)
	}
	path := filepath.Join(store, "history", "flux", "2026-06.jsonl")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("{\"half\": \x1b[31m\n")
	f.Close()
	code, out, stderr := runCLI(t, nil, "history", "show", "--store", store)
	if code != 0 || !strings.Contains(stderr, "warning: history/flux/2026-06.jsonl:3: ") || strings.Contains(stderr, "\x1b") {
		t.Errorf("exit %d, stderr %q; want the line reported by file and line, without its control bytes", code, stderr)
	}
	if !strings.Contains(out, "2 line(s).") {
		t.Errorf("show:\n%s", out)
	}
	if data, _ := os.ReadFile(path); !strings.HasSuffix(string(data), "{\"half\": \x1b[31m\n") {
		t.Errorf("the corrupt line is gone")
	}
}

// A case name from a result is untrusted: it cannot break the Markdown.
func TestHistoryShowEscapes(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	r := pushed("x|<img src=a>@team", shaA, shaB, june)
	r.Env.Before[0].Name = "GPU | <b>"
	if code, _, stderr := runCLI(t, nil, "history", "add", "--store", store, writeResults(t, r)); code != 0 {
		t.Fatal(stderr)
	}
	_, out, _ := runCLI(t, nil, "history", "show", "--store", store)
	if strings.Contains(out, "<img") || strings.Contains(out, "<b>") || strings.Contains(out, "@team") {
		t.Errorf("raw text in the Markdown:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| `") && strings.Count(line, "|") != 7 {
			t.Errorf("a row with %d cell borders: %q", strings.Count(line, "|"), line)
		}
	}
	if !strings.Contains(out, "### `x__img_src_a__team`") {
		t.Errorf("heading:\n%s", out)
	}
}

func TestHistoryHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"history", "--help"}, {"history", "add", "--help"}, {"history", "show", "-h"}} {
		code, out, stderr := runCLI(t, nil, args...)
		if code != 0 || stderr != "" || !strings.HasPrefix(out, "usage: diffperf history add") {
			t.Errorf("%v: exit %d, stderr %q, stdout %.50q", args, code, stderr, out)
		}
	}
}
