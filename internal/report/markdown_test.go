package report

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/ghcomment/comment"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/report -update to create it)", err)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got, "\n")); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

func loadDump(t *testing.T, name string) *dump.Dump {
	t.Helper()
	d, err := dump.ParseDump(name, readTestdata(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func loadRuns(t *testing.T, dir string, firstOrder ...int) []dump.Run {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "dumps", dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dumps in %s: %v", dir, err)
	}
	var runs []dump.Run
	for i, f := range files {
		d := loadDump(t, filepath.Join(dir, filepath.Base(f)))
		runs = append(runs, dump.Run{Index: i + 1, Dump: d})
	}
	return runs
}

// abbaOrder numbers runs base, head, head, base, ... as the runner does.
func abbaOrder(base, head []dump.Run) {
	b, h, pos := 0, 0, 1
	for b < len(base) || h < len(head) {
		for _, s := range []string{"base", "head", "head", "base"} {
			if s == "base" && b < len(base) {
				base[b].Order = pos
				b, pos = b+1, pos+1
			} else if s == "head" && h < len(head) {
				head[h].Order = pos
				h, pos = h+1, pos+1
			}
		}
	}
}

func single(t *testing.T, base, head string) *Result {
	t.Helper()
	return Compare(dump.Side{Runs: []dump.Run{{Index: 1, Order: 1, Dump: loadDump(t, base)}}}, dump.Side{Runs: []dump.Run{{Index: 1, Order: 2, Dump: loadDump(t, head)}}}, DefaultOptions())
}

func severalRuns(t *testing.T) *Result {
	t.Helper()
	base, head := loadRuns(t, "runs/base"), loadRuns(t, "runs/head")
	abbaOrder(base, head)
	return Compare(dump.Side{Ref: "main", SHA: "a10a24e9a7fdc0ddcc7dc3e90c0d4983707db028", Runs: base},
		dump.Side{Ref: "refs/pull/42/merge", SHA: "8e8c1ccc065f520f2f9eff69cfa287dd279e59b4", Runs: head}, DefaultOptions())
}

func withContext(r *Result) *Result {
	r.Env = &dump.Environment{
		Before: []dump.GPU{{Name: "NVIDIA H100 80GB HBM3", Driver: "550.90.07", SMClockMHz: "1980", MemClockMHz: "2619", TemperatureC: "34", PowerW: "71.20", PowerLimitW: "700.00", ThrottleReasons: "none"}},
		After:  []dump.GPU{{Name: "NVIDIA H100 80GB HBM3", Driver: "550.90.07", SMClockMHz: "1755", MemClockMHz: "2619", TemperatureC: "61", PowerW: "402.10", PowerLimitW: "700.00", ThrottleReasons: "sw_thermal_slowdown"}},
		Host:   "linux/amd64, 16 CPUs",
	}
	r.Command = "sglang generate --model-path black-forest-labs/FLUX.1-dev --prompt 'A curious raccoon' --warmup --perf-dump-path out/head-01.json"
	r.Reproduce = "diffperf run --base a10a24e --head 8e8c1cc --runs 5 --command 'sglang generate ...'"
	return r
}

func TestMarkdownGolden(t *testing.T) {
	t.Parallel()
	accepted := withContext(severalRuns(t))
	accepted.Accepted, accepted.AcceptLabel = true, "perf-regression-accepted"
	accepted.Confirmation = severalRuns(t)

	regression := severalRuns(t)
	regression.AcceptLabel = "perf-regression-accepted" // on a pull request: the headline says how to accept

	failed := withContext(severalRuns(t))
	failed.AcceptLabel = "perf-regression-accepted"
	failed.Fail(dump.Failure{Side: "head", Run: 3, Reason: "exit status 1 after 12.3 s",
		LogTail: "Loading pipeline...\nTraceback (most recent call last):\n  File \"x.py\", line 1\nRuntimeError: CUDA out of memory <b>@oncall</b>"})

	// A /perf request at a commit the pull request has moved on from.
	requested := severalRuns(t)
	requested.AcceptLabel = "perf-regression-accepted"
	requested.Request = &Request{By: "alice", URL: "https://github.com/octo/perf/pull/42#issuecomment-3100000001",
		SHA: "8e8c1ccc065f520f2f9eff69cfa287dd279e59b4", CurrentHead: "0123456789abcdef0123456789abcdef01234567", Moved: true}

	tests := []struct {
		name string
		r    *Result
		opt  RenderOptions
	}{
		{"single_old_vs_dec", single(t, "old_nov2025.json", "dec2025.json"), RenderOptions{}},
		{"single_newest_vs_example", single(t, "sglang_md_example.json", "newest_spans.json"), RenderOptions{}},
		{"runs_regression", regression, RenderOptions{Marker: "flux-h100"}},
		{"runs_accepted_with_env", accepted, RenderOptions{Marker: "flux-h100"}},
		{"runs_failed", failed, RenderOptions{Marker: "flux-h100"}},
		{"runs_requested_moved", requested, RenderOptions{Marker: "flux-h100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			golden(t, tt.name+".md", Markdown(tt.r, tt.opt))
			js, err := MarshalJSON(tt.r)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".json", string(js))
		})
	}
}

func TestMarkdownMultiGolden(t *testing.T) {
	t.Parallel()
	base := loadDump(t, "old_nov2025.json")
	cols := []Column{{"dec2025.json", loadDump(t, "dec2025.json")}, {"newest_spans.json", loadDump(t, "newest_spans.json")}}
	golden(t, "multi_three_files.md", MarkdownMulti(base, cols))
}

// TestCompatibleWithComparePerf checks the tables against the output of
// sglang's compare_perf.py for the same files (testdata/compare_perf holds
// what the script printed, less its clock-time line).
func TestCompatibleWithComparePerf(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "compare_perf", "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatal("no compare_perf outputs in testdata/compare_perf")
	}
	tableRows := func(s string) []string {
		var rows []string
		s, _, _ = strings.Cut(s, "<details>")
		for _, line := range strings.Split(s, "\n") {
			if strings.HasPrefix(line, "|") {
				rows = append(rows, line)
			}
		}
		return rows
	}
	for _, f := range files {
		names := strings.Split(strings.TrimSuffix(filepath.Base(f), ".md"), "__")
		t.Run(strings.Join(names, "-vs-"), func(t *testing.T) {
			t.Parallel()
			wantB, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want := string(wantB)
			var got string
			if len(names) == 2 {
				got = Markdown(single(t, names[0]+".json", names[1]+".json"), RenderOptions{})
				if diff := cmp.Diff(tableRows(want), tableRows(got)); diff != "" {
					t.Errorf("table rows differ from compare_perf.py (-want +got):\n%s", diff)
				}
				// The section layout around the tables, blank lines included.
				section := regexp.MustCompile(`(?s)### Performance Comparison Report.*?\n\n\n`)
				wantSec := section.FindString(want)
				gotSec := section.FindString(got)
				if wantSec == "" || !strings.Contains(got, wantSec) && wantSec != gotSec {
					t.Errorf("summary section differs:\nwant %q\ngot  %q", wantSec, gotSec)
				}
				return
			}
			var cols []Column
			for _, n := range names[1:] {
				cols = append(cols, Column{n + ".json", loadDump(t, n+".json")})
			}
			got = MarkdownMulti(loadDump(t, names[0]+".json"), cols)
			if diff := cmp.Diff(strings.Split(want, "\n"), strings.Split(got, "\n")); diff != "" {
				t.Errorf("differs from compare_perf.py (-want +got):\n%s", diff)
			}
		})
	}
}

