package report

import (
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// structure finds, in escaped inline text as written, what GitHub's
// Markdown parser would read as structure: HTML, a table pipe, a code span,
// a math delimiter, a line break, a heading, a backslash that escapes
// something other than an emphasis character.
var structure = map[string]*regexp.Regexp{
	"HTML":          regexp.MustCompile(`[<>]`),
	"table pipe":    regexp.MustCompile(`\|`),
	"code span":     regexp.MustCompile("`"),
	"math":          regexp.MustCompile(`\$`),
	"line break":    regexp.MustCompile("[\n\r\u2028\u2029\u0085]"),
	"heading":       regexp.MustCompile(`^#+([ \t]|$)`),
	"raw backslash": regexp.MustCompile(`\\($|[^*_\[\]~])`),
}

// references finds, in the text GitHub renders (entities and escapes
// decoded: its reference and mention filters run after the parser), a
// mention, an issue or pull request reference or a URL autolink. Each
// pattern is GitHub's own, loosened: a match may be harmless, a miss would
// not be.
var references = map[string]*regexp.Regexp{
	"mention":      regexp.MustCompile(`@[^\x{200b}]`),
	"issue #N":     regexp.MustCompile(`#[0-9]`),
	"issue GH-N":   regexp.MustCompile(`(?i)gh-[0-9]`),
	"URL autolink": regexp.MustCompile(`(?i)://|www\.`),
}

// checkInline fails when escaped inline text could act on GitHub.
func checkInline(t *testing.T, in, out string) {
	t.Helper()
	for what, re := range structure {
		if re.MatchString(out) {
			t.Fatalf("Escape(%q) = %q: a live %s", in, out, what)
		}
	}
	shown := unescapeInline(out)
	for what, re := range references {
		if re.MatchString(shown) {
			t.Fatalf("Escape(%q) = %q shows as %q: a live %s", in, out, shown, what)
		}
	}
}

func TestEscapeBreaksReferencesAndMath(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"fixes #1", "#12 at the start", "acme/other#3", "see GH-2", "gh-42", "Gh-7",
		"$x^2$", "$$\\int_0^1 x\\,dx$$", "costs $5 and $6", "$`a`$",
		"https://github.com/acme/other/issues/3", "www.github.com/acme/other/pull/4", "WWW.example.com",
		"# Heading", "model@v1 @alice @org/team",
	} {
		out := Escape(in)
		t.Run("", func(t *testing.T) { checkInline(t, in, out) })
		if got := strings.ReplaceAll(unescapeInline(out), "\u200b", ""); got != in {
			t.Errorf("Escape(%q) = %q reads as %q", in, out, got)
		}
	}
	// EscapePre keeps newlines and writes # and $ as entities, which a
	// browser shows and copies as the characters.
	if got := EscapePre("--prompt '#1 costs $5'\nGH-2 @bob"); got != "--prompt '&#35;1 costs &#36;5'\nGH-2 @\u200bbob" {
		t.Errorf("EscapePre = %q", got)
	}
}

// unescapeInline reads Escape's output back as GitHub renders it: entities
// and backslash escapes decoded (zero-width spaces stay).
func unescapeInline(s string) string {
	entities := []struct{ ent, ch string }{{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&#124;", "|"}, {"&#92;", `\`}, {"&#96;", "`"}, {"&#36;", "$"}}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			b.WriteByte(s[i+1])
			i += 2
			continue
		case s[i] == '&':
			found := false
			for _, e := range entities {
				if strings.HasPrefix(s[i:], e.ent) {
					b.WriteString(e.ch)
					i += len(e.ent)
					found = true
					break
				}
			}
			if found {
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// FuzzEscape checks what Escape promises for any input: nothing GitHub
// would act on survives (see live), every & starts an entity Escape wrote,
// emphasis characters are escaped, and the text still reads the same,
// less line breaks (spaces) and control characters (dropped).
func FuzzEscape(f *testing.F) {
	for _, s := range []string{hostile, "fixes #1 acme/other#3 GH-2 $x$ $$y$$", "a_b _c_ __init__", "&lt;img&gt; &#124; &#35;1", "www.x.y https://x", "\\|\\@a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if len(in) > 512 {
			// Long inputs find nothing short ones miss, and minimizing
			// them takes the fuzzer most of a short CI run.
			return
		}
		out := Escape(in)
		checkInline(t, in, out)
		for i := strings.IndexByte(out, '&'); i >= 0; i = nextByte(out, '&', i) {
			if !escapeEntity.MatchString(out[i:]) {
				t.Fatalf("Escape(%q) = %q: an & that is not Escape's entity at %d", in, out, i)
			}
		}
		runes := []rune(out)
		for i, r := range runes {
			if strings.ContainsRune("*[]~", r) && (i == 0 || runes[i-1] != '\\') {
				t.Fatalf("Escape(%q) = %q: unescaped %q", in, out, r)
			}
			inWord := i > 0 && i < len(runes)-1 && isAlnum(runes[i-1]) && isAlnum(runes[i+1])
			if r == '_' && !inWord && (i == 0 || runes[i-1] != '\\') {
				t.Fatalf("Escape(%q) = %q: an _ that can open emphasis", in, out)
			}
			if unicode.IsControl(r) {
				t.Fatalf("Escape(%q) = %q: control character %U", in, out, r)
			}
		}
		var want strings.Builder
		for _, r := range in {
			switch {
			case r == '\n' || r == '\r' || r == '\t':
				want.WriteByte(' ')
			case unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\u200b':
			default:
				want.WriteRune(r)
			}
		}
		if got := strings.ReplaceAll(unescapeInline(out), "\u200b", ""); got != want.String() {
			t.Fatalf("Escape(%q) = %q reads as %q, want %q", in, out, got, want.String())
		}

		pre := EscapePre(in)
		bare := preEntity.ReplaceAllString(pre, "")
		for _, bad := range []string{"<", ">", "#", "$", "&", "\r"} {
			if strings.Contains(bare, bad) {
				t.Fatalf("EscapePre(%q) = %q contains %q outside an entity", in, pre, bad)
			}
		}
		if references["mention"].MatchString(pre) {
			t.Fatalf("EscapePre(%q) = %q: a live mention", in, pre)
		}
		if strings.Count(pre, "\n") != strings.Count(in, "\n") {
			t.Fatalf("EscapePre(%q) = %q: lines changed", in, pre)
		}
		if !utf8.ValidString(out) || !utf8.ValidString(pre) {
			t.Fatalf("Escape(%q) = %q, EscapePre = %q: not UTF-8", in, out, pre)
		}
	})
}

var preEntity = regexp.MustCompile(`&(amp|lt|gt|#35|#36);`)

var escapeEntity = regexp.MustCompile(`^&(amp|lt|gt|#124|#92|#96|#36);`)

func nextByte(s string, c byte, i int) int {
	j := strings.IndexByte(s[i+1:], c)
	if j < 0 {
		return -1
	}
	return i + 1 + j
}
