package bisect

import (
	"context"
	"crypto/sha1"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/protocol"
	"github.com/diffperf/diffperf/internal/report"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// scripted measures commits whose true E2E medians are a table: each
// comparison runs protocol.Decide over a sampler that draws each run from
// the commit's true value with 0.5 % seeded noise, plus drift ms for each
// comparison made before. Each comparison advances the clock by a minute.
type scripted struct {
	truth map[string]float64
	fail  map[string]bool // commits whose runs fail (a build that breaks)
	drift float64
	calls []string // "a..b" of each comparison, in order
	now   time.Time
}

func (s *scripted) Compare(ctx context.Context, a, b string, plan protocol.Plan) (*report.Result, error) {
	n := len(s.calls)
	s.calls = append(s.calls, a+".."+b)
	s.now = s.now.Add(time.Minute)
	smp := &sampler{s: s, shas: [2]string{a, b}, offset: s.drift * float64(n), rng: rand.New(rand.NewPCG(uint64(n), 7)), runs: map[string]*[2][]dump.Run{}}
	return protocol.Decide(ctx, smp, plan), nil
}

type sampler struct {
	s      *scripted
	shas   [2]string
	offset float64
	rng    *rand.Rand
	runs   map[string]*[2][]dump.Run
	order  int
}

func (p *sampler) Pair(_ context.Context, batch string) *dump.Failure {
	sides := p.runs[batch]
	if sides == nil {
		sides = &[2][]dump.Run{}
		p.runs[batch] = sides
	}
	for i, name := range []string{"base", "head"} {
		sha := p.shas[i]
		if p.s.fail[sha] {
			return &dump.Failure{Side: name, Run: len(sides[i]) + 1, Reason: fmt.Sprintf("run %d of %s: exit status 1 (a build failure)", len(sides[i])+1, name)}
		}
		v := (p.s.truth[sha] + p.offset) * (1 + 0.005*(2*p.rng.Float64()-1))
		p.order++
		d := &dump.Dump{Name: fmt.Sprintf("%s-%02d.json", name, len(sides[i])+1), TotalMs: v,
			Stages: []dump.Stage{{Name: "TextEncodingStage", DurationMs: 2}, {Name: "DenoisingStage", DurationMs: v - 7}, {Name: "DecodingStage", DurationMs: 5}}}
		sides[i] = append(sides[i], dump.Run{Index: len(sides[i]) + 1, Order: p.order, Dump: d})
	}
	return nil
}

func (p *sampler) Sides(batch string) (base, head dump.Side) {
	sides := p.runs[batch]
	if sides == nil {
		sides = &[2][]dump.Run{}
	}
	return dump.Side{Label: "Baseline", SHA: p.shas[0], Runs: sides[0]}, dump.Side{Label: "New", SHA: p.shas[1], Runs: sides[1]}
}

func (p *sampler) Expect(int)  {}
func (p *sampler) Step(string) {}

// rangeOf is a range of n commits after good; commit i (from 1) has true
// value values(i), good values(0).
func rangeOf(n int, values func(i int) float64) (Range, map[string]float64) {
	truth := map[string]float64{}
	sha := func(i int) string { return fmt.Sprintf("%x", sha1.Sum([]byte{byte(i)})) }
	r := Range{Good: Commit{SHA: sha(0), Subject: "good", Author: "A", Date: "2026-01-01T00:00:00Z"}}
	truth[sha(0)] = values(0)
	for i := 1; i <= n; i++ {
		r.Commits = append(r.Commits, Commit{SHA: sha(i), Subject: fmt.Sprintf("commit %d", i), Author: "A", Date: "2026-01-01T00:00:00Z"})
		truth[sha(i)] = values(i)
	}
	return r, truth
}

func plan() protocol.Plan {
	return protocol.Plan{Runs: 5, MaxRuns: 10, Confirm: true, Options: report.Options{ThresholdPct: 1, MinDeltaMs: 1, MemoryThresholdPct: 2, Alpha: 0.05}}
}

// step is a true value of 200 ms up to commit k-1 and 210 ms (+5 %) from k.
func step(k int) func(int) float64 {
	return func(i int) float64 {
		if i >= k {
			return 210
		}
		return 200
	}
}

func run(t *testing.T, r Range, s *scripted) (*Result, []string, error) {
	t.Helper()
	s.now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var lines []string
	res, err := Run(t.Context(), s, r, Options{Plan: plan(), Now: func() time.Time { return s.now }, Progress: func(l string) { lines = append(lines, l) }})
	return res, lines, err
}

// TestCulpritAtK: a +5 % step at commit k of n is found at k, confirmed
// against its parent, in at most ⌈log2 n⌉ steps.
func TestCulpritAtK(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, k int }{{1, 1}, {2, 1}, {2, 2}, {3, 2}, {8, 1}, {8, 5}, {8, 8}, {9, 6}, {17, 12}, {17, 2}, {33, 20}} {
		t.Run(fmt.Sprintf("%d of %d", tc.k, tc.n), func(t *testing.T) {
			t.Parallel()
			r, truth := rangeOf(tc.n, step(tc.k))
			res, _, err := run(t, r, &scripted{truth: truth})
			if err != nil {
				t.Fatal(err)
			}
			if res.Culprit == nil || res.Culprit.SHA != r.Commits[tc.k-1].SHA {
				t.Fatalf("culprit %+v, want commit %d; notes %q", res.Culprit, tc.k, res.Notes)
			}
			if !res.Confirmed || res.Confirmation == nil || res.Confirmation.Confirmation == nil {
				t.Errorf("confirmed %v, confirmation %+v: want one confirmed by a second batch", res.Confirmed, res.Confirmation)
			}
			if res.LastGood.SHA != r.Range().at(tc.k-1).SHA {
				t.Errorf("last good %s, want the culprit's parent", res.LastGood.SHA)
			}
			if max := stepsFor(tc.n); len(res.Steps) > max {
				t.Errorf("%d steps, want at most %d", len(res.Steps), max)
			}
			if res.Direction != report.Regression {
				t.Errorf("direction %s, want regression", res.Direction)
			}
			if c := res.Change(); c == nil || c.DeltaPct < 4 || c.DeltaPct > 6 {
				t.Errorf("change %+v, want about +5 %%", c)
			}
		})
	}
}

