package bench

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/input"
	"github.com/google/go-cmp/cmp"
)

func TestSplitWords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"sglang generate --prompt {prompt}", []string{"sglang", "generate", "--prompt", "{prompt}"}, ""},
		{`a 'b c' "d e" f\ g`, []string{"a", "b c", "d e", "f g"}, ""},
		{`"say \"hi\" \$HOME \\ \x"`, []string{`say "hi" $HOME \ \x`}, ""},
		{`'it'\''s'`, []string{"it's"}, ""},
		{"$(rm -rf /) ; | && `x` *", []string{"$(rm", "-rf", "/)", ";", "|", "&&", "`x`", "*"}, ""},
		{"  \t\n ", nil, ""},
		{`''`, []string{""}, ""},
		{`'open`, nil, "unterminated single quote"},
		{`"open`, nil, "unterminated double quote"},
		{`trailing\`, nil, "trailing backslash"},
	}
	for _, tt := range tests {
		got, err := SplitWords(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("SplitWords(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("SplitWords(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestTemplateExpand(t *testing.T) {
	t.Parallel()
	tmpl, err := ParseTemplate(DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	got := tmpl.expand(vars{Model: "Qwen/Qwen-Image", Prompt: `a "b" $(c); {dump}`, Dump: "/o/head-01.json", Args: []string{"--seed", "1", "--width", "512"}})
	want := []string{"sglang", "generate", "--model-path", "Qwen/Qwen-Image", "--prompt", `a "b" $(c); {dump}`, "--warmup", "--perf-dump-path", "/o/head-01.json", "--seed", "1", "--width", "512"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Expand (-want +got):\n%s", diff)
	}
	// Placeholders inside a word fill part of one argument.
	tmpl, _ = ParseTemplate("bench --out={dump} --tag={side}-{run}")
	got = tmpl.expand(vars{Dump: "d e.json", Side: "head", Run: "3"})
	if diff := cmp.Diff([]string{"bench", "--out=d e.json", "--tag=head-3"}, got); diff != "" {
		t.Errorf("Expand (-want +got):\n%s", diff)
	}
	// No args: {args} disappears.
	tmpl, _ = ParseTemplate("x {args} y")
	if got := tmpl.expand(vars{}); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("empty {args} = %q", got)
	}
}

func TestParseTemplateErrors(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                    "empty",
		"run {modle}":         "unknown placeholder {modle}",
		"run --a={args}":      "{args} must be a word of its own",
		`run "unterminated`:   "unterminated double quote",
		"run {prompt} {dump}": "",
	} {
		_, err := ParseTemplate(in)
		var te *input.Error
		if want == "" {
			if err != nil {
				t.Errorf("ParseTemplate(%q) = %v", in, err)
			}
			continue
		}
		if !errors.As(err, &te) || !strings.Contains(err.Error(), want) || te.Name != "command" {
			t.Errorf("ParseTemplate(%q) = %v, want an *input.Error named command with %q", in, err, want)
		}
	}
}

func TestQuoteRoundTrip(t *testing.T) {
	t.Parallel()
	words := []string{"plain", "", "two words", `it's`, `"dq"`, "$(x)", "`y`", "a;b|c&d", "new\nline", `back\slash`, "{a,b}", "~", "*", "ünï"}
	got, err := SplitWords(QuoteWords(words))
	if err != nil || !slices.Equal(got, words) {
		t.Errorf("round trip = %q, %v; want %q", got, err, words)
	}
}

func FuzzSplitWords(f *testing.F) {
	for _, s := range []string{DefaultTemplate, `a 'b c' "d \" e" f\ g`, `'`, `"\`, "$(x) `y`"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitWords(s)
		if err != nil {
			return
		}
		// Whatever splits must quote back to the same words.
		again, err := SplitWords(QuoteWords(words))
		if err != nil || !slices.Equal(again, words) {
			t.Fatalf("%q: split %q, requoted split %q (%v)", s, words, again, err)
		}
	})
}

func TestChildEnv(t *testing.T) {
	t.Parallel()
	m := &runner{pythonPath: "python", env: []string{"PATH=/bin", "PYTHONPATH=/site"}}
	got := m.childEnv(&side{name: "head", sha: "abc", worktree: "/wt/head"}, "/out/head-02.json", 2)
	for _, want := range []string{"PYTHONPATH=/wt/head/python:/site", "DIFFPERF_SIDE=head", "DIFFPERF_RUN=2", "DIFFPERF_WORKTREE=/wt/head",
		"DIFFPERF_DUMP=/out/head-02.json", "SGLANG_GIT_COMMIT=abc", "SGLANG_DIFFUSION_SYNC_STAGE_PROFILING=1", "PATH=/bin"} {
		if !slices.Contains(got, want) {
			t.Errorf("child env lacks %s: %q", want, got)
		}
	}
	m.pythonPath = ""
	m.env = []string{"PATH=/bin"}
	for _, kv := range m.childEnv(&side{name: "base"}, "", 1) {
		if strings.HasPrefix(kv, "PYTHONPATH=") {
			t.Errorf("python-path \"\" still set %s", kv)
		}
	}
}
