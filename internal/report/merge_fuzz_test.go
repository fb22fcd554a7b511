package report

import (
	"regexp"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/ghcomment/comment"
)

// ownTags are the HTML the merged renderer writes itself: its marker, and
// the folds of details and log tails.
var ownTags = []string{"<details open>", "<details>", "</details>", "<summary>", "</summary>", "<pre>", "</pre>"}

// tagStart is where HTML would begin: '<' before a letter, '/', '!' or
// '?'. The renderer's own "p < 0.7" is text, not a tag.
var tagStart = regexp.MustCompile(`<[A-Za-z/!?]`)

// FuzzMergedMarkdown: whatever text a cell's result.json brings (case
// name, model, reason, log tail, notes, GPU name, and the fields diffperf
// itself would only ever fill with known words: a metric's unit and
// samples, a launch's side), the merged Markdown opens no tag ('<' before a
// letter, '/', '!' or '?') outside the renderer's own, so no raw HTML of a cell reaches the comment.
func FuzzMergedMarkdown(f *testing.F) {
	f.Add("flux", "<img src=x onerror=alert(1)>", "@octocat <b>x</b>", "ms", "requests", "base")
	f.Add("a<b", "<!-- diffperf:x -->", "</details><details>", "<img src=https://evil.example/x.png>", "@org/team", "<script>")
	f.Fuzz(func(t *testing.T, name, text, tail, unit, samples, side string) {
		r := e2eOnly(Regression, 0.001, 1000, 1200)
		r.Model, r.Prompt, r.Reason, r.Notes = text, text, text, []string{text}
		r.Env = &dump.Environment{Before: []dump.GPU{{Name: text}}, Host: text, Note: text}
		for i := range r.Metrics {
			r.Metrics[i].Unit, r.Metrics[i].Samples, r.Metrics[i].Name = unit, samples, text
		}
		r.Launches = []Launch{{Side: side, Launch: 1, Requests: 2, MedianMs: 1000}}
		failed := e2eOnly(NoChange, 1, 1000, 1000)
		failed.Fail(dump.Failure{Side: side, Run: 1, Reason: text, LogTail: tail})
		m, err := Merge([]CaseResult{{Name: name, Source: text, Result: r}, {Name: name + "-2", Source: tail, Result: failed}}, nil, 0.05)
		if err != nil {
			return
		}
		out := MarkdownMerged(m, RenderOptions{Marker: "fuzz", MaxChars: 60000})
		rest := strings.Replace(out, comment.MarkerLine("fuzz"), "", 1)
		for _, tag := range ownTags {
			rest = strings.ReplaceAll(rest, tag, "")
		}
		if loc := tagStart.FindStringIndex(rest); loc != nil {
			i := loc[0]
			t.Fatalf("a tag outside the renderer's own: %q", rest[max(0, i-40):min(len(rest), i+40)])
		}
	})
}
