package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/diffperf/diffperf/internal/git"
	"github.com/diffperf/diffperf/internal/history"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/report"
)

const historyUsage = `usage: diffperf history add --store DIR [--key K] [--repo DIR] RESULT...
       diffperf history show --store DIR [--case C] [--format markdown|json]

The results measured on the default branch, kept in a store: a checkout of
the data branch (diffperf-data), or any folder. Its files are
history/<case-key>/<yyyy-mm>.jsonl, one JSON line per measured commit and
run. See docs/history.md.

add appends the lines of each result.json (a file, or a folder holding
result.json files): the base side's commit and the head side's, with every
metric's samples. It never rewrites a line, and a line already in the store
is not added again. It commits nothing: commit and push the checkout, or
let the Action do it.

show prints a table per case (commit, run time, side, e2e median, n, GPU),
or with --format json the lines themselves, in commit order. A stored line
that does not parse is reported on stderr by file and line, and skipped.`

// cmdHistory is `diffperf history add|show`.
func cmdHistory(ctx context.Context, args []string, e Env) error {
	if len(args) == 0 {
		return input.Errorf("history", "need add or show (see diffperf history --help)")
	}
	switch args[0] {
	case "add":
		return cmdHistoryAdd(ctx, args[1:], e)
	case "show":
		return cmdHistoryShow(args[1:], e)
	case "-h", "--help", "help":
		return &helpRequest{historyUsage}
	}
	return input.Errorf("history", "%q is neither add nor show", args[0])
}

// storeFlag checks --store: a folder that exists, so that a mistyped path
// is not quietly made a new store.
func storeFlag(dir string) (history.Store, error) {
	if dir == "" {
		return history.Store{}, input.Errorf("--store", "missing: give the folder of the store (a checkout of the data branch)")
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return history.Store{}, input.Wrap("--store", errors.Unwrap(err))
	}
	if !fi.IsDir() {
		return history.Store{}, input.Errorf("--store", "%s is not a folder", dir)
	}
	return history.Store{Dir: dir}, nil
}

func cmdHistoryAdd(ctx context.Context, args []string, e Env) error {
	fs := flag.NewFlagSet("history add", flag.ContinueOnError)
	dir := fs.String("store", "", "the store's folder: a checkout of the data branch")
	key := fs.String("key", "", "the case key of every result (default: each result's case name, else its model)")
	repo := fs.String("repo", "", "a clone of the measured repository, to read the commits' committer dates from")
	pos, err := parseFlags(fs, args)
	var h *helpRequest
	if errors.As(err, &h) {
		return &helpRequest{historyUsage + "\n\nFlags of add:\n" + flagUsage(fs)}
	}
	if err != nil {
		return err
	}
	store, err := storeFlag(*dir)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return input.Errorf("history add", "need at least one result.json (a file or a folder)")
	}
	cases, warnings, err := loadResults(pos, "")
	if err != nil {
		return err
	}
	if len(warnings) > 0 {
		// Unlike merge, where a matrix cell may have uploaded nothing,
		// every name given to add is meant to hold a result.
		msgs := make([]string, len(warnings))
		for i, w := range warnings {
			msgs[i] = w.Error()
		}
		return input.Errorf("history add", "%s", strings.Join(msgs, "; "))
	}
	var lines []history.Line
	for _, c := range cases {
		meta := history.Meta{Key: *key, Version: diffperfVersion()}
		if _, ok := history.RunTimeOf(c.Result); !ok {
			// No dump timestamp: the file's time is when the run ended.
			if fi, err := os.Stat(c.Source); err == nil {
				meta.RunTime = fi.ModTime()
			}
		}
		if *repo != "" {
			meta.CommitTimes = commitTimes(ctx, *repo, c.Result, e.Stderr)
		}
		ls, err := history.FromResult(c.Result, meta)
		if err != nil {
			return input.Wrap("result "+c.Source, err)
		}
		lines = append(lines, ls...)
	}
	n, err := store.Append(lines)
	if err != nil {
		return fmt.Errorf("history add: %w", err)
	}
	_, err = fmt.Fprintf(e.Stdout, "history: added %d line(s) to %s (%d already there)\n", n, store.Dir, len(lines)-n)
	return err
}

