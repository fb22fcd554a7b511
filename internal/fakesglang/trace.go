package fakesglang

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// profileFlags are sglang's profiling flags of `sglang generate`.
type profileFlags struct {
	on        bool // --profile
	steps     int  // --num-profiled-timesteps: after one warm-up step; -1 is all
	allStages bool // --profile-all-stages
}

func addProfileFlags(fs *flag.FlagSet) *profileFlags {
	p := &profileFlags{}
	fs.BoolVar(&p.on, "profile", false, "profile the denoising stage with the torch profiler")
	fs.IntVar(&p.steps, "num-profiled-timesteps", 5, "denoising steps to profile after one warm-up step (-1: all)")
	fs.BoolVar(&p.allStages, "profile-all-stages", false, "with --profile, profile every stage")
	return p
}

// profileDir is where sglang writes its traces.
func profileDir(getenv func(string) string) string {
	for _, k := range []string{"SGLANG_DIFFUSION_TORCH_PROFILER_DIR", "SGLANG_TORCH_PROFILER_DIR"} {
		if d := getenv(k); d != "" {
			return d
		}
	}
	return "logs"
}

// The kernels of one fake denoising step. The fixed ones last what they
// say whatever step_ms is; the step's GEMM gets the rest of the step, so a
// slower step_ms shows as a slower GEMM, and extra_kernel as a kernel of its
// own. Their names are real ones, templates and generated suffixes included.
const (
	stepGEMM   = "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas"
	textKernel = "triton_per_fused_embedding_mean_0"
	decodeConv = "void cudnn::engines_precompiled::nhwcToNchwKernel<__nv_bfloat16, __nv_bfloat16, float, false, true, (cudnnKernelDataType_t)0>(cudnn::engines_precompiled::nhwc2nchw_params_t<float>, __nv_bfloat16 const*, __nv_bfloat16*)"
)

var fixedKernels = []struct {
	cat, name, op string
	ms            float64
}{
	{"kernel", "void flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128, 64, 4, false, false, cutlass::bfloat16_t, Flash_kernel_traits<128, 128, 64, 4, cutlass::bfloat16_t> >, false, false, false, false, true, true, false, false>(Flash_fwd_params)", "aten::_scaled_dot_product_flash_attention", 2},
	{"kernel", "triton_red_fused_native_layer_norm_0", "aten::layer_norm", 0.4},
	{"gpu_memcpy", "Memcpy DtoD (Device -> Device)", "aten::copy_", 0.05},
}

// traceEvent is one event of a Chrome trace, as the torch profiler writes it.
type traceEvent struct {
	Ph   string         `json:"ph"`
	Cat  string         `json:"cat,omitempty"`
	Name string         `json:"name"`
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	Ts   float64        `json:"ts"`
	Dur  float64        `json:"dur"`
	Args map[string]any `json:"args,omitempty"`
}

// traceWriter lays events out on a CPU thread and a GPU stream.
type traceWriter struct {
	events []traceEvent
	ts     float64 // µs
	steps  int
}

func (t *traceWriter) step(ms float64) (start float64) {
	t.steps++
	t.events = append(t.events, traceEvent{Ph: "X", Cat: "user_annotation", Name: "ProfilerStep#" + strconv.Itoa(t.steps), Pid: 1, Tid: 1, Ts: t.ts, Dur: ms * 1000})
	return t.ts
}

// kernel adds a kernel of ms, launched by the CPU op op.
func (t *traceWriter) kernel(cat, name, op string, ms float64) {
	us := ms * 1000
	t.events = append(t.events,
		traceEvent{Ph: "X", Cat: "cpu_op", Name: op, Pid: 1, Tid: 1, Ts: t.ts, Dur: 8, Args: map[string]any{"Input Dims": [][]int{{1, 4096, 2048}}}},
		traceEvent{Ph: "X", Cat: "cuda_runtime", Name: "cudaLaunchKernel", Pid: 1, Tid: 1, Ts: t.ts + 2, Dur: 4},
		traceEvent{Ph: "X", Cat: cat, Name: name, Pid: 0, Tid: 7, Ts: t.ts + 5, Dur: us, Args: map[string]any{"stream": 7, "device": 0}},
	)
	t.ts += us
}

// denoise adds one denoising step of ms, extraMs of it in the workload's
// extra kernel.
func (t *traceWriter) denoise(w workload, ms float64) {
	f := ms / (w.stepMs + w.extraKernelMs) // the step's noise, shared by its kernels
	fixed := 0.0
	for _, k := range fixedKernels {
		fixed += k.ms
	}
	// A step shorter than the fixed kernels shrinks them to half of it.
	scale := min(1, w.stepMs*f/(2*fixed))
	for _, k := range fixedKernels {
		t.kernel(k.cat, k.name, k.op, k.ms*scale)
	}
	t.kernel("kernel", stepGEMM, "aten::mm", w.stepMs*f-fixed*scale)
	if w.extraKernel != "" {
		// Its launch on the CPU goes by the kernel's name, as a compiled
		// (Triton) kernel's does.
		t.kernel("kernel", w.extraKernel, w.extraKernel, w.extraKernelMs*f)
	}
}

// writeTrace writes the trace of the run whose dump is d to dir, named as
// sglang names it, and returns its path. Without allStages it profiles the
// denoising steps after one warm-up step, at most p.steps of them (all for
// -1), one ProfilerStep each; with allStages, every stage, one
// ProfilerStep a stage.
func writeTrace(dir, requestID string, w workload, d dump, p profileFlags) (string, error) {
	t := &traceWriter{ts: 1_000_000}
	mode := "full_stages"
	if p.allStages {
		for _, s := range d.Steps {
			t.step(s.DurationMs)
			switch s.Name {
			case "TextEncodingStage":
				t.kernel("kernel", textKernel, "aten::embedding", s.DurationMs)
			case "DenoisingStage":
				for _, ds := range d.DenoiseStepsMs {
					t.denoise(w, ds.DurationMs)
				}
			case "DecodingStage":
				t.kernel("kernel", decodeConv, "aten::cudnn_convolution", s.DurationMs)
			}
		}
	} else {
		n := p.steps
		if n < 0 {
			n = len(d.DenoiseStepsMs)
		}
		mode = fmt.Sprintf("%d_steps", n)
		for i, ds := range d.DenoiseStepsMs {
			if i == 0 {
				t.ts += ds.DurationMs * 1000 // the warm-up step, not recorded
				continue
			}
			if i > n {
				break
			}
			t.step(ds.DurationMs)
			t.denoise(w, ds.DurationMs)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dir, err := filepath.Abs(dir) // sglang logs the absolute path
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%s-global-rank0.trace.json.gz", requestID, mode))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	bw := bufio.NewWriter(f)
	zw := gzip.NewWriter(bw)
	// The torch profiler's layout: metadata keys around traceEvents.
	trace := struct {
		SchemaVersion    int              `json:"schemaVersion"`
		DeviceProperties []map[string]any `json:"deviceProperties"`
		TraceEvents      []traceEvent     `json:"traceEvents"`
		TraceName        string           `json:"traceName"`
	}{1, []map[string]any{{"id": 0, "name": "fake GPU", "totalGlobalMem": 80 << 30}}, t.events, path}
	err = json.NewEncoder(zw).Encode(trace)
	for _, e := range []error{zw.Close(), bw.Flush(), f.Close()} {
		if err == nil {
			err = e
		}
	}
	if err != nil {
		return "", err
	}
	return path, nil
}
