package report

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func profiledResult(name string) *Result {
	r := Compare(side([]float64{1000, 1010, 1005, 995, 1002}, 0), side([]float64{1100, 1110, 1105, 1095, 1102}, 0), DefaultOptions())
	r.AttachProfile(&Profile{
		Base: ProfileSide{Trace: "profile-base/a.trace.json.gz", Steps: 5}, Head: ProfileSide{Trace: "profile-head/a.trace.json.gz", Steps: 5},
		Rows:   []ProfileRow{{Name: name, Class: "increased", BaseUs: 1000, ChangeUs: 500, HeadUs: 1500, Rel: 0.5, BaseCalls: 1, HeadCalls: 1}},
		Counts: map[string]int{"increased": 1}, BaseUs: 1000, HeadUs: 1500, ChangeUs: 500,
	})
	return r
}

// TestProfileSectionEscapesNames: a kernel name is untrusted text; it
// cannot break the table, ping anyone or open HTML.
func TestProfileSectionEscapesNames(t *testing.T) {
	t.Parallel()
	out := Markdown(profiledResult("evil | </details> @team #1 <img src=x>"), RenderOptions{})
	_, sec, ok := strings.Cut(out, "<summary>"+ProfileTitle+"</summary>")
	if !ok {
		t.Fatalf("no profile section:\n%s", out)
	}
	sec, _, _ = strings.Cut(sec, "</details>")
	for _, bad := range []string{"evil |", "<img", "@team", "#1 "} {
		if strings.Contains(sec, bad) {
			t.Errorf("section holds %q unescaped:\n%s", bad, sec)
		}
	}
	for _, line := range strings.Split(sec, "\n") {
		if strings.HasPrefix(line, "| evil") && cellCount(line) != 5 {
			t.Errorf("row has %d cells, want 5: %q", cellCount(line), line)
		}
	}
}

// TestProfileSectionDroppedFirst: when the comment is too long, the
// profile section goes before any other collapsed section.
func TestProfileSectionDroppedFirst(t *testing.T) {
	t.Parallel()
	r := profiledResult("gemm")
	full := Markdown(r, RenderOptions{Marker: "m"})
	out := Markdown(r, RenderOptions{Marker: "m", MaxChars: utf8.RuneCountInString(full) - 10})
	if strings.Contains(out, ProfileTitle+"</summary>") || !strings.Contains(out, "Left out to stay within") || !strings.Contains(out, ProfileTitle) {
		t.Errorf("profile section not dropped first, or not named as dropped:\n%s", out)
	}
	if !strings.Contains(out, "<summary>Metadata</summary>") {
		t.Errorf("another section was dropped before the profile:\n%s", out)
	}
}

// TestProfileJSONRoundTrip: result.json keeps the profile, and reading it
// back (compare OUT) gives the same.
func TestProfileJSONRoundTrip(t *testing.T) {
	t.Parallel()
	r := profiledResult("gemm")
	b, err := MarshalJSON(r)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || raw["profile"] == nil {
		t.Fatalf("no profile in the JSON: %v\n%s", err, b)
	}
	back, err := ParseJSON("result.json", b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r.Profile, back.Profile); diff != "" {
		t.Errorf("profile after a round trip (-want +got):\n%s", diff)
	}
}
