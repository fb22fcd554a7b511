package report

import (
	"regexp"
	"strings"
	"unicode"
)

// Escape makes text from outside (a prompt, a model, a ref, a stage name)
// safe inside Markdown inline text and table cells: it cannot open HTML or a
// comment, break a table row, start a new line, format text, render math,
// reference an issue or pull request (#1, owner/repo#3, GH-2, a URL) or
// ping a user or team.
//
// Two tools, chosen by when GitHub acts on the character:
//   - The Markdown parser acts on structure (tables, emphasis, math
//     delimiters, HTML). An entity (&#124;, &#36;) or a backslash is read as
//     a literal character, never as structure, and shows as the character.
//   - References and mentions are found after parsing, in the text of the
//     rendered HTML, where entities and backslashes are already decoded:
//     "\#1" and "&#35;1" both render as the text #1 and are linked. There a
//     zero-width space (U+200B) after # or @, or between "GH-" and its
//     number, or after a URL's scheme colon, breaks the pattern while the
//     text reads the same.
//
// A bare commit SHA is still linked by GitHub (to a commit, without
// notifying anyone); commit hashes go through Code, which quotes them.
func Escape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	// Line breaks become spaces and control characters go first, so that
	// what is left cannot join into a pattern once they are gone ("GH\x16-2").
	runes := make([]rune, 0, len(s))
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			runes = append(runes, ' ')
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			// dropped: control characters have no business in a report
		default:
			runes = append(runes, r)
		}
	}
	for i, r := range runes {
		switch {
		case r == '_' && i > 0 && i < len(runes)-1 && isAlnum(runes[i-1]) && isAlnum(runes[i+1]):
			// GitHub never reads an underscore inside a word as emphasis;
			// leaving it keeps names like frame_materialize as written.
			b.WriteRune(r)
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '@':
			// A zero-width space after @ breaks GitHub's mention syntax,
			// which needs a letter or digit right after the @.
			b.WriteString("@\u200b")
		case r == '#':
			// #1 and owner/repo#3 need a digit right after the #; a line
			// that starts "# " would also be a heading.
			b.WriteString("#\u200b")
		case r == '-' && i >= 2 && i+1 < len(runes) && unicode.IsDigit(runes[i+1]) &&
			unicode.ToLower(runes[i-2]) == 'g' && unicode.ToLower(runes[i-1]) == 'h':
			// GH-2 is an issue reference too.
			b.WriteString("-\u200b")
		case r == ':' && i+2 < len(runes) && runes[i+1] == '/' && runes[i+2] == '/':
			// https://github.com/o/r/issues/3 is autolinked and counts as a
			// reference; the autolink needs "://" unbroken.
			b.WriteString(":\u200b")
		case r == '.' && i >= 3 && strings.EqualFold(string(runes[i-3:i]), "www"):
			// www.github.com/... is autolinked without a scheme.
			b.WriteString("\u200b.")
		case r == '$':
			// GitHub renders $...$ and $$...$$ as math; an entity is never
			// a delimiter.
			b.WriteString("&#36;")
		case r == '|':
			// An entity, not \|: GitHub splits table rows before it reads
			// escapes, and an entity is never a cell separator.
			b.WriteString("&#124;")
		case r == '\\':
			b.WriteString("&#92;")
		case r == '`':
			b.WriteString("&#96;")
		case strings.ContainsRune("*_[]~", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// EscapePre makes text safe inside a <pre> block: HTML is escaped so the
// text cannot close the block, and @ cannot ping. Newlines are kept.
// GitHub neither parses Markdown (math included) inside an HTML block nor
// links references inside <pre>; # and $ are written as entities all the
// same, which a browser shows (and copies) as the characters, so no pass
// over the raw text can read them as a reference or a math delimiter.
func EscapePre(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == '\r' || unicode.IsControl(r):
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '@':
			b.WriteString("@\u200b")
		case r == '#':
			b.WriteString("&#35;")
		case r == '$':
			b.WriteString("&#36;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

var hexSHA = regexp.MustCompile(`^([0-9a-fA-F]{4,64}|N/A)$`)

// Code renders a commit hash as inline code when it looks like one, and as
// escaped text otherwise (a dump's commit_hash is untrusted).
func Code(s string) string {
	if hexSHA.MatchString(s) {
		return "`" + s + "`"
	}
	return Escape(s)
}

// plainRef is what Ref shows as inline code: characters that mean nothing
// inside a code span (HTML tags win over code spans, so no < or &).
var plainRef = regexp.MustCompile(`^[A-Za-z0-9._/~^@+=,-]+$`)

// Ref renders a git ref as inline code, which reads the same on a terminal
// and on GitHub (main~1, not main\~1), when it can; any other ref is
// escaped text.
func Ref(s string) string {
	if plainRef.MatchString(s) {
		return "`" + s + "`"
	}
	return Escape(s)
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
