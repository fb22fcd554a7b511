package command

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestFlagErrorsNameFlagAndValue: a refused flag value is named as the
// user wrote the flag, with --, and the value is in the message.
func TestFlagErrorsNameFlagAndValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--runs", "abc"}, `--runs: "abc" is not a whole number`},
		{[]string{"run", "--base", "a", "--head", "b", "--model", "m", "--runs", "0"}, "--runs: 0 is not a positive count"},
		{[]string{"bench", "m", "--runs", "-2"}, "--runs: -2 is not a positive count"},
		{[]string{"run", "--confirm=maybe"}, `--confirm: "maybe" is not true or false`},
		{[]string{"demo", "--slowdown", "x"}, `--slowdown: "x" is not a number`},
		{[]string{"demo", "--runs", "0"}, "--runs: 0 is not a positive count"},
		{[]string{"compare", "--threshold", "5", "a", "b"}, `--threshold: "5"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runCLI(t, nil, tt.args...)
			if code != ExitInput || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.want)
			}
		})
	}
}

// TestMergeNoSuchFile: a result named on the command line that is not
// there is said to be missing, not to hold no result.json.
func TestMergeNoSuchFile(t *testing.T) {
	t.Parallel()
	missing := t.TempDir() + "/nope"
	code, _, stderr := runCLI(t, nil, "merge", missing)
	if code != ExitInput || !strings.Contains(stderr, missing+": no such file or folder") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestHelpLists: --help lists the flags a command takes, not those it
// refuses, and no empty "Flags:" section.
func TestHelpLists(t *testing.T) {
	t.Parallel()
	_, merge, _ := runCLI(t, nil, "merge", "--help")
	for _, refused := range []string{"--threshold", "--min-delta-ms", "--memory-threshold"} {
		if strings.Contains(merge, refused) {
			t.Errorf("merge --help lists %s, which merge refuses:\n%s", refused, merge)
		}
	}
	if !strings.Contains(merge, "--alpha") || !strings.Contains(merge, "--expect-cases") {
		t.Errorf("merge --help lacks its flags:\n%s", merge)
	}
	if code, _, stderr := runCLI(t, nil, "merge", "--threshold", "5%", "x"); code != ExitInput || !strings.Contains(stderr, "merge does not judge cases again") {
		t.Errorf("merge --threshold: exit %d, %q; want the refusal", code, stderr)
	}
	_, extract, _ := runCLI(t, nil, "extract", "--help")
	if strings.Contains(extract, "Flags:") {
		t.Errorf("extract --help has a Flags: section, and extract has no flags:\n%s", extract)
	}
}

// TestUsageAgreesWithDocs: every command line of `diffperf --help` is in
// docs/cli.md as written there, and docs/cli.md lists no command that the
// usage lacks.
func TestUsageAgreesWithDocs(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	split := regexp.MustCompile(`^\s*(diffperf \S.*?)(?:\s{2,}|$)`)
	var lines []string
	for _, l := range strings.Split(usage, "\n") {
		if m := split.FindStringSubmatch(l); m != nil {
			lines = append(lines, m[1])
			if !strings.Contains(doc, "\n"+m[1]) {
				t.Errorf("docs/cli.md lacks the usage line %q", m[1])
			}
		}
	}
	if len(lines) < 8 {
		t.Fatalf("usage has %d command lines: %q", len(lines), lines)
	}
	_, block, _ := strings.Cut(doc, "## Commands\n\n```\n")
	block, _, _ = strings.Cut(block, "```")
	for _, l := range strings.Split(strings.TrimSpace(block), "\n") {
		if m := split.FindStringSubmatch(l); m == nil || !slices.Contains(lines, m[1]) {
			t.Errorf("docs/cli.md lists %q, which diffperf --help does not", l)
		}
	}
}
