package report

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAcceptMatchesTheAcceptedReport: accepting a rendered regression from
// its comment alone gives the very comment an accepted result renders.
func TestAcceptMatchesTheAcceptedReport(t *testing.T) {
	t.Parallel()
	r := withContext(severalRuns(t))
	r.Base.SHA, r.Head.SHA = "a10a24e9a7fdc0ddcc7dc3e90c0d4983707db028", "8e8c1ccc065f520f2f9eff69cfa287dd279e59b4"
	if r.Verdict != Regression {
		t.Fatalf("verdict %s, want a regression to accept", r.Verdict)
	}
	opt := RenderOptions{Marker: "flux-h100", State: true}
	body := Markdown(r, opt)
	got, err := Accept(body, "perf-ok <b>")
	if err != nil {
		t.Fatal(err)
	}
	r.Accepted, r.AcceptLabel = true, "perf-ok <b>"
	if diff := cmp.Diff(Markdown(r, opt), got); diff != "" {
		t.Errorf("Accept (-rendered accepted +accepted from the comment):\n%s", diff)
	}
	s, ok := ParseState(got)
	if !ok || !s.Accepted || s.Head != r.Head.SHA || s.Base != r.Base.SHA || s.Verdict != Regression {
		t.Errorf("state after Accept = %+v, %v", s, ok)
	}
	if _, err := Accept(got, "x"); err == nil {
		t.Error("a comment accepted twice")
	}
}

func TestParseState(t *testing.T) {
	t.Parallel()
	good := `<!-- diffperf-state: {"v":1,"base":"abc1234","head":"def5678","verdict":"regression"} -->`
	for _, tt := range []struct {
		name, body string
		ok         bool
	}{
		{"second line", "<!-- diffperf:k -->\n" + good + "\n## ...", true},
		{"none", "<!-- diffperf:k -->\n## ❌ diffperf: regression", false},
		{"SHA not hex", strings.Replace(good, "abc1234", "main~1", 1), false},
		{"another version", strings.Replace(good, `"v":1`, `"v":2`, 1), false},
		{"inside a line", "text " + good, false},
		{"not JSON", "<!-- diffperf-state: {v:1} -->", false},
	} {
		if _, ok := ParseState(tt.body); ok != tt.ok {
			t.Errorf("%s: ok = %v, want %v", tt.name, ok, tt.ok)
		}
	}
	if _, err := Accept("<!-- diffperf:k -->\n"+strings.Replace(good, "regression", "no-change", 1), "l"); err == nil {
		t.Error("Accept took a no-change comment")
	}
}
