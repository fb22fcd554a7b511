package profile

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNormalise(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, in, want string }{
		{"cpu op as is", "aten::mm", "aten::mm"},
		{"templates and arguments", "void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<float>, at::detail::Array<char*, 1> >(int, at::native::FillFunctor<float>, at::detail::Array<char*, 1>)", "at::native::vectorized_elementwise_kernel"},
		{"nested templates", "void flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128, 64, 4, false, false, cutlass::bfloat16_t, Flash_kernel_traits<128, 128, 64, 4, cutlass::bfloat16_t> >, false, true>(Flash_fwd_params)", "flash_fwd_kernel"},
		{"lambdas inside templates", "void at::native::elementwise_kernel<128, 2, at::native::gpu_kernel_impl<at::native::(anonymous namespace)::launch_clamp_scalar(at::TensorIteratorBase&)::{lambda()#1}::operator()() const::{lambda(float)#1}>(at::TensorIteratorBase&)::{lambda(int)#1}>(int, {lambda(int)#1})", "at::native::elementwise_kernel"},
		{"anonymous namespace kept", "void (anonymous namespace)::softmax_warp_forward<float, float, float, 10, false, false>(float*, float const*, int, int, int, bool const*, int, bool)", "(anonymous namespace)::softmax_warp_forward"},
		{"inductor number 0", "triton_poi_fused_add_mul_0", "triton_poi_fused_add_mul"},
		{"inductor number 1", "triton_poi_fused_add_mul_1", "triton_poi_fused_add_mul"},
		{"inductor number 12", "triton_red_fused__to_copy_add_mean_mul_pow_rsqrt_12", "triton_red_fused__to_copy_add_mean_mul_pow_rsqrt"},
		{"not inductor: number kept", "gemm_kernel_2", "gemm_kernel_2"},
		{"old triton signature", "_attn_fwd_0d1d2d3de4de5c", "_attn_fwd"},
		{"one 2d is no signature", "im2col_2d", "im2col_2d"},
		{"hex hash", "fused_moe_kernel_5f2a9c0d1e3b4a67", "fused_moe_kernel"},
		{"short hex kept", "kernel_beef", "kernel_beef"},
		{"cublas tag", "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas", "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel"},
		{"tile shape kept", "ampere_bf16_s16816gemm_bf16_128x128_ldg8_f2f_stages_64x3_tn", "ampere_bf16_s16816gemm_bf16_128x128_ldg8_f2f_stages_64x3_tn"},
		{"cutlass wrapper", "void cutlass::Kernel2<cutlass_80_wmma_tensorop_bf16_s161616gemm_bf16_16x16_128x2_tn_align8>(cutlass_80_wmma_tensorop_bf16_s161616gemm_bf16_16x16_128x2_tn_align8::Params)", "cutlass_80_wmma_tensorop_bf16_s161616gemm_bf16_16x16_128x2_tn_align8"},
		{"wrapper of a wrapper", "void cutlass::device_kernel<flash::enable_sm90_or_later<flash::FlashAttnFwdSm90<flash::CollectiveMainloopFwdSm90<2, cute::tuple<cute::C<1>, cute::C<1>, cute::C<1> > >, flash::CollectiveEpilogueFwd<cute::tuple<cute::C<128> > > > > >(flash::FlashAttnFwdSm90<int>::Params)", "flash::FlashAttnFwdSm90"},
		{"white space", "  void  foo_kernel<int>\t(int) ", "foo_kernel"},
		{"unbalanced >", "a->b", "a->b"},
		{"nothing left", "<lambda>", "<lambda>"},
		{"empty", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Normalise(tt.in); got != tt.want {
				t.Errorf("Normalise(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// ev is a complete event of a trace.
type ev struct {
	Ph   string  `json:"ph"`
	Cat  string  `json:"cat"`
	Name string  `json:"name"`
	Ts   float64 `json:"ts"`
	Dur  float64 `json:"dur"`
}

func x(cat, name string, dur float64) ev { return ev{"X", cat, name, 0, dur} }

// gz compresses b.
func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// traceOf is a gzipped trace in the torch profiler's layout: metadata keys
// around traceEvents.
func traceOf(t testing.TB, events ...ev) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"schemaVersion":    1,
		"deviceProperties": []map[string]any{{"id": 0, "name": "GPU", "props": []any{1, "x", map[string]any{"y": nil}}}},
		"traceEvents":      events,
		"traceName":        "t",
	})
	if err != nil {
		t.Fatal(err)
	}
	return gz(t, b)
}

func read(t testing.TB, name string, b []byte) *Profile {
	t.Helper()
	p, err := ReadTrace(name, bytes.NewReader(b), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadTraceSums(t *testing.T) {
	t.Parallel()
	events := []ev{
		x("user_annotation", "ProfilerStep#1", 100),
		x("user_annotation", "ProfilerStep#2", 100),
		x("gpu_user_annotation", "ProfilerStep#3", 100), // the GPU's copy of a span: not a step
		x("user_annotation", "ProfilerStep#2", 100),     // the same step twice counts once
		x("kernel", "triton_poi_fused_add_mul_0", 10),
		x("kernel", "triton_poi_fused_add_mul_1", 5),
		x("kernel", "void gemm<float>(float*)", 30),
		x("gpu_memcpy", "Memcpy HtoD (Pageable -> Device)", 2),
		x("gpu_memset", "Memset (Device)", 1),
		x("cpu_op", "aten::mm", 40),
		x("cpu_op", "aten::mm", 20),
		x("cuda_runtime", "cudaLaunchKernel", 3),          // neither kernel nor op
		{Ph: "i", Cat: "kernel", Name: "instant", Dur: 7}, // not a complete event
		{Ph: "X", Cat: "kernel", Name: "negative", Dur: -1},
	}
	p := read(t, "a.trace.json.gz", traceOf(t, events...))
	want := &Profile{
		Name: "a.trace.json.gz", Steps: 2, StepsMarked: true, Events: int64(len(events)),
		Kernels: Table{
			"triton_poi_fused_add_mul":         {15, 2},
			"gemm":                             {30, 1},
			"Memcpy HtoD (Pageable -> Device)": {2, 1},
			"Memset (Device)":                  {1, 1},
		},
		CPUOps: Table{"aten::mm": {60, 2}},
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("profile (-want +got):\n%s", diff)
	}
}

func TestReadTraceLayouts(t *testing.T) {
	t.Parallel()
	events := `[{"ph":"X","cat":"kernel","name":"k","dur":4.5,"args":{"a":[1,{"b":[]}]}}, 7, [1,2], {"ph":"X","cat":"kernel","name":["odd"],"dur":1}, {"ph":"X","cat":"kernel","name":"k","dur":{"odd":1}}]`
	for _, tt := range []struct{ name, json string }{
		{"bare array", events},
		{"object, traceEvents first", `{"traceEvents":` + events + `,"x":{"traceEvents":[]}}`},
		{"object, traceEvents last", `{"meta":{"traceEvents":[1]},"list":[[],{}],"traceEvents":` + events + `}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, file := range []string{"t.trace.json.gz", "t.json"} {
				b := []byte(tt.json)
				if strings.HasSuffix(file, ".gz") {
					b = gz(t, b)
				}
				p := read(t, file, b)
				if got, want := p.Kernels, (Table{"k": {4.5, 1}}); !cmp.Equal(got, want) {
					t.Errorf("%s: kernels %v, want %v", file, got, want)
				}
				if p.Steps != 1 || p.StepsMarked {
					t.Errorf("%s: steps %d (marked %v), want 1 unmarked", file, p.Steps, p.StepsMarked)
				}
			}
		})
	}
}

func TestReadTraceErrorsNameTheFile(t *testing.T) {
	t.Parallel()
	good := traceOf(t, x("kernel", "k", 1), x("kernel", "k", 2))
	tight := DefaultLimits
	tight.MaxEvents, tight.MaxNameLen, tight.MaxNames, tight.MaxToken = 3, 8, 2, 64
	for _, tt := range []struct {
		name string
		data []byte
		lim  Limits
		want string
	}{
		{"truncated gzip", good[:len(good)/2], DefaultLimits, "truncated"},
		{"gzip without its checksum", good[:len(good)-4], DefaultLimits, "truncated"},
		{"not gzip", []byte(`{"traceEvents":[]}`), DefaultLimits, "not gzip"},
		{"empty file", nil, DefaultLimits, "not gzip"},
		{"not JSON", gz(t, []byte("PK\x03\x04 a zip file")), DefaultLimits, "not JSON"},
		{"JSON cut short", gz(t, []byte(`{"traceEvents":[{"ph":"X","cat":"kernel","name":"k","dur":1},{"ph"`)), DefaultLimits, "truncated"},
		{"no traceEvents", gz(t, []byte(`{"events":[]}`)), DefaultLimits, "no traceEvents"},
		{"traceEvents not an array", gz(t, []byte(`{"traceEvents":{}}`)), DefaultLimits, "not an array"},
		{"a number", gz(t, []byte(`42`)), DefaultLimits, "neither an object nor an array"},
		{"data after the trace", gz(t, []byte(`[] []`)), DefaultLimits, "data after the trace"},
		{"too many events", traceOf(t, x("kernel", "a", 1), x("kernel", "a", 1), x("kernel", "a", 1), x("kernel", "a", 1)), tight, "more than 3 events"},
		{"a long name", traceOf(t, x("kernel", "a_very_long_name", 1)), tight, "a name of 16 bytes"},
		{"too many names", traceOf(t, x("kernel", "a", 1), x("kernel", "b", 1), x("kernel", "c", 1)), tight, "more than 2 distinct names"},
		{"a long token elsewhere", traceOf(t, x("kernel", "a", 1), ev{Ph: "X", Cat: strings.Repeat("c", 10<<10)}), tight, "longer than 64 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const file = "/out/base/profile/req-5_steps-global-rank0.trace.json.gz"
			_, err := ReadTrace(file, bytes.NewReader(tt.data), tt.lim)
			if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one naming %s and saying %q", err, file, tt.want)
			}
		})
	}
}

func TestReadFileAndSidecar(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "req-5_steps-global-rank0.trace.json.gz")
	if got, want := SidecarPath(path), filepath.Join(dir, "req-5_steps-global-rank0.profile.json"); got != want {
		t.Errorf("SidecarPath = %s, want %s", got, want)
	}
	if err := os.WriteFile(path, traceOf(t, x("kernel", "k", 3)), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := ReadFile(path, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if p.DeviceOps != nil || p.Sidecar != "" {
		t.Errorf("no sidecar, yet DeviceOps %v from %q", p.DeviceOps, p.Sidecar)
	}
	rows := `{"meta":{"torch":"2.9"},"key_averages":[
		{"name":"aten::mm","count":10,"self_device_time_total_us":1500.5,"self_cpu_time_total_us":80},
		{"key":"triton_poi_fused_add_0","calls":4,"self_cuda_time_total":20},
		{"key":"triton_poi_fused_add_1","calls":2,"self_cuda_time_total":10},
		{"name":"","count":1}]}`
	if err := os.WriteFile(SidecarPath(path), []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err = ReadFile(path, DefaultLimits); err != nil {
		t.Fatal(err)
	}
	want := Table{"aten::mm": {1500.5, 10}, "triton_poi_fused_add": {30, 6}}
	if diff := cmp.Diff(want, p.DeviceOps); diff != "" || p.Sidecar != SidecarPath(path) {
		t.Errorf("sidecar %q (-want +got):\n%s", p.Sidecar, diff)
	}
	for _, bad := range []struct{ data, want string }{
		{`{"rows":`, "not JSON"},
		{`{"rows":{"a":1}}`, "no array of key_averages rows"},
		{`[{"name":"a","self_device_time_total_us":-3}]`, "is not a duration"},
		{`[{"name":"a","count":-1}]`, "count -1 is negative"},
	} {
		if err := os.WriteFile(SidecarPath(path), []byte(bad.data), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadFile(path, DefaultLimits); err == nil || !strings.Contains(err.Error(), SidecarPath(path)) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("sidecar %s: error %v, want one naming the file and saying %q", bad.data, err, bad.want)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "none.trace.json.gz"), DefaultLimits); err == nil || !strings.Contains(err.Error(), "none.trace.json.gz") {
		t.Errorf("a missing trace: error %v, want one naming it", err)
	}
}

// side is the profile of steps steps whose kernels last us µs a step each.
func side(t *testing.T, name string, steps int, us map[string]float64) *Profile {
	t.Helper()
	var events []ev
	for s := 1; s <= steps; s++ {
		events = append(events, x("user_annotation", fmt.Sprint("ProfilerStep#", s), 1))
		for k, v := range us {
			events = append(events, x("kernel", k, v))
		}
	}
	return read(t, name, traceOf(t, events...))
}

func TestComparePlantedKernelTopsWithItsSign(t *testing.T) {
	t.Parallel()
	base := side(t, "base.trace.json.gz", 5, map[string]float64{
		"gemm_kernel": 1000, "triton_poi_fused_add_0": 200, "attn_kernel": 500, "memcpy_like": 100, "old_kernel": 50,
	})
	head := side(t, "head.trace.json.gz", 5, map[string]float64{
		"gemm_kernel":            1300, // the planted slowdown: +300 µs a step
		"triton_poi_fused_add_7": 201,  // the same kernel, renumbered, within the noise floor
		"attn_kernel":            400,  // faster
		"memcpy_like":            100.5,
		"new_kernel":             80,
	})
	d := Compare(base, head, KernelTable, 3)
	want := []Row{
		{Name: "gemm_kernel", Class: Increased, BaseUs: 1000, ChangeUs: 300, HeadUs: 1300, Rel: 0.3, BaseCalls: 1, HeadCalls: 1},
		{Name: "attn_kernel", Class: Decreased, BaseUs: 500, ChangeUs: -100, HeadUs: 400, Rel: -0.2, BaseCalls: 1, HeadCalls: 1},
		{Name: "new_kernel", Class: Added, ChangeUs: 80, HeadUs: 80, HeadCalls: 1},
	}
	if diff := cmp.Diff(want, d.Rows); diff != "" {
		t.Errorf("top rows (-want +got):\n%s", diff)
	}
	if len(d.Added) != 1 || d.Added[0].Name != "new_kernel" || len(d.Gone) != 1 || d.Gone[0].Name != "old_kernel" || d.Gone[0].ChangeUs != -50 {
		t.Errorf("added %+v, gone %+v; want new_kernel added, old_kernel gone by 50 µs", d.Added, d.Gone)
	}
	wantCount := map[Class]int{Increased: 1, Decreased: 1, Added: 1, Gone: 1, Unchanged: 2}
	if diff := cmp.Diff(wantCount, d.Count); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if d.BaseUs != 1850 || d.HeadUs != 2081.5 || d.ChangeUs != 231.5 {
		t.Errorf("sums base %v, head %v, change %v; want 1850, 2081.5, 231.5 µs a step", d.BaseUs, d.HeadUs, d.ChangeUs)
	}
	if d.BaseSteps != 5 || d.HeadSteps != 5 || len(d.Notes) != 0 {
		t.Errorf("steps %d/%d, notes %q; want 5/5 and none", d.BaseSteps, d.HeadSteps, d.Notes)
	}
	if all := Compare(base, head, KernelTable, 0); len(all.Rows) != 4 {
		t.Errorf("n = 0 kept %d changed rows, want all 4", len(all.Rows))
	}
}

func TestCompareDividesByEachSidesSteps(t *testing.T) {
	t.Parallel()
	base := side(t, "b", 2, map[string]float64{"k": 100})
	head := read(t, "h", traceOf(t, x("kernel", "k", 100), x("kernel", "k", 100), x("kernel", "k", 100))) // no steps marked
	d := Compare(base, head, KernelTable, 10)
	if d.BaseSteps != 2 || d.HeadSteps != 1 {
		t.Fatalf("steps %d/%d, want 2/1", d.BaseSteps, d.HeadSteps)
	}
	if len(d.Rows) != 1 || d.Rows[0].BaseUs != 100 || d.Rows[0].HeadUs != 300 || d.Rows[0].HeadCalls != 3 {
		t.Errorf("rows %+v, want k from 100 to 300 µs a step, 3 calls", d.Rows)
	}
	if len(d.Notes) != 1 || !strings.Contains(d.Notes[0], "h has no ProfilerStep# spans") {
		t.Errorf("notes %q, want one about h's missing steps", d.Notes)
	}
	if d := Compare(base, head, DeviceOpTable, 10); len(d.Rows) != 0 || !strings.Contains(strings.Join(d.Notes, " "), "no .profile.json sidecar") {
		t.Errorf("device ops without sidecars: rows %v, notes %q", d.Rows, d.Notes)
	}
}

func TestCompareNoiseFloor(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		base, head float64
		want       Class
	}{
		{"below the relative floor", 1000, 1019, Unchanged},
		{"at the relative floor", 1000, 1020, Increased},
		{"below the absolute floor", 10, 10.9, Unchanged},
		{"above the absolute floor", 10, 11.1, Increased},
		{"faster beyond the floor", 1000, 970, Decreased},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := Compare(side(t, "b", 1, map[string]float64{"k": tt.base}), side(t, "h", 1, map[string]float64{"k": tt.head}), KernelTable, 10)
			if d.Count[tt.want] != 1 {
				t.Errorf("%v → %v µs: counts %v, want one %s", tt.base, tt.head, d.Count, tt.want)
			}
		})
	}
}

// FuzzReadTrace checks that no input makes the reader panic or return a
// profile that breaks its promises: at least one step, finite durations
// that are not negative, names within the limit.
func FuzzReadTrace(f *testing.F) {
	f.Add([]byte(`{"traceEvents":[{"ph":"X","cat":"kernel","name":"void k<int>(int)","dur":1.5},{"ph":"X","cat":"user_annotation","name":"ProfilerStep#3","dur":9}]}`))
	f.Add([]byte(`[{"ph":"X","cat":"cpu_op","name":"aten::mm","dur":2},{"ph":"X","cat":"gpu_memcpy","name":"Memcpy","dur":1e308}]`))
	f.Add([]byte(`{"a":[{"b":{}}],"traceEvents":[[],{},1,"s",null]}`))
	f.Add([]byte(`{"traceEvents":[{"ph":"X","cat":"kernel","name":"triton_poi_0","dur":-1}]`))
	lim := Limits{MaxEvents: 1000, MaxNameLen: 256, MaxNames: 100, MaxToken: 4096}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ReadTrace("fuzz.trace.json", bytes.NewReader(b), lim)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.trace.json") {
				t.Fatalf("error %v does not name the file", err)
			}
			return
		}
		if p.Steps < 1 || p.Events > lim.MaxEvents {
			t.Fatalf("steps %d, events %d", p.Steps, p.Events)
		}
		for _, tab := range []Table{p.Kernels, p.CPUOps} {
			if len(tab) > lim.MaxNames {
				t.Fatalf("%d names, beyond the limit", len(tab))
			}
			for k, v := range tab {
				if len(k) > lim.MaxNameLen || !(v.Us >= 0) || v.Calls < 1 {
					t.Fatalf("row %q: %+v", k, v)
				}
			}
		}
		d := Compare(p, p, KernelTable, 10)
		if d.ChangeUs != 0 || len(d.Rows) != 0 {
			t.Fatalf("a profile compared with itself changed: %+v", d)
		}
	})
}