// hostile is text from outside that tries every trick a comment can fall to.
const hostile = "Evil|Stage <img src=x onerror=alert(1)> <!-- diffperf:other --> @org/team @alice `rm -rf` $(touch pwned); *bold* [link](http://x)\nsecond line\\|"

func TestMarkdownEscapesUntrustedText(t *testing.T) {
	t.Parallel()
	mk := func(total float64) *dump.Dump {
		return &dump.Dump{Name: "dump " + hostile + ".json", TotalMs: total, CommitHash: hostile, Model: hostile, Prompt: hostile,
			Stages: []dump.Stage{{Name: hostile, DurationMs: total / 2, Count: 1}, {Name: "DenoisingStage", DurationMs: total / 2, Count: 1}}}
	}
	var base, head dump.Side
	for i := 0; i < 5; i++ {
		base.Runs = append(base.Runs, dump.Run{Index: i + 1, Dump: mk(7000 + float64(i))})
		head.Runs = append(head.Runs, dump.Run{Index: i + 1, Dump: mk(7700 + float64(i))})
	}
	base.Ref, head.Ref = hostile, hostile
	r := Compare(base, head, DefaultOptions())
	r.Fail(dump.Failure{Side: hostile, Run: 1, Reason: hostile, LogTail: hostile + "\n</pre><script>x</script>"})
	r.Notes = []string{hostile}
	r.Command, r.Reproduce = hostile, hostile
	r.Env = &dump.Environment{Before: []dump.GPU{{Name: hostile, Driver: hostile}}}

	for _, out := range []string{Markdown(r, RenderOptions{Marker: "key"}), MarkdownMulti(mk(1), []Column{{hostile, mk(2)}, {hostile, mk(3)}})} {
		checkSafe(t, out)
	}
}

