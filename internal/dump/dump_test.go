package dump

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/input"
	"github.com/google/go-cmp/cmp"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "dumps", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseDumpVariants(t *testing.T) {
	t.Parallel()
	type summary struct {
		Total      float64
		Stages     []string
		NSteps     int
		FirstStep  float64
		NMemory    int
		PeakAlloc  float64
		Model      string
		Prompt     string
		Tag        string
		CommitHash string
	}
	tests := []struct {
		file string
		want summary
	}{
		{"sglang_md_example.json", summary{16623.542566783726, []string{"InputValidationStage", "TextEncodingStage", "DenoisingStage", "DecodingStage"},
			2, 904.1478438302875, 2, 53044.04, "Qwen/Qwen-Image", "A curious raccoon", "cli_generate", "N/A"}},
		{"denoise_numbers_cpu.json", summary{16623.542566783726, []string{"InputValidationStage", "TextEncodingStage", "DenoisingStage", "DecodingStage"},
			4, 904.1478438302875, 0, 0, "Qwen/Qwen-Image", "A curious raccoon", "cli_generate", "8e8c1ccc065f520f2f9eff69cfa287dd279e59b4"}},
		{"old_nov2025.json", summary{7351.97, []string{"InputValidationStage", "TextEncodingStage", "TimestepPreparationStage", "LatentPreparationStage", DenoisingLoop, "DenoisingStage", "DecodingStage"},
			28, 400, 0, 0, "black-forest-labs/FLUX.1-dev", "A curious raccoon", "cli_generate", "a10a24e9a7fdc0ddcc7dc3e90c0d4983707db028"}},
		{"dec2025.json", summary{7012.40, []string{"InputValidationStage", "TextEncodingStage", "TimestepPreparationStage", "LatentPreparationStage", "DenoisingStage", "DecodingStage"},
			28, 380, 0, 0, "black-forest-labs/FLUX.1-dev", "A curious raccoon", "cli_generate", "8e8c1ccc065f520f2f9eff69cfa287dd279e59b4"}},
		{"server.json", summary{512.25, []string{"TextEncodingStage", "DenoisingStage", "DecodingStage"},
			4, 112, 3, 24100.25, "black-forest-labs/FLUX.2-klein", "", "server_perf_dump", "N/A"}},
		{"newest_spans.json", summary{13210, []string{"InputValidationStage", "TextEncodingStage", "LTX2AVDenoisingStage", "DecodingStage", "GPUWorker.frame_materialize_for_return"},
			41, 1000, 3, 45000, "Lightricks/LTX-2", "A curious raccoon", "benchmark_dump", "a10a24e9a7fdc0ddcc7dc3e90c0d4983707db028"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			d, err := ParseDump(tt.file, readTestdata(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got := summary{Total: d.TotalMs, NSteps: len(d.DenoiseSteps), NMemory: len(d.Memory), Model: d.Model, Prompt: d.Prompt, Tag: d.Tag, CommitHash: d.CommitHash}
			for _, s := range d.Stages {
				got.Stages = append(got.Stages, s.Name)
			}
			if len(d.DenoiseSteps) > 0 {
				got.FirstStep = d.DenoiseSteps[0]
			}
			got.PeakAlloc, _ = d.PeakAllocatedMB()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseDump(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestParseDumpFoldsAndSums(t *testing.T) {
	t.Parallel()
	old, err := ParseDump("old", readTestdata(t, "old_nov2025.json"))
	if err != nil {
		t.Fatal(err)
	}
	// 28 steps: 400 for step 0, 250+i for i in 1..27.
	want := 400.0
	for i := 1; i < 28; i++ {
		want += 250 + float64(i)
	}
	if got := old.StageMs(DenoisingLoop); got != want {
		t.Errorf("Denoising Loop = %v, want the sum %v", got, want)
	}
	if old.Stages[4].Count != 28 {
		t.Errorf("Denoising Loop count = %d, want 28", old.Stages[4].Count)
	}
	newest, err := ParseDump("newest", readTestdata(t, "newest_spans.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := newest.StageMs("DecodingStage"); got != 650 {
		t.Errorf("duplicate DecodingStage = %v, want 600+50", got)
	}
	if got := newest.StageMs("NoSuchStage"); got != 0 {
		t.Errorf("missing stage = %v, want 0", got)
	}
	if got, _ := newest.PeakReservedMB(); got != 50000 {
		t.Errorf("peak reserved = %v, want max over checkpoints 50000", got)
	}
}

func TestParseDumpRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file      string
		wantField string
		wantMsg   string
	}{
		{"bad/not_json.json", "", "not JSON"},
		{"bad/empty.json", "", "not JSON"},
		{"bad/truncated.json", "", "not JSON"},
		{"bad/array.json", "", "not a JSON object"},
		{"bad/missing_total.json", "total_duration_ms", "missing"},
		{"bad/total_string.json", "total_duration_ms", "is a string"},
		{"bad/negative.json", "total_duration_ms", "is negative"},
		{"bad/nan.json", "total_duration_ms", "is NaN"},
		{"bad/infinity.json", "total_duration_ms", "is infinite"},
		{"bad/steps_object.json", "steps", "not an array"},
		{"bad/step_without_duration.json", "steps[0].duration_ms", "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			_, err := ParseDump(tt.file, readTestdata(t, tt.file))
			var de *DumpError
			ie, ok := input.As(err)
			if !ok || !errors.As(err, &de) {
				t.Fatalf("ParseDump(%s) = %v, want an *input.Error around a *DumpError", tt.file, err)
			}
			if ie.Name != "dump "+tt.file || de.Field != tt.wantField || !strings.Contains(de.Msg, tt.wantMsg) {
				t.Errorf("ParseDump(%s) = %q, want file %s, field %q, message with %q", tt.file, err, tt.file, tt.wantField, tt.wantMsg)
			}
			if !strings.Contains(err.Error(), tt.file) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestParseDumpInlineShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, json, wantErr string
	}{
		{"null object", `null`, "not a JSON object"},
		{"steps null is none", `{"total_duration_ms": 1, "steps": null}`, ""},
		{"NaN inside a string is text", `{"total_duration_ms": 1, "meta": {"prompt": "NaN Infinity"}}`, ""},
		{"denoise wrong type", `{"total_duration_ms": 1, "denoise_steps_ms": 3}`, "denoise_steps_ms: not an array"},
		{"denoise item NaN", `{"total_duration_ms": 1, "denoise_steps_ms": [1, NaN]}`, "denoise_steps_ms[1]: is NaN"},
		{"denoise object without duration", `{"total_duration_ms": 1, "denoise_steps_ms": [{"step": 0}]}`, "denoise_steps_ms[0].duration_ms: missing"},
		{"memory not object", `{"total_duration_ms": 1, "memory_checkpoints": []}`, "memory_checkpoints: not an object"},
		{"memory field string", `{"total_duration_ms": 1, "memory_checkpoints": {"a": {"peak_allocated_mb": "x"}}}`, "memory_checkpoints.a.peak_allocated_mb"},
		{"step name number", `{"total_duration_ms": 1, "steps": [{"name": 3, "duration_ms": 1}]}`, "steps[0].name"},
		{"negative infinity", `{"total_duration_ms": -Infinity}`, "is infinite"},
		{"meta wrong type ignored", `{"total_duration_ms": 1, "meta": "x", "commit_hash": 5}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseDump("x.json", []byte(tt.json))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseDump = %v, want success", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseDump = %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}