// at is commit i of the range, 0 being good.
func (r Range) at(i int) Commit {
	if i == 0 {
		return r.Good
	}
	return r.Commits[i-1]
}

// Range returns r itself (a helper for the tests' readability).
func (r Range) Range() Range { return r }

// TestImprovement: a faster commit is found the same way.
func TestImprovement(t *testing.T) {
	t.Parallel()
	r, truth := rangeOf(8, func(i int) float64 {
		if i >= 3 {
			return 190
		}
		return 200
	})
	res, _, err := run(t, r, &scripted{truth: truth})
	if err != nil {
		t.Fatal(err)
	}
	if res.Direction != report.Improvement || res.Culprit == nil || res.Culprit.SHA != r.Commits[2].SHA || !res.Confirmed {
		t.Fatalf("direction %s, culprit %+v, confirmed %v: want commit 3, a confirmed improvement", res.Direction, res.Culprit, res.Confirmed)
	}
}

// TestSkip: a commit that cannot be measured is skipped, as git bisect
// skip does. Right after the culprit the culprit is still found; right
// before it, the first bad commit is one of the two.
func TestSkip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		broken         int
		wantCulprit    int // 0: none
		wantCandidates []int
	}{
		{"after the culprit", 6, 5, nil},
		{"at the midpoint, far from the culprit", 4, 7, nil},
		{"before the culprit", 4, 0, []int{4, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := 5
			if tt.wantCulprit != 0 {
				k = tt.wantCulprit
			}
			r, truth := rangeOf(8, step(k))
			s := &scripted{truth: truth, fail: map[string]bool{r.Commits[tt.broken-1].SHA: true}}
			res, _, err := run(t, r, s)
			if err != nil {
				t.Fatal(err)
			}
			var skipped []int
			for _, st := range res.Steps {
				if st.State == Skip {
					skipped = append(skipped, st.Index)
				}
			}
			if diff := cmp.Diff([]int{tt.broken}, skipped); diff != "" {
				t.Errorf("skipped steps (-want +got):\n%s", diff)
			}
			if tt.wantCulprit != 0 {
				if res.Culprit == nil || res.Culprit.SHA != r.Commits[tt.wantCulprit-1].SHA || !res.Confirmed {
					t.Fatalf("culprit %+v (confirmed %v), want commit %d", res.Culprit, res.Confirmed, tt.wantCulprit)
				}
				return
			}
			if res.Culprit != nil {
				t.Fatalf("culprit %s, want none: the commit before it could not be measured", res.Culprit.SHA)
			}
			var got []int
			for _, c := range res.Candidates {
				got = append(got, r.Index(c.SHA))
			}
			if diff := cmp.Diff(tt.wantCandidates, got); diff != "" {
				t.Errorf("candidates (-want +got):\n%s", diff)
			}
			if !res.Confirmed || res.LastGood.SHA != r.Commits[2].SHA {
				t.Errorf("confirmed %v against %s: want the first bad commit confirmed against the last good one, commit 3", res.Confirmed, res.LastGood.SHA)
			}
			md := Markdown(res, RenderOptions{})
			if !strings.Contains(md, "one of 2 commits") || !strings.Contains(md, "| skip |") {
				t.Errorf("the report does not say the change is in one of 2 commits, with the skip:\n%s", md)
			}
		})
	}
}

