package history

import (
	"fmt"
	"testing"
	"time"

	dumpfmt "github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/report"
)

// dump is an sglang perf dump of e2e ms with two stages, three denoise
// steps and a memory checkpoint, for commit at ts.
func dump(t *testing.T, name, commit, ts string, e2e float64) *dumpfmt.Dump {
	t.Helper()
	js := fmt.Sprintf(`{"timestamp": %q, "commit_hash": %q, "tag": "cli_generate", "total_duration_ms": %g,
 "steps": [{"name": "TextEncodingStage", "duration_ms": 200}, {"name": "DenoisingStage", "duration_ms": %g}],
 "denoise_steps_ms": [900, %g, %g],
 "memory_checkpoints": {"after_forward": {"allocated_mb": 1, "reserved_mb": 2, "peak_allocated_mb": 50000, "peak_reserved_mb": 60000}},
 "meta": {"model": "org/model", "prompt": "A curious raccoon"}}`, ts, commit, e2e, e2e-300, e2e/100, e2e/100+1)
	d, err := dumpfmt.ParseDump(name, []byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// genResult is a generate-mode result of base against head, n runs a
// side interleaved, e2e base+i and head+i, at one run time, round-tripped
// through result.json as history add reads it.
func genResult(t *testing.T, baseSHA, headSHA string, base, head float64, n int, at time.Time) *report.Result {
	t.Helper()
	var bs, hs dumpfmt.Side
	bs.SHA, hs.SHA = baseSHA, headSHA
	for i := 1; i <= n; i++ {
		ts := at.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)
		bs.Runs = append(bs.Runs, dumpfmt.Run{Index: i, Order: 2*i - 1, Dump: dump(t, "b.json", "", ts, base+float64(i))})
		hs.Runs = append(hs.Runs, dumpfmt.Run{Index: i, Order: 2 * i, Dump: dump(t, "h.json", "", ts, head+float64(i))})
	}
	r := report.Compare(bs, hs, report.DefaultOptions())
	r.Case = "flux"
	r.Env = &dumpfmt.Environment{Before: []dumpfmt.GPU{{Name: "NVIDIA H100 80GB HBM3", Driver: "550.90.07"}}, Host: "linux/amd64, 16 CPUs"}
	return roundTrip(t, r)
}

func roundTrip(t *testing.T, r *report.Result) *report.Result {
	t.Helper()
	b, err := report.MarshalJSON(r)
	if err != nil {
		t.Fatal(err)
	}
	out, err := report.ParseJSON("result.json", b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sha is a 40-hex-digit commit name for n.
func sha(n int) string { return fmt.Sprintf("%040x", n) }

// lines builds the lines of one run of base against head.
func lines(t *testing.T, key string, base, head int, at time.Time) []Line {
	t.Helper()
	ls, err := FromResult(genResult(t, sha(base), sha(head), 1000, 1010, 3, at), Meta{Key: key, RunTime: at, Version: "v0.0.0-test"})
	if err != nil {
		t.Fatal(err)
	}
	return ls
}