// checkSafe asserts the properties every rendering must keep, whatever the
// input: no live HTML from the input, no second marker, no ping, table rows
// with as many cells as their header.
func checkSafe(t *testing.T, out string) {
	t.Helper()
	for _, bad := range []string{"<img", "<script", "</pre><", "<!-- diffperf:other", "@org/", "@alice"} {
		if strings.Contains(out, bad) {
			t.Errorf("output contains %q", bad)
		}
	}
	if n := strings.Count(out, "<!-- diffperf:"); n > 1 {
		t.Errorf("%d markers, want at most one", n)
	}
	checkTables(t, out)
}

// cellCount counts the cells of a GitHub table row: pipes not escaped by a
// backslash, less the two at the ends.
func cellCount(row string) int {
	n := 0
	for i := 0; i < len(row); i++ {
		if row[i] == '\\' {
			i++
			continue
		}
		if row[i] == '|' {
			n++
		}
	}
	return n - 1
}

func checkTables(t *testing.T, out string) {
	t.Helper()
	want := -1
	inCode, inPre := false, false
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		// A <pre> block is HTML, where GitHub reads no Markdown: its
		// lines are no table rows, whatever they start with.
		if strings.HasPrefix(line, "<pre>") {
			inPre = true
		}
		if inPre {
			inPre = !strings.Contains(line, "</pre>")
			continue
		}
		if inCode {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if line != "" && want >= 0 {
				// A table ends at a line that is not a row; a non-empty one
				// right after would be a row broken by a newline.
				if !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "<") && !strings.HasPrefix(line, "Medians") && !strings.HasPrefix(line, "Peak") && !strings.HasPrefix(line, "```") && !strings.HasPrefix(line, "_Left out") {
					t.Errorf("line right after a table: %q", line)
				}
			}
			want = -1
			continue
		}
		if want < 0 {
			want = cellCount(line)
			continue
		}
		if got := cellCount(line); got != want {
			t.Errorf("row has %d cells, header %d: %q", got, want, line)
		}
	}
}

func TestMarkdownSizeLimit(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("VeryLongStageName", 40)
	mk := func(total float64) *dump.Dump {
		d := &dump.Dump{Name: "x.json", TotalMs: total}
		for i := 0; i < 400; i++ {
			d.Stages = append(d.Stages, dump.Stage{Name: long + string(rune('A'+i%26)) + strings.Repeat("x", i), DurationMs: 1, Count: 1})
		}
		return d
	}
	var base, head dump.Side
	for i := 0; i < 40; i++ {
		base.Runs = append(base.Runs, dump.Run{Index: i + 1, Dump: mk(7000 + float64(i))})
		head.Runs = append(head.Runs, dump.Run{Index: i + 1, Dump: mk(7700 + float64(i))})
	}
	r := Compare(base, head, DefaultOptions())
	r.Fail(dump.Failure{Side: "head", Run: 1, Reason: "boom", LogTail: strings.Repeat("log line\n", 10000)})
	for _, limit := range []int{comment.MaxCommentChars, 20000, 3000} {
		out := Markdown(r, RenderOptions{Marker: "big", MaxChars: limit})
		if n := utf8.RuneCountInString(out); n > limit {
			t.Errorf("limit %d: %d characters", limit, n)
		}
		if !strings.HasPrefix(out, comment.MarkerLine("big")+"\n## ") {
			t.Errorf("limit %d: does not start with the marker and headline: %.100q", limit, out)
		}
		if !strings.Contains(out, "Left out to stay within") {
			t.Errorf("limit %d: no note on what was dropped", limit)
		}
		checkTables(t, out)
	}
	// A report that fits keeps every section.
	small := severalRuns(t)
	out := Markdown(small, RenderOptions{Marker: "k"})
	if strings.Contains(out, "Left out") || !strings.Contains(out, "<summary>Metadata</summary>") {
		t.Error("a small report lost a section")
	}
}

func TestEscape(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"TextEncodingStage", "TextEncodingStage"},
		{"GPUWorker.frame_materialize_for_return", "GPUWorker.frame_materialize_for_return"},
		{"_lead and trail_", `\_lead and trail\_`},
		{"a|b", "a&#124;b"},
		{`a\|b`, "a&#92;&#124;b"},
		{"<b>&", "&lt;b&gt;&amp;"},
		{"@alice", "@\u200balice"},
		{"line\nbreak\r\n", "line break  "},
		{"*x* [y] ~z~ `c`", `\*x\* \[y\] \~z\~ &#96;c&#96;`},
		{"bell\a", "bell"},
	}
	for _, tt := range tests {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := EscapePre("a</pre>\n@b"); got != "a&lt;/pre&gt;\n@\u200bb" {
		t.Errorf("EscapePre = %q", got)
	}
	if got := comment.SanitizeKey("flux --> <x>"); got != "flux_--___x_" {
		t.Errorf("comment.SanitizeKey = %q", got)
	}
}

