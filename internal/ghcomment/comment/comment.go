// Package comment is the protocol of diffperf's pull request comments: the
// marker line that finds a comment again, the hidden state line under it,
// and GitHub's size limit on a body. It is plain text, with no I/O, so that
// the renderer (package report) writes what the commenter (package
// ghcomment) looks for. docs/protocol.md describes it.
package comment

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaxCommentChars is GitHub's limit on the body of an issue comment.
// https://docs.github.com/en/rest/issues/comments#create-an-issue-comment
const MaxCommentChars = 65536

// MarkerLine is the first line of every comment diffperf writes for key.
func MarkerLine(key string) string {
	return "<!-- diffperf:" + SanitizeKey(key) + " -->"
}

// SanitizeKey keeps a comment key to letters, digits and ._/- so that it
// cannot end the HTML comment it sits in.
func SanitizeKey(key string) string {
	var b strings.Builder
	for _, r := range key {
		if r < utf8.RuneSelf && (r == '.' || r == '_' || r == '-' || r == '/' ||
			('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "default"
	}
	return b.String()
}

// FirstLine is s up to its first line break, without a trailing CR: where a
// comment's marker stands.
func FirstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimRight(line, "\r")
}

const statePrefix = "<!-- diffperf-state: "

var stateLine = regexp.MustCompile(`(?m)^<!-- diffperf-state: (\{[^\n<>]*\}) -->$`)

// StateLine is the hidden line that carries payload, a JSON object that
// holds no line break and no angle bracket.
func StateLine(payload []byte) string {
	return statePrefix + string(payload) + " -->"
}

// StatePayload is the JSON object of body's state line; ok is false when
// body has none.
func StatePayload(body string) (payload []byte, ok bool) {
	m := stateLine.FindStringSubmatch(body)
	if m == nil {
		return nil, false
	}
	return []byte(m[1]), true
}

// ReplaceState puts line in place of body's state line.
func ReplaceState(body, line string) string {
	return stateLine.ReplaceAllLiteralString(body, line)
}
