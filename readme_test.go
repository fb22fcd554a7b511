package main

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite README.md's generated example from its golden file")

// TestReadmeMergedExample keeps the README's example of a merged comment
// equal to the golden file that internal/report's tests render
// (testdata/golden/merged_example.md); -update copies it in.
func TestReadmeMergedExample(t *testing.T) {
	const begin, end = "<!-- merged-example:begin -->\n", "<!-- merged-example:end -->\n"
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("testdata/golden/merged_example.md")
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok := strings.Cut(string(readme), begin)
	got, after, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		t.Fatalf("README.md lacks the markers %q and %q", begin, end)
	}
	// A blank line around the example, so that its Markdown starts and ends
	// as in a comment.
	want := "\n" + string(example) + "\n"
	if *update {
		if err := os.WriteFile("README.md", []byte(before+begin+want+end+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(strings.Split(want, "\n"), strings.Split(got, "\n")); diff != "" {
		t.Errorf("README.md's merged example differs from testdata/golden/merged_example.md (go test . -run TestReadmeMergedExample -update) (-golden +readme):\n%s", diff)
	}
}
