package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/diffperf/diffperf/internal/report"
)

var update = flag.Bool("update", false, "rewrite the generated examples of README.md and docs/ from their sources")

// usesLine is perf-pr.yml's `uses: ./` with the comment above it, and what
// the README's copy says instead: the one line an adopter changes.
const (
	usesLine    = "        # In your repository: uses: diffperf/diffperf@<full commit SHA> # v1.x (./ is this repository's own action)\n        uses: ./\n"
	usesRelease = "        # Pin a release: <sha> is its full commit SHA, v1.x its tag.\n        uses: diffperf/diffperf@<sha> # v1.x\n"
)

// adoptWorkflow is the workflow the README shows: perf-pr.yml with its
// uses: line changed, as an adopter copies it.
func adoptWorkflow(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(".github/workflows/perf-pr.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), usesLine) {
		t.Fatalf("perf-pr.yml lacks the lines\n%s", usesLine)
	}
	return strings.Replace(string(b), usesLine, usesRelease, 1)
}

func readGolden(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadmeExamples keeps what README.md and docs/ show equal to what
// diffperf really writes: the comments that internal/report's tests render
// (golden files) and the example workflow; -update copies them in.
func TestReadmeExamples(t *testing.T) {
	for _, ex := range []struct {
		name, page string
		want       func() string
	}{
		// Collapsed near the top of the page.
		{"example-comment", "README.md", func() string {
			return "<details>\n<summary>Example comment</summary>\n\n" + readGolden(t, "testdata/golden/runs_regression.md") + "\n</details>\n"
		}},
		// With a blank line around it, so that its Markdown starts and ends
		// as in a comment.
		{"merged-example", "docs/cases.md", func() string { return "\n" + readGolden(t, "testdata/golden/merged_example.md") + "\n" }},
		{"adopt-workflow", "README.md", func() string { return "```yaml\n" + adoptWorkflow(t) + "```\n" }},
	} {
		begin, end := "<!-- "+ex.name+":begin -->\n", "<!-- "+ex.name+":end -->"
		page, err := os.ReadFile(ex.page)
		if err != nil {
			t.Fatal(err)
		}
		before, rest, ok := strings.Cut(string(page), begin)
		got, after, ok2 := strings.Cut(rest, end)
		if !ok || !ok2 {
			t.Fatalf("%s lacks the markers %q and %q", ex.page, begin, end)
		}
		want := ex.want()
		if *update {
			if err := os.WriteFile(ex.page, []byte(before+begin+want+end+after), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if diff := cmp.Diff(strings.Split(want, "\n"), strings.Split(got, "\n")); diff != "" {
			t.Errorf("%s's %s differs from its source (go test . -run TestReadmeExamples -update) (-source +page):\n%s", ex.page, ex.name, diff)
		}
	}
}

// TestReadmeFrontPage: the README is a front page: at most 300 lines, every
// page of docs/ linked from it (and every link to docs/ going to a page
// that exists), and no heading of an example comment outside a collapsed
// <details> (they would fill GitHub's outline of the page).
func TestReadmeFrontPage(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	if n := strings.Count(readme, "\n"); n > 300 {
		t.Errorf("README.md has %d lines; a front page has at most 300 (move the detail to docs/)", n)
	}
	pages, err := filepath.Glob("docs/*.md")
	if err != nil || len(pages) == 0 {
		t.Fatal(pages, err)
	}
	for _, p := range pages {
		if !strings.Contains(readme, "("+p+")") && !strings.Contains(readme, "("+p+"#") {
			t.Errorf("README.md does not link %s", p)
		}
	}
	for _, m := range regexp.MustCompile(`\]\((docs/[^)#]+)`).FindAllStringSubmatch(readme, -1) {
		if _, err := os.Stat(m[1]); err != nil {
			t.Errorf("README.md links %s: %v", m[1], err)
		}
	}
	depth, fence := 0, false
	for i, line := range strings.Split(readme, "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			fence = !fence
		case fence:
		case strings.HasPrefix(line, "<details"):
			depth++
		case strings.HasPrefix(line, "</details>"):
			depth--
		case depth == 0 && strings.HasPrefix(line, "#") && (strings.Contains(line, "diffperf:") || strings.Contains(line, "Performance Comparison Report") || strings.Contains(line, "Summary") || strings.Contains(line, "Stage Breakdown")):
			t.Errorf("README.md:%d: a heading of an example comment at the page's top level: %s", i+1, line)
		}
	}
}

// TestReadmeCommands: the README's first commands are the demo and the
// test command, and the test command is what .ci/run runs.
func TestReadmeCommands(t *testing.T) {
	t.Parallel()
	readme, ci := readGolden(t, "README.md"), readGolden(t, ".ci/run")
	_, block, ok := strings.Cut(readme, "```sh\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no sh block")
	}
	var test string
	for _, line := range strings.Split(block, "\n") {
		cmd, _, _ := strings.Cut(line, "#")
		if cmd = strings.TrimSpace(cmd); strings.HasPrefix(cmd, "go test ") {
			test = cmd
		}
	}
	if !strings.HasPrefix(block, "go run . demo ") || test == "" {
		t.Fatalf("README.md's first block does not start with go run . demo and hold a go test command:\n%s", block)
	}
	if !strings.Contains(ci, " go test "+strings.TrimPrefix(test, "go test ")+"\n") {
		t.Errorf(".ci/run does not run the README's test command %q", test)
	}
}

// TestReadmeGateTable keeps the README's table verdict → status → exit
// code equal to what the code maps (report.GateTable, which the command
// package's tests check against the exit codes).
func TestReadmeGateTable(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	begin, end := "<!-- gate-table:begin -->\n", "<!-- gate-table:end -->"
	_, rest, ok := strings.Cut(string(readme), begin)
	got, _, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		t.Fatalf("README.md lacks the markers %q and %q", begin, end)
	}
	if diff := cmp.Diff(strings.Split(report.GateTableMarkdown(), "\n"), strings.Split(got, "\n")); diff != "" {
		t.Errorf("README.md's gate table differs from report.GateTableMarkdown (-code +readme):\n%s", diff)
	}
}
