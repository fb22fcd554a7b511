package report

import (
	"strings"
	"testing"
	"time"

	"github.com/diffperf/diffperf/internal/ghcomment/comment"
)

// TestWithMeasuringStandsUnderTheMarker: the measuring line goes right under
// the marker, replaces an earlier one there, names the commit the result
// below is for, and leaves text further down alone, even text that looks
// like a measuring or a state line.
func TestWithMeasuringStandsUnderTheMarker(t *testing.T) {
	t.Parallel()
	base, head := strings.Repeat("a", 40), strings.Repeat("b", 40)
	next := strings.Repeat("c", 40)
	since := time.Date(2026, 12, 3, 17, 40, 0, 0, time.UTC)
	marker := comment.MarkerLine("k")
	state := State{Version: 1, Base: base, Head: head, Verdict: Regression}.line()
	tail := "## result\n\n⏳ measuring quoted from a log\n" + State{Version: 1, Base: base, Head: next, Verdict: Improvement}.line() + "\n"
	body := marker + "\n" + state + "\n" + tail

	once := WithMeasuring(body, next, since)
	wantLine := "⏳ measuring `cccccccccccc` since 2026-12-03 17:40 UTC; the result below is for `bbbbbbbbbbbb`"
	if want := marker + "\n" + wantLine + "\n\n" + state + "\n" + tail; once != want {
		t.Fatalf("WithMeasuring =\n%s\nwant\n%s", once, want)
	}
	if s, ok := ParseState(once); !ok || s.Head != head {
		t.Fatalf("ParseState under the measuring line = %+v, %v; want head %s", s, ok, head)
	}
	twice := WithMeasuring(once, next, since.Add(time.Hour))
	if strings.Count(twice, comment.MeasuringPrefix) != 2 || !strings.Contains(twice, "18:40 UTC") || !strings.HasSuffix(twice, tail) {
		t.Fatalf("a second WithMeasuring did not replace the first line alone:\n%s", twice)
	}
	if s, ok := ParseState(marker + "\nintro\n" + state + "\n"); ok {
		t.Fatalf("ParseState read a state line below the header: %+v", s)
	}
}
