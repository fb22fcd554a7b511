package comment

import (
	"strings"
	"testing"
)

func TestStateLineRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		payload string
		ok      bool
	}{
		{"second line", MarkerLine("k") + "\n" + StateLine([]byte(`{"v":1}`)) + "\nrest", `{"v":1}`, true},
		{"none", MarkerLine("k") + "\nrest", "", false},
		{"not at a line start", "x " + StateLine([]byte(`{"v":1}`)), "", false},
		{"an angle bracket inside", MarkerLine("k") + "\n" + StateLine([]byte(`{"v":"<"}`)), "", false},
		{"under a measuring line", MarkerLine("k") + "\n" + MeasuringPrefix + "abc\n\n" + StateLine([]byte(`{"v":1}`)) + "\nrest", `{"v":1}`, true},
		{"CRLF", MarkerLine("k") + "\r\n" + StateLine([]byte(`{"v":1}`)) + "\r\nrest", `{"v":1}`, true},
		{"last line", MarkerLine("k") + "\n" + StateLine([]byte(`{"v":1}`)), `{"v":1}`, true},
		{"further down, as text", MarkerLine("k") + "\nintro\n" + StateLine([]byte(`{"v":1}`)) + "\nrest", "", false},
		{"the first line", StateLine([]byte(`{"v":1}`)) + "\nrest", "", false},
		{"measuring line without its blank line", MarkerLine("k") + "\n" + MeasuringPrefix + "abc\n" + StateLine([]byte(`{"v":1}`)), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := StatePayload(tt.body)
			if ok != tt.ok || string(got) != tt.payload {
				t.Fatalf("StatePayload = %q, %v; want %q, %v", got, ok, tt.payload, tt.ok)
			}
		})
	}
}

func TestReplaceStateKeepsTheRest(t *testing.T) {
	t.Parallel()
	body := MarkerLine("k") + "\n" + StateLine([]byte(`{"v":1}`)) + "\nrest\n"
	got := ReplaceState(body, StateLine([]byte(`{"v":2}`)))
	if want := MarkerLine("k") + "\n" + StateLine([]byte(`{"v":2}`)) + "\nrest\n"; got != want {
		t.Fatalf("ReplaceState = %q, want %q", got, want)
	}
	further := MarkerLine("k") + "\nintro\n" + StateLine([]byte(`{"v":1}`)) + "\n"
	if got := ReplaceState(further, StateLine([]byte(`{"v":2}`))); got != further {
		t.Fatalf("ReplaceState changed a state line that is text: %q", got)
	}
}

func TestMarkerLineIsTheFirstLine(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"flux-h100", "a --> b", "", "x\ny"} {
		line := MarkerLine(key)
		if FirstLine(line+"\r\nbody") != line || strings.Count(line, "-->") != 1 {
			t.Errorf("MarkerLine(%q) = %q: not one closed first line", key, line)
		}
	}
}