// TestAmbiguousMidpoint: a midpoint halfway up a change differs from both
// good and bad; it is measured again with max-runs pairs, then taken for
// the side its median is nearer and marked ambiguous, and the report says
// that the range held more than one change.
func TestAmbiguousMidpoint(t *testing.T) {
	t.Parallel()
	r, truth := rangeOf(8, func(i int) float64 {
		switch {
		case i >= 5:
			return 210
		case i == 4:
			return 206 // two changes: +3 % at 4, +2 % at 5
		}
		return 200
	})
	s := &scripted{truth: truth}
	res, _, err := run(t, r, s)
	if err != nil {
		t.Fatal(err)
	}
	st := res.Steps[0]
	if st.Index != 4 || st.State != Ambiguous || st.As != Bad {
		t.Fatalf("step 1: commit %d %s as %s, want commit 4 ambiguous, taken as bad (206 is nearer 210 than 200)", st.Index, st.State, st.As)
	}
	if got := len(st.VsGood.Base.Runs); got != 10 {
		t.Errorf("the ambiguous step's last comparison took %d runs a side, want max-runs (10)", got)
	}
	// good..bad, then commit 4 against good and bad twice (5 then 10 pairs).
	if diff := cmp.Diff([]string{r.Good.SHA + ".." + r.Commits[7].SHA,
		r.Good.SHA + ".." + r.Commits[3].SHA, r.Commits[3].SHA + ".." + r.Commits[7].SHA,
		r.Good.SHA + ".." + r.Commits[3].SHA, r.Commits[3].SHA + ".." + r.Commits[7].SHA}, s.calls[:5]); diff != "" {
		t.Errorf("comparisons (-want +got):\n%s", diff)
	}
	if res.Culprit == nil || res.Culprit.SHA != r.Commits[3].SHA || !res.Confirmed {
		t.Fatalf("culprit %+v (confirmed %v), want commit 4", res.Culprit, res.Confirmed)
	}
	notes := strings.Join(res.Notes, "\n")
	if !strings.Contains(notes, "differs from both") || !strings.Contains(notes, "more than one change") {
		t.Errorf("notes %q: want the midpoint that differs from both and the range's second change", res.Notes)
	}
	if md := Markdown(res, RenderOptions{}); !strings.Contains(md, "ambiguous (taken as bad)") {
		t.Errorf("the report does not mark the ambiguous step:\n%s", md)
	}
}

