package main

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/diffperf/diffperf/internal/report"
)

var update = flag.Bool("update", false, "rewrite README.md's generated examples from their golden files")

// TestReadmeExamples keeps the comments README.md shows equal to the golden
// files that internal/report's tests render, so the README shows what
// diffperf really writes; -update copies them in.
func TestReadmeExamples(t *testing.T) {
	for _, ex := range []struct {
		name, golden string
		wrap         func(string) string
	}{
		// Collapsed near the top of the page.
		{"example-comment", "testdata/golden/runs_regression.md", func(s string) string {
			return "<details>\n<summary>Example comment</summary>\n\n" + s + "\n</details>\n"
		}},
		// With a blank line around it, so that its Markdown starts and ends
		// as in a comment.
		{"merged-example", "testdata/golden/merged_example.md", func(s string) string { return "\n" + s + "\n" }},
	} {
		begin, end := "<!-- "+ex.name+":begin -->\n", "<!-- "+ex.name+":end -->"
		golden, err := os.ReadFile(ex.golden)
		if err != nil {
			t.Fatal(err)
		}
		readme, err := os.ReadFile("README.md")
		if err != nil {
			t.Fatal(err)
		}
		before, rest, ok := strings.Cut(string(readme), begin)
		got, after, ok2 := strings.Cut(rest, end)
		if !ok || !ok2 {
			t.Fatalf("README.md lacks the markers %q and %q", begin, end)
		}
		want := ex.wrap(string(golden))
		if *update {
			if err := os.WriteFile("README.md", []byte(before+begin+want+end+after), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if diff := cmp.Diff(strings.Split(want, "\n"), strings.Split(got, "\n")); diff != "" {
			t.Errorf("README.md's %s differs from %s (go test . -run TestReadmeExamples -update) (-golden +readme):\n%s", ex.name, ex.golden, diff)
		}
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
