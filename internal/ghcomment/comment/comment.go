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

// MeasuringPrefix starts the line that a comment may carry right under its
// marker, followed by a blank line, while a newer commit is measured.
const MeasuringPrefix = "⏳ measuring "

var stateLine = regexp.MustCompile(`^<!-- diffperf-state: (\{[^\n<>]*\}) -->$`)

// StateLine is the hidden line that carries payload, a JSON object that
// holds no line break and no angle bracket.
func StateLine(payload []byte) string {
	return statePrefix + string(payload) + " -->"
}

// stateSpan finds body's state line: the line right under the marker (the
// first line), or under the measuring line and its blank line when one is
// there. A state line anywhere else is text, not state. It returns the
// line's byte offsets and its JSON payload.
func stateSpan(body string) (start, end int, payload string, ok bool) {
	i := strings.IndexByte(body, '\n')
	if i < 0 {
		return 0, 0, "", false
	}
	start = i + 1
	if strings.HasPrefix(body[start:], MeasuringPrefix) {
		j := strings.IndexByte(body[start:], '\n')
		if j < 0 || !strings.HasPrefix(body[start+j+1:], "\n") {
			return 0, 0, "", false
		}
		start += j + 2
	}
	end = len(body)
	if j := strings.IndexByte(body[start:], '\n'); j >= 0 {
		end = start + j
	}
	m := stateLine.FindStringSubmatch(strings.TrimSuffix(body[start:end], "\r"))
	if m == nil {
		return 0, 0, "", false
	}
	return start, end, m[1], true
}

// StatePayload is the JSON object of body's state line; ok is false when
// body has none where a state line stands (see stateSpan).
func StatePayload(body string) (payload []byte, ok bool) {
	_, _, p, ok := stateSpan(body)
	if !ok {
		return nil, false
	}
	return []byte(p), true
}

// ReplaceState puts line in place of body's state line, and returns body
// unchanged when it has none.
func ReplaceState(body, line string) string {
	start, end, _, ok := stateSpan(body)
	if !ok {
		return body
	}
	return body[:start] + line + body[end:]
}
