package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/ghcomment/comment"
	"github.com/diffperf/diffperf/internal/input"
)

func FuzzParseDump(f *testing.F) {
	for _, name := range []string{"sglang_md_example.json", "old_nov2025.json", "server.json", "newest_spans.json", "bad/nan.json", "bad/truncated.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "dumps", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := dump.ParseDump("fuzz.json", data)
		if err != nil {
			var de *dump.DumpError
			if _, ok := input.As(err); !ok || !errors.As(err, &de) {
				t.Fatalf("error %v is not an *input.Error around a *DumpError", err)
			}
			return
		}
		if d.TotalMs < 0 || d.TotalMs != d.TotalMs {
			t.Fatalf("accepted total %v", d.TotalMs)
		}
		// Whatever parsed must compare and render without panicking, and
		// the rendering must keep its marker first.
		r := Compare(dump.Side{Runs: []dump.Run{{Index: 1, Dump: d}}}, dump.Side{Runs: []dump.Run{{Index: 1, Dump: d}}}, DefaultOptions())
		out := Markdown(r, RenderOptions{Marker: "fuzz", MaxChars: 4000})
		if !strings.HasPrefix(out, comment.MarkerLine("fuzz")+"\n") {
			t.Fatalf("marker not first: %.80q", out)
		}
		if _, err := MarshalJSON(r); err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
	})
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "dumps", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
