package report

import (
	"regexp"
	"strings"
	"unicode"
)

// Escape makes text from outside (a prompt, a model, a ref, a stage name)
// safe inside Markdown inline text and table cells: it cannot open HTML or a
// comment, break a table row, start a new line, format text, reference an
// issue or ping a user or team.
func Escape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	runes := []rune(s)
	for i, r := range runes {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r == '_' && i > 0 && i < len(runes)-1 && isAlnum(runes[i-1]) && isAlnum(runes[i+1]):
			// GitHub never reads an underscore inside a word as emphasis;
			// leaving it keeps names like frame_materialize as written.
			b.WriteRune(r)
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			// dropped: control characters have no business in a report
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

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