func FuzzMarkdown(f *testing.F) {
	f.Add("TextEncodingStage", "A curious raccoon", 7000.0, 7700.0, 5)
	f.Add(hostile, hostile, 0.0, 1e9, 1)
	f.Fuzz(func(t *testing.T, stage, prompt string, a, b float64, n int) {
		if a < 0 || b < 0 || a != a || b != b || a > 1e300 || b > 1e300 {
			return
		}
		n = 1 + (n%8+8)%8
		var base, head dump.Side
		for i := 0; i < n; i++ {
			base.Runs = append(base.Runs, dump.Run{Index: i + 1, Dump: &dump.Dump{Name: stage, TotalMs: a + float64(i), Prompt: prompt, Model: prompt, CommitHash: stage,
				Stages: []dump.Stage{{Name: stage, DurationMs: a, Count: 1}}}})
			head.Runs = append(head.Runs, dump.Run{Index: i + 1, Dump: &dump.Dump{Name: stage, TotalMs: b + float64(i), Prompt: prompt,
				Stages: []dump.Stage{{Name: stage + "x", DurationMs: b, Count: 1}}}})
		}
		r := Compare(base, head, DefaultOptions())
		r.Notes = []string{prompt}
		out := Markdown(r, RenderOptions{Marker: "fuzz", MaxChars: 6000})
		if !strings.HasPrefix(out, comment.MarkerLine("fuzz")+"\n") {
			t.Fatalf("marker not first")
		}
		if utf8.RuneCountInString(out) > 6000 {
			t.Fatalf("over the limit: %d", utf8.RuneCountInString(out))
		}
		if strings.Count(out, "<!--") != 1 {
			t.Fatalf("%d comment openers, want 1", strings.Count(out, "<!--"))
		}
		checkTables(t, out)
	})
}

// TestRequestIsEscaped: what a /perf request brings into the headline (the
// login, the comment's URL, the SHAs) can neither ping, nor link elsewhere
// than a web address, nor break the Markdown.
func TestRequestIsEscaped(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		q        Request
		want     []string
		mustNots []string
	}{
		{"plain", Request{By: "alice", URL: "https://github.com/o/r/pull/1#issuecomment-5", SHA: strings.Repeat("a", 40)},
			[]string{"by @\u200balice in [a comment](https://github.com/o/r/pull/1#issuecomment-5); measured at `aaaaaaaaaaaa`."}, []string{"moved on"}},
		{"hostile", Request{By: "org/team <img src=x>", URL: "javascript:alert(1)", SHA: "$(id)", CurrentHead: "`x` [y](z)", Moved: true},
			[]string{"by @\u200borg/team &lt;img src=x&gt; in a comment; measured at &#36;(id).", "its head is now &#96;x&#96; \\[y\\](z)."},
			[]string{"<img", "javascript:", "](javascript", "`x`"}},
		{"link that would close", Request{By: "a", URL: "https://x.test/a) [b](https://evil.test", SHA: "abc1234"},
			[]string{"in a comment; measured at `abc1234`."}, []string{"evil.test"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := severalRuns(t)
			r.Request = &tt.q
			md := Markdown(r, RenderOptions{})
			for _, w := range tt.want {
				if !strings.Contains(md, w) {
					t.Errorf("missing %q in\n%.900s", w, md)
				}
			}
			for _, bad := range tt.mustNots {
				if strings.Contains(md, bad) {
					t.Errorf("contains %q", bad)
				}
			}
		})
	}
}

func TestZeroMaxCharsBoundsOnlyComments(t *testing.T) {
	t.Parallel()
	// Enough stages that the whole report is over GitHub's comment limit.
	var stages []dump.Stage
	for i := 0; i < 900; i++ {
		stages = append(stages, dump.Stage{Name: fmt.Sprintf("%s%03d", strings.Repeat("Stage", 12), i), DurationMs: 1, Count: 1})
	}
	r := Compare(side(jitter(1000, 3), 0, stages...), side(jitter(1000, 4), 0, stages...), DefaultOptions())
	doc := Markdown(r, RenderOptions{})
	if n := utf8.RuneCountInString(doc); n <= comment.MaxCommentChars || strings.Contains(doc, "Left out to stay within") {
		t.Fatalf("a document without a marker was bounded: %d characters", n)
	}
	if n := utf8.RuneCountInString(Markdown(r, RenderOptions{Marker: "k"})); n > comment.MaxCommentChars {
		t.Fatalf("a comment has %d characters, over GitHub's %d", n, comment.MaxCommentChars)
	}
}
