package report

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/dump"
)

// BenchmarkPipeline parses, compares and renders 2 × 20 dumps of 50 denoise
// steps each: the work of one report, without the benchmark processes.
func BenchmarkPipeline(b *testing.B) {
	raw := make([][]byte, 40)
	for i := range raw {
		d := map[string]any{
			"timestamp": "2026-06-26T07:08:15.090917+00:00", "request_id": "x", "commit_hash": "a10a24e9a7fdc0ddcc7dc3e90c0d4983707db028",
			"tag": "cli_generate", "total_duration_ms": 7000.0 + float64(i%20) + float64(i/20)*700,
			"meta": map[string]any{"prompt": "A curious raccoon", "model": "black-forest-labs/FLUX.1-dev"},
		}
		var steps, denoise []map[string]any
		for _, s := range []string{"InputValidationStage", "TextEncodingStage", "ConditioningStage", "TimestepPreparationStage", "LatentPreparationStage", "DenoisingStage", "DecodingStage"} {
			steps = append(steps, map[string]any{"name": s, "duration_ms": 100.0 + float64(i)})
		}
		for k := 0; k < 50; k++ {
			denoise = append(denoise, map[string]any{"step": k, "duration_ms": 130.0 + float64(i%7)})
		}
		d["steps"], d["denoise_steps_ms"] = steps, denoise
		d["memory_checkpoints"] = map[string]any{
			"before_forward": map[string]float64{"allocated_mb": 1, "reserved_mb": 2, "peak_allocated_mb": 3, "peak_reserved_mb": 4},
			"after_forward":  map[string]float64{"allocated_mb": 1, "reserved_mb": 2, "peak_allocated_mb": 30, "peak_reserved_mb": 40},
		}
		var err error
		if raw[i], err = json.Marshal(d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var base, head dump.Side
		for i, data := range raw {
			d, err := dump.ParseDump(fmt.Sprint(i), data)
			if err != nil {
				b.Fatal(err)
			}
			if i < 20 {
				base.Runs = append(base.Runs, dump.Run{Index: i + 1, Dump: d})
			} else {
				head.Runs = append(head.Runs, dump.Run{Index: i - 19, Dump: d})
			}
		}
		r := Compare(base, head, DefaultOptions())
		_ = Markdown(r, RenderOptions{Marker: "bench"})
		if _, err := MarshalJSON(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkManyStages parses, compares and renders a hostile pair of dumps
// with 20,000 distinct stage names each: it must stay linear.
func BenchmarkManyStages(b *testing.B) {
	var buf strings.Builder
	buf.WriteString(`{"total_duration_ms": 1000, "steps": [`)
	for i := 0; i < 20000; i++ {
		if i > 0 {
			buf.WriteString(",")
		}
		fmt.Fprintf(&buf, `{"name": "Stage%d", "duration_ms": %d}`, i, i%7)
	}
	buf.WriteString("]}")
	data := []byte(buf.String())
	b.ReportAllocs()
	for b.Loop() {
		d, err := dump.ParseDump("many.json", data)
		if err != nil {
			b.Fatal(err)
		}
		r := Compare(dump.Side{Runs: []dump.Run{{Index: 1, Dump: d}}}, dump.Side{Runs: []dump.Run{{Index: 1, Dump: d}}}, DefaultOptions())
		_ = Markdown(r, RenderOptions{Marker: "k"})
	}
}
