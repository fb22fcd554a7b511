package command

import (
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/report"
)

// countingDoc counts the renders of a document, by options.
type countingDoc struct {
	report.Document
	n map[report.RenderOptions]int
}

func (c *countingDoc) Render(opt report.RenderOptions) string {
	c.n[opt]++
	return c.Document.Render(opt)
}

// TestRendersOncePerLimit: the file, the summary, the comment and the
// comment's retry at half the size each render the document once,
// however often they are asked, and none of them holds a secret.
func TestRendersOncePerLimit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		doc  report.Document
	}{
		{"result", &report.Result{Verdict: report.Failed, Reason: "the benchmark printed tok-s3cr3t"}},
		{"merged", func() report.Document {
			m, err := report.Merge([]report.CaseResult{{Name: "flux", Result: &report.Result{Verdict: report.Failed, Reason: "tok-s3cr3t"}}}, nil, 0.05)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &countingDoc{Document: tt.doc, n: map[report.RenderOptions]int{}}
			rs := newRenders(c, []string{"tok-s3cr3t"})
			opts := []report.RenderOptions{{Marker: "k", MaxChars: 1 << 30}, {Marker: "k", MaxChars: maxSummaryBytes / 4},
				{Marker: "k", MaxChars: 65536, State: true}, {Marker: "k", MaxChars: 32768, State: true}}
			for range 3 {
				for _, o := range opts {
					if md := rs.at(o); strings.Contains(md, "tok-s3cr3t") || !strings.Contains(md, "<!-- diffperf:k -->") {
						t.Fatalf("render %+v: secret present or marker missing:\n%s", o, md)
					}
				}
			}
			for _, o := range opts {
				if c.n[o] != 1 {
					t.Errorf("%+v rendered %d times, want once", o, c.n[o])
				}
			}
		})
	}
}
