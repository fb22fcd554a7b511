package history

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dumpfmt "github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/report"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 6, 30, 23, 0, 0, 0, time.UTC)

func TestFromResultGenerate(t *testing.T) {
	t.Parallel()
	r := genResult(t, sha(1), sha(2), 1000, 1010, 3, t0)
	ct := time.Date(2026, 6, 29, 8, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	ls, err := FromResult(r, Meta{Key: "flux/h100", CommitTimes: map[string]time.Time{sha(2): ct}, Version: "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 {
		t.Fatalf("%d lines, want base and head", len(ls))
	}
	base, head := ls[0], ls[1]
	type ident struct{ Side, Commit, Parent, CommitTime, RunTime, Mode, Key, Name, Version string }
	got := []ident{}
	for _, l := range ls {
		got = append(got, ident{l.Side, l.Commit, l.Parent, l.CommitTime, l.RunTime, l.Mode, l.Case.Key, l.Case.Name, l.Diffperf})
	}
	// The run time is the newest dump's timestamp (the third run, t0+3s).
	want := []ident{
		{SideBase, sha(1), "", "", "2026-06-30T23:00:03Z", "generate", "flux_h100", "flux", "v1.2.3"},
		{SideHead, sha(2), sha(1), "2026-06-29T06:00:00Z", "2026-06-30T23:00:03Z", "generate", "flux_h100", "flux", "v1.2.3"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("lines (-want +got):\n%s", d)
	}
	wantEnv := Environment{GPU: "NVIDIA H100 80GB HBM3", GPUCount: 1, Driver: "550.90.07", Host: "linux/amd64, 16 CPUs"}
	if d := cmp.Diff(wantEnv, head.Environment); d != "" {
		t.Errorf("environment (-want +got):\n%s", d)
	}
	if head.N != 3 || head.Batch != 1 || head.Schema != Schema {
		t.Errorf("n %d, batch %d, schema %q", head.N, head.Batch, head.Schema)
	}
	e2e := head.Metric(report.MetricE2E)
	if e2e == nil {
		t.Fatal("no e2e metric")
	}
	wantE2E := Metric{ID: "e2e", Name: "E2E Latency", Unit: "ms", Per: PerRun,
		Samples: []Sample{{Value: 1011, Run: 1}, {Value: 1012, Run: 2}, {Value: 1013, Run: 3}}}
	if d := cmp.Diff(wantE2E, *e2e); d != "" {
		t.Errorf("e2e (-want +got):\n%s", d)
	}
	for _, id := range []string{"stage:TextEncodingStage", "stage:DenoisingStage", report.MetricStepMedian, report.MetricPeakAllocated} {
		m := base.Metric(id)
		if m == nil || len(m.Samples) != 3 || m.Samples[2].Run != 3 {
			t.Errorf("base metric %s: %+v, want 3 samples with their runs", id, m)
		}
	}
	if m := base.Metric("stage:DenoisingStage"); m != nil && m.Samples[0].Value != 701 {
		t.Errorf("base DenoisingStage run 1 = %v, want 701", m.Samples[0].Value)
	}
	if got := File(&head); got != "history/flux_h100/2026-06.jsonl" {
		t.Errorf("file %q", got)
	}
}

func TestFromResultConfirmationIsBatchTwo(t *testing.T) {
	t.Parallel()
	r := genResult(t, sha(1), sha(2), 1000, 1100, 3, t0)
	r.Confirmation = genResult(t, sha(1), sha(2), 1000, 1100, 4, t0.Add(time.Minute))
	ls, err := FromResult(r, Meta{RunTime: t0})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range ls {
		got = append(got, l.Side+" "+string(rune('0'+l.Batch))+" n="+string(rune('0'+l.N)))
	}
	if d := cmp.Diff([]string{"base 1 n=3", "head 1 n=3", "base 2 n=4", "head 2 n=4"}, got); d != "" {
		t.Errorf("lines (-want +got):\n%s", d)
	}
	if ls[0].Case.Key != "flux" {
		t.Errorf("default key %q, want the case's name", ls[0].Case.Key)
	}
}

// A warm-server result whose launches differ: e2e keeps every request
// with its launch, the other metrics are the launch medians the result
// judged, and a known load time is kept per launch.
func TestFromResultServe(t *testing.T) {
	t.Parallel()
	side := func(sha string, name string, base float64) dumpfmt.Side {
		s := dumpfmt.Side{SHA: sha}
		i := 0
		for launch := 1; launch <= 2; launch++ {
			for req := 1; req <= 3; req++ {
				i++
				v := base + float64(launch-1)*100 + float64(req)
				s.Runs = append(s.Runs, dumpfmt.Run{Index: i, Order: i, Launch: launch, Request: req,
					Dump: dump(t, name, "", t0.Format(time.RFC3339Nano), v)})
			}
		}
		return s
	}
	r := roundTrip(t, report.Compare(side(sha(1), "b.json", 1000), side(sha(2), "h.json", 1000), report.DefaultOptions()))
	ls, err := FromResult(r, Meta{Key: "serve", LoadMs: map[string]map[int]float64{SideHead: {2: 1500}}})
	if err != nil {
		t.Fatal(err)
	}
	head := ls[1]
	if head.Mode != "serve" || head.N != 6 {
		t.Errorf("mode %q n %d, want serve 6", head.Mode, head.N)
	}
	load := 1500.0
	if d := cmp.Diff([]Launch{{Launch: 1}, {Launch: 2, LoadMs: &load}}, head.Launches); d != "" {
		t.Errorf("launches (-want +got):\n%s", d)
	}
	e2e := head.Metric(report.MetricE2E)
	if e2e.Per != PerRequest || len(e2e.Samples) != 6 || e2e.Samples[4] != (Sample{Value: 1102, Run: 5, Launch: 2}) {
		t.Errorf("e2e %+v, want 6 requests with their launches", e2e)
	}
	stage := head.Metric("stage:DenoisingStage")
	if stage == nil {
		t.Fatal("no DenoisingStage")
	}
	want := Metric{ID: "stage:DenoisingStage", Name: "DenoisingStage", Unit: "ms", Per: PerLaunch,
		Samples: []Sample{{Value: 702, Launch: 1}, {Value: 802, Launch: 2}}}
	if d := cmp.Diff(want, *stage); d != "" {
		t.Errorf("stage (-want +got):\n%s", d)
	}
}

// TestFromResultServeLoadFromTheRun: the launches' load times that the run
// measured reach the lines through result.json, with no Meta.LoadMs.
func TestFromResultServeLoadFromTheRun(t *testing.T) {
	t.Parallel()
	side := func(sha, name string, load float64) dumpfmt.Side {
		s := dumpfmt.Side{SHA: sha}
		for i := 1; i <= 4; i++ {
			launch := (i + 1) / 2
			s.Runs = append(s.Runs, dumpfmt.Run{Index: i, Order: i, Launch: launch, Request: 2 - i%2, LoadMs: load * float64(launch),
				Dump: dump(t, name, "", t0.Format(time.RFC3339Nano), 1000+float64(i))})
		}
		return s
	}
	r := roundTrip(t, report.Compare(side(sha(1), "b.json", 2000), side(sha(2), "h.json", 3000), report.DefaultOptions()))
	ls, err := FromResult(r, Meta{Key: "serve"})
	if err != nil {
		t.Fatal(err)
	}
	l1, l2, l3 := 3000.0, 6000.0, 2000.0
	if d := cmp.Diff([]Launch{{Launch: 1, LoadMs: &l1}, {Launch: 2, LoadMs: &l2}}, ls[1].Launches); d != "" {
		t.Errorf("head's launches (-want +got):\n%s", d)
	}
	if len(ls[0].Launches) != 2 || ls[0].Launches[0].LoadMs == nil || *ls[0].Launches[0].LoadMs != l3 {
		t.Errorf("base's launches %+v, want launch 1 loaded in 2000 ms", ls[0].Launches)
	}
}

func TestFromResultErrors(t *testing.T) {
	t.Parallel()
	noSHA := genResult(t, "", sha(2), 1000, 1000, 3, t0)
	noTime := genResult(t, sha(1), sha(2), 1000, 1000, 3, t0)
	for _, s := range []*dumpfmt.Side{&noTime.Base, &noTime.Head} {
		for _, run := range s.Runs {
			run.Dump.Timestamp = ""
		}
	}
	for _, tc := range []struct {
		name string
		r    *report.Result
		meta Meta
		want string
	}{
		{"no commit", noSHA, Meta{}, "base side names no commit"},
		{"no run time", noTime, Meta{}, "no run time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := FromResult(tc.r, tc.meta)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestKeyDir(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"flux-h100", "flux-h100"},
		{"black-forest-labs/FLUX.1-dev", "black-forest-labs_FLUX.1-dev"},
		{"..", "_."},
		{".hidden", "_hidden"},
		{"a b\nc", "a_b_c"},
		{"", "default"},
		{"été", "_t_"},
		{strings.Repeat("x", 300), strings.Repeat("x", 200)},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			if got := KeyDir(tc.in); got != tc.want {
				t.Errorf("KeyDir(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestAppendReadRoundTrip(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir()}
	june := lines(t, "flux", 1, 2, t0)
	july := lines(t, "flux", 2, 3, t0.Add(2*time.Hour)) // 2026-07-01 in UTC
	other := lines(t, "wan", 1, 2, t0)
	all := append(append(append([]Line{}, june...), july...), other...)
	n, err := s.Append(all)
	if err != nil || n != 6 {
		t.Fatalf("Append = %d, %v; want 6 lines", n, err)
	}
	for _, f := range []string{"history/flux/2026-06.jsonl", "history/flux/2026-07.jsonl", "history/wan/2026-06.jsonl"} {
		if _, err := os.Stat(filepath.Join(s.Dir, f)); err != nil {
			t.Errorf("file %s: %v", f, err)
		}
	}
	got, problems, err := s.Read()
	if err != nil || len(problems) != 0 {
		t.Fatalf("Read: %v, problems %v", err, problems)
	}
	if d := cmp.Diff(all, got); d != "" {
		t.Errorf("read back (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"flux", "wan"}, Keys(got)); d != "" {
		t.Errorf("keys (-want +got):\n%s", d)
	}
	// The same lines again add nothing: a replayed append keeps each line once.
	if n, err := s.Append(all); err != nil || n != 0 {
		t.Errorf("second Append = %d, %v; want 0", n, err)
	}
	if again, _, _ := s.Read(); len(again) != 6 {
		t.Errorf("%d lines after the second append, want 6", len(again))
	}
}

// A line that does not parse is reported by file and line, skipped by
// readers, and kept byte for byte by every later append, even when it was
// the file's last line and had no newline.
func TestCorruptLineSurvivesAppends(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir()}
	if _, err := s.Append(lines(t, "flux", 1, 2, t0)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.Dir, "history", "flux", "2026-06.jsonl")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := []byte(`{"schema": "diffperf.history/v1", "commit": "cut short by a full disk`)
	before := append(append(append([]byte{}, good...), "not json at all\n"...), corrupt...)
	if err := os.WriteFile(path, before, 0o644); err != nil {
		t.Fatal(err)
	}
	for i, base := range []int{2, 3} {
		if n, err := s.Append(lines(t, "flux", base, base+1, t0.Add(time.Duration(i+1)*time.Minute))); err != nil || n != 2 {
			t.Fatalf("append %d: %d, %v", i, n, err)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(after, append(before, '\n')) {
		t.Errorf("the file's first %d bytes changed:\n%s", len(before), after)
	}
	got, problems, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Errorf("%d lines read, want the 6 good ones", len(got))
	}
	var where []string
	for _, p := range problems {
		where = append(where, p.File+":"+string(rune('0'+p.Line)))
	}
	if d := cmp.Diff([]string{"history/flux/2026-06.jsonl:3", "history/flux/2026-06.jsonl:4"}, where); d != "" {
		t.Errorf("problems (-want +got):\n%s\n%v", d, problems)
	}
}

func TestReadReportsLineInAnotherCasesFolder(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir()}
	if _, err := s.Append(lines(t, "flux", 1, 2, t0)); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, "history", "wan"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(s.Dir, "history", "flux", "2026-06.jsonl"))
	if err := os.WriteFile(filepath.Join(s.Dir, "history", "wan", "2026-06.jsonl"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, problems, err := s.Read()
	if err != nil || len(got) != 2 || len(problems) != 2 || !strings.Contains(problems[0].Error(), `does not match its folder "wan"`) {
		t.Errorf("Read = %d lines, %v, %v; want the 2 of flux and 2 problems in wan", len(got), problems, err)
	}
}

func TestAppendRefusesBadLine(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir()}
	l := lines(t, "flux", 1, 2, t0)
	l[1].Case.Key = "../escape"
	if _, err := s.Append(l); err == nil || !strings.Contains(err.Error(), "line 2 to append: case.key") {
		t.Errorf("Append = %v, want a refusal naming line 2's case.key", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "history")); err == nil {
		t.Errorf("a refused append wrote something")
	}
}

// Series orders by commit time (run time where there is none), then run
// time, base before head; Points gives each commit once with all its
// samples.
func TestSeriesAndPoints(t *testing.T) {
	t.Parallel()
	var all []Line
	// Runs of 1->2, 2->3, 3->4 an hour apart, stored newest first, with
	// another case between.
	for i := 3; i >= 1; i-- {
		all = append(all, lines(t, "flux", i, i+1, t0.Add(time.Duration(i)*time.Hour))...)
		all = append(all, lines(t, "wan", i, i+1, t0)...)
	}
	s := Series(all, "flux")
	var got []string
	for _, l := range s {
		got = append(got, l.Side+" "+l.Commit[38:])
	}
	want := []string{"base 01", "head 02", "base 02", "head 03", "base 03", "head 04"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("order without commit times (-want +got):\n%s", d)
	}
	// Commit times decide first: commit 2 committed after 3 (a rebase)
	// sorts after it.
	for i := range all {
		switch all[i].Commit {
		case sha(2):
			all[i].CommitTime = t0.Add(10 * time.Hour).Format(time.RFC3339)
		case sha(3):
			all[i].CommitTime = t0.Add(9 * time.Hour).Format(time.RFC3339)
		}
	}
	got = nil
	for _, p := range Points(Series(all, "flux"), report.MetricE2E) {
		got = append(got, p.Commit[38:]+" "+string(rune('0'+len(p.Samples))))
	}
	// Commit 1 and 4 have no commit time: their run times (t0+1h, t0+3h)
	// place them.
	if d := cmp.Diff([]string{"01 3", "04 3", "03 6", "02 6"}, got); d != "" {
		t.Errorf("points (-want +got):\n%s", d)
	}
}

// A line written before mode, launches and the samples' launch index were
// fields still reads, with them empty; a serve line keeps them.
func TestReadLinesWithoutNewerFields(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	folder := filepath.Join(dir, Folder, "flux")
	if err := os.MkdirAll(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	old := `{"schema":"diffperf.history/v1","case":{"key":"flux"},"commit":"` + sha(1) + `","run_time":"2026-01-01T00:00:00Z","side":"head","batch":1,"environment":{"gpu":"","driver":"","cuda":"","torch":"","sglang":""},"n":1,"metrics":[{"id":"e2e","unit":"ms","per":"run","samples":[{"value":10}]}],"diffperf":"v1.0.0"}`
	serve := `{"schema":"diffperf.history/v1","case":{"key":"flux"},"commit":"` + sha(2) + `","run_time":"2026-01-01T01:00:00Z","side":"head","batch":1,"mode":"serve","environment":{"gpu":"","driver":"","cuda":"","torch":"","sglang":""},"n":2,"launches":[{"launch":1,"load_ms":5200}],"metrics":[{"id":"e2e","unit":"ms","per":"request","samples":[{"value":10,"run":1,"launch":1},{"value":11,"run":2,"launch":1}]}],"diffperf":"v1.1.0"}`
	if err := os.WriteFile(filepath.Join(folder, "2026-01.jsonl"), []byte(old+"\n"+serve+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, problems, err := Store{Dir: dir}.Read()
	if err != nil || len(problems) != 0 || len(got) != 2 {
		t.Fatalf("%d lines, problems %v, err %v", len(got), problems, err)
	}
	if got[0].Mode != "" || got[0].Launches != nil || got[0].Metrics[0].Samples[0] != (Sample{Value: 10}) {
		t.Errorf("the old line: %+v", got[0])
	}
	if got[1].Mode != "serve" || len(got[1].Launches) != 1 || *got[1].Launches[0].LoadMs != 5200 || got[1].Metrics[0].Samples[1] != (Sample{Value: 11, Run: 2, Launch: 1}) {
		t.Errorf("the serve line: %+v", got[1])
	}
	if pts := Points(Series(got, "flux"), "e2e"); len(pts) != 2 || len(pts[1].Samples) != 2 {
		t.Errorf("points %+v, want both commits", pts)
	}
}
