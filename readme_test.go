package main

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var updateReadme = flag.Bool("update", false, "rewrite the example comment in README.md from the golden file")

// TestReadmeExampleComment: the example comment near the top of README.md
// is the golden rendering of a regression, so the README shows what
// diffperf really writes. -update rewrites it.
func TestReadmeExampleComment(t *testing.T) {
	const begin, end = "<!-- example-comment:begin -->\n", "<!-- example-comment:end -->"
	golden, err := os.ReadFile("testdata/golden/runs_regression.md")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	pre, rest, ok := strings.Cut(string(readme), begin)
	_, post, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		t.Fatalf("README.md lacks the %q ... %q block", begin, end)
	}
	want := "<details>\n<summary>Example comment</summary>\n\n" + string(golden) + "\n</details>\n"
	if *updateReadme {
		if err := os.WriteFile("README.md", []byte(pre+begin+want+end+post), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got, _, _ := strings.Cut(rest, end); got != want {
		t.Errorf("README.md's example comment differs from testdata/golden/runs_regression.md: run go test -run TestReadmeExampleComment . -update")
	}
}