// TestDrift: every comparison is 1 ms slower than the one before (a GPU
// warming up). Each step measures good and bad afresh, so the steps
// table shows the drift, and the culprit is still found because good and
// midpoint drift together.
func TestDrift(t *testing.T) {
	t.Parallel()
	r, truth := rangeOf(16, step(11))
	res, _, err := run(t, r, &scripted{truth: truth, drift: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Culprit == nil || res.Culprit.SHA != r.Commits[10].SHA {
		t.Fatalf("culprit %+v, want commit 11", res.Culprit)
	}
	j := ToJSON(res, "")
	if len(j.Steps) < 3 {
		t.Fatalf("%d steps, want 4", len(j.Steps))
	}
	for i := 1; i < len(j.Steps); i++ {
		if *j.Steps[i].GoodMedian <= *j.Steps[i-1].GoodMedian+1 {
			t.Errorf("step %d's good median %.2f is not above step %d's %.2f: the drift does not show", i+1, *j.Steps[i].GoodMedian, i, *j.Steps[i-1].GoodMedian)
		}
	}
}

// TestNoChange: good and bad do not differ: no culprit, and no commit in
// between is measured.
func TestNoChange(t *testing.T) {
	t.Parallel()
	r, truth := rangeOf(8, func(int) float64 { return 200 })
	s := &scripted{truth: truth}
	res, _, err := run(t, r, s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Culprit != nil || len(res.Candidates) > 0 || res.Direction != report.NoChange || len(s.calls) != 1 {
		t.Fatalf("culprit %+v, candidates %d, direction %s after %d comparisons: want no culprit after one", res.Culprit, len(res.Candidates), res.Direction, len(s.calls))
	}
	if md := Markdown(res, RenderOptions{}); !strings.Contains(md, "no culprit: good and bad do not differ") {
		t.Errorf("the report does not say so:\n%s", md)
	}
}

// TestGoodFails: the good commit fails to run: not a skip but an error,
// with what was measured.
func TestGoodFails(t *testing.T) {
	t.Parallel()
	r, truth := rangeOf(4, step(2))
	res, _, err := run(t, r, &scripted{truth: truth, fail: map[string]bool{r.Good.SHA: true}})
	if !errors.Is(err, ErrMeasure) || !strings.Contains(err.Error(), "good commit") {
		t.Fatalf("error %v, want ErrMeasure naming the good commit", err)
	}
	if res == nil || res.Initial == nil || res.Initial.Verdict != report.Failed {
		t.Errorf("result %+v: want the failed first comparison kept", res)
	}
}

// TestProgress: a line per step, with step k of about log2 N, the commit,
// the runs so far and, from the second step, an ETA from the clock.
func TestProgress(t *testing.T) {
	t.Parallel()
	r, truth := rangeOf(8, step(5))
	_, lines, err := run(t, r, &scripted{truth: truth})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		"bisect: 8 first-parent commits after " + short(r.Good.SHA) + " up to " + short(r.Commits[7].SHA) + ": about 3 steps",
		"bisect: step 1 of about 3: " + short(r.Commits[3].SHA) + " (commit 4 of 8), 10 runs so far\n",
		"bisect: step 2 of about 3: " + short(r.Commits[5].SHA) + " (commit 6 of 8), 30 runs so far, ETA 6m0s",
	} {
		if !strings.Contains(all+"\n", want) {
			t.Errorf("no line %q in:\n%s", want, all)
		}
	}
}

func TestPRNumber(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		subject string
		want    int
	}{
		{"Fix the VAE tiling (#1234)", 1234},
		{"Merge pull request #77 from a/b", 77},
		{"Refer to #12 in the middle", 0},
		{"(#5) at the start", 0},
		{"plain", 0},
	} {
		t.Run(tt.subject, func(t *testing.T) {
			t.Parallel()
			if got := PRNumber(tt.subject); got != tt.want {
				t.Errorf("PRNumber(%q) = %d, want %d", tt.subject, got, tt.want)
			}
		})
	}
}

func TestWithIssueBlock(t *testing.T) {
	t.Parallel()
	block := IssueBlockStart + "\nnew\n" + IssueBlockEnd
	for _, tt := range []struct{ name, body, want string }{
		{"appended", "issue text", "issue text\n\n" + block + "\n"},
		{"appended to an empty body", "", block + "\n"},
		{"replaced", "a\n\n" + IssueBlockStart + "\nold\n" + IssueBlockEnd + "\nb", "a\n\n" + block + "\nb"},
		{"an unclosed block is left, the new one appended", "a " + IssueBlockStart + " b", "a " + IssueBlockStart + " b\n\n" + block + "\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := WithIssueBlock(tt.body, block)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if again := WithIssueBlock(got, block); again != got {
				t.Errorf("a second run changed the body: %q", again)
			}
		})
	}
}

// TestGolden: the Markdown and JSON of a bisection with a skipped commit,
// hostile commit text and a confirmed culprit. Run with -update to
// rewrite them.
func TestGolden(t *testing.T) {
	t.Parallel()
	r, truth := rangeOf(8, step(5))
	r.Commits[4].Subject = "Speed up | <b>VAE</b> @everyone #1 $x$ (#42)"
	r.Commits[4].Author = "Mallory <script> | *x*"
	r.Commits[4].PR = PRNumber(r.Commits[4].Subject)
	res, _, err := run(t, r, &scripted{truth: truth, fail: map[string]bool{r.Commits[5].SHA: true}})
	if err != nil {
		t.Fatal(err)
	}
	const repro = "diffperf bisect --good good --bad bad --runs 5"
	md := Markdown(res, RenderOptions{Reproduce: repro})
	js, err := MarshalJSON(res, repro)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<b>", "<script>", "@everyone", "#1 ", "| <", "$x$"} {
		if strings.Contains(md, bad) {
			t.Errorf("the Markdown holds %q unescaped", bad)
		}
	}
	golden(t, "report.md.golden", md)
	golden(t, "report.json.golden", string(js))
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}