// commitTimes reads the committer dates of a result's commits from the
// clone at dir; a commit the clone lacks gets none, with a warning.
func commitTimes(ctx context.Context, dir string, r *report.Result, stderr io.Writer) map[string]time.Time {
	out := map[string]time.Time{}
	g := git.Repo{Dir: dir}
	for res := r; res != nil; res = res.Confirmation {
		for _, sha := range []string{res.Base.SHA, res.Head.SHA} {
			if _, done := out[sha]; done || sha == "" {
				continue
			}
			if git.ValidateRef(sha) != nil {
				fmt.Fprintf(stderr, "diffperf: warning: --repo: %q is not a commit name; no commit time\n", sha)
				continue
			}
			s, err := g.Run(ctx, "show", "-s", "--format=%cI", "--end-of-options", sha+"^{commit}")
			t, perr := time.Parse(time.RFC3339, s)
			if err != nil || perr != nil {
				fmt.Fprintf(stderr, "diffperf: warning: --repo: no commit time for %s: %v\n", sha, errors.Join(err, perr))
				continue
			}
			out[sha] = t
		}
	}
	return out
}

// diffperfVersion is this binary's version for the lines: the stamped
// release version, else the module version of its build.
func diffperfVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func cmdHistoryShow(args []string, e Env) error {
	fs := flag.NewFlagSet("history show", flag.ContinueOnError)
	dir := fs.String("store", "", "the store's folder: a checkout of the data branch")
	only := fs.String("case", "", "show only this case (its key or its name)")
	format := fs.String("format", "markdown", "output format: markdown or json")
	pos, err := parseFlags(fs, args)
	var h *helpRequest
	if errors.As(err, &h) {
		return &helpRequest{historyUsage + "\n\nFlags of show:\n" + flagUsage(fs)}
	}
	if err != nil {
		return err
	}
	if *format != "markdown" && *format != "json" {
		return input.Errorf("--format", "%q is neither markdown nor json", *format)
	}
	if len(pos) > 0 {
		return input.Errorf("history show", "takes no arguments, got %q", pos)
	}
	store, err := storeFlag(*dir)
	if err != nil {
		return err
	}
	lines, problems, err := store.Read()
	if err != nil {
		return fmt.Errorf("history show: %w", err)
	}
	for _, p := range problems {
		fmt.Fprintf(e.Stderr, "diffperf: warning: %s (skipped; the line stays in the file)\n", escapeTerminal(p.Error()))
	}
	keys := history.Keys(lines)
	if *only != "" {
		keys = matchCase(lines, keys, *only)
		if len(keys) == 0 {
			return input.Errorf("--case", "%q is no case of the store (cases: %s)", *only, strings.Join(history.Keys(lines), ", "))
		}
	}
	var series [][]history.Line
	for _, k := range keys {
		series = append(series, history.Series(lines, k))
	}
	if *format == "json" {
		all := []history.Line{}
		for _, s := range series {
			all = append(all, s...)
		}
		return writeJSON(e.Stdout, all)
	}
	_, err = io.WriteString(e.Stdout, historyMarkdown(series))
	return err
}

// matchCase is the keys of the cases whose key or name is c.
func matchCase(lines []history.Line, keys []string, c string) []string {
	var out []string
	for _, k := range keys {
		for _, l := range lines {
			if l.Case.Key == k && (k == c || l.Case.Name == c) {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// escapeTerminal keeps a problem's text (which quotes the stored bytes) on
// one line without control characters.
func escapeTerminal(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// historyMarkdown is a table per case of its lines in commit order.
func historyMarkdown(series [][]history.Line) string {
	var b strings.Builder
	if len(series) == 0 {
		return "The store holds no lines.\n"
	}
	for i, s := range series {
		if i > 0 {
			b.WriteString("\n")
		}
		c := s[0].Case
		// A stored key is a folder name (letters, digits, ._-): safe in code.
		fmt.Fprintf(&b, "### `%s`", c.Key)
		if c.Name != "" && c.Name != c.Key {
			fmt.Fprintf(&b, " (%s)", report.Escape(c.Name))
		}
		fmt.Fprintf(&b, "\n\n%d line(s).\n\n| commit | run time | side | e2e median (ms) | n | GPU |\n| --- | --- | --- | ---: | ---: | --- |\n", len(s))
		for _, l := range s {
			med := "–"
			if m := l.Metric(report.MetricE2E); m != nil && len(m.Samples) > 0 {
				med = report.FormatMs(report.Median(m.Values()))
			}
			side := l.Side
			if l.Batch > 1 {
				side += fmt.Sprintf(" (batch %d)", l.Batch)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %s |\n", report.Code(l.Commit[:min(12, len(l.Commit))]), report.Escape(l.RunTime), side, med, l.N, report.Escape(l.Environment.GPU))
		}
	}
	return b.String()
}
