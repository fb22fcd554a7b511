package fakesglang

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/profile"
)

// profiled runs the fake in-process with --profile and the workload wl in
// a folder of its own, and reads the trace it wrote where sglang would.
func profiled(t *testing.T, side, wl string, env map[string]string, extra ...string) *profile.Profile {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(WorkloadFile, []byte(wl), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DIFFPERF_SIDE", side)
	t.Setenv("DIFFPERF_RUN", "1")
	for _, k := range []string{"SGLANG_DIFFUSION_TORCH_PROFILER_DIR", "SGLANG_TORCH_PROFILER_DIR"} {
		t.Setenv(k, env[k])
	}
	var stdout, stderr bytes.Buffer
	args := append([]string{"generate", "--model-path", "m", "--profile"}, extra...)
	if code := Main(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	traces, _ := filepath.Glob(filepath.Join(dir, "*", "*.trace.json.gz"))
	if len(traces) != 1 {
		t.Fatalf("traces %q, want one; stdout %s", traces, stdout.String())
	}
	if !strings.Contains(stdout.String(), traces[0]) {
		t.Errorf("stdout %q does not say where the trace went (%s)", stdout.String(), traces[0])
	}
	p, err := profile.ReadFile(traces[0], profile.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestProfileFollowsTheWorkload: a slower step_ms is a slower GEMM, at the
// top of the diff with a + sign; extra_kernel is an added kernel; the
// fixed kernels stay within the noise floor.
func TestProfileFollowsTheWorkload(t *testing.T) {
	const common = "steps=10\njitter=0.005\nsleep_scale=0\n"
	env := map[string]string{"SGLANG_DIFFUSION_TORCH_PROFILER_DIR": "prof"}
	base := profiled(t, "base", common+"step_ms=20\n", env)
	if got, want := filepath.Base(base.Name), "mocked_fake_id_for_offline_generate-5_steps-global-rank0.trace.json.gz"; got != want {
		t.Errorf("trace named %s, want sglang's %s", got, want)
	}
	if base.Steps != 5 || !base.StepsMarked {
		t.Errorf("base: %d steps (marked %v), want the 5 profiled after the warm-up", base.Steps, base.StepsMarked)
	}
	head := profiled(t, "head", common+"step_ms=22\nextra_kernel=triton_poi_fused_gelu_3\nextra_kernel_ms=0.5\n", env)
	d := profile.Compare(base, head, profile.KernelTable, 10)
	if len(d.Rows) < 2 {
		t.Fatalf("rows %+v, want the GEMM and the extra kernel", d.Rows)
	}
	gemm := profile.Normalise(stepGEMM)
	if r := d.Rows[0]; r.Name != gemm || r.Class != profile.Increased || r.ChangeUs < 1900 || r.ChangeUs > 2100 {
		t.Errorf("top row %+v, want %s increased by about 2000 µs a step", r, gemm)
	}
	if len(d.Added) != 1 || d.Added[0].Name != "triton_poi_fused_gelu" || d.Added[0].HeadCalls != 1 {
		t.Errorf("added %+v, want triton_poi_fused_gelu, once a step", d.Added)
	}
	if d.Count[profile.Unchanged] != len(fixedKernels) || len(d.Gone) != 0 {
		t.Errorf("counts %v, gone %v; want the %d fixed kernels unchanged, none gone", d.Count, d.Gone, len(fixedKernels))
	}
	if ops := profile.Compare(base, head, profile.CPUOpTable, 10); len(ops.Added) != 1 || ops.Added[0].Name != "triton_poi_fused_gelu" {
		t.Errorf("CPU ops added %+v, want the extra kernel's op", ops.Added)
	}
}

func TestProfileFlagsAndFolder(t *testing.T) {
	const wl = "steps=8\nsleep_scale=0\n"
	for _, tt := range []struct {
		name      string
		env       map[string]string
		args      []string
		wantDir   string
		wantFile  string
		wantSteps int
	}{
		{"sglang_torch_profiler_dir", map[string]string{"SGLANG_TORCH_PROFILER_DIR": "torchdir"}, []string{"--num-profiled-timesteps", "3"}, "torchdir", "mocked_fake_id_for_offline_generate-3_steps-global-rank0.trace.json.gz", 3},
		{"diffusion dir first", map[string]string{"SGLANG_DIFFUSION_TORCH_PROFILER_DIR": "diff", "SGLANG_TORCH_PROFILER_DIR": "torchdir"}, nil, "diff", "mocked_fake_id_for_offline_generate-5_steps-global-rank0.trace.json.gz", 5},
		{"./logs by default, all steps", nil, []string{"--num-profiled-timesteps", "-1"}, "logs", "mocked_fake_id_for_offline_generate-8_steps-global-rank0.trace.json.gz", 7},
		{"all stages", nil, []string{"--profile-all-stages"}, "logs", "mocked_fake_id_for_offline_generate-full_stages-global-rank0.trace.json.gz", 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := profiled(t, "head", wl, tt.env, tt.args...)
			if got := filepath.Join(filepath.Base(filepath.Dir(p.Name)), filepath.Base(p.Name)); got != filepath.Join(tt.wantDir, tt.wantFile) {
				t.Errorf("trace %s, want %s", got, filepath.Join(tt.wantDir, tt.wantFile))
			}
			if p.Steps != tt.wantSteps {
				t.Errorf("%d profiled steps, want %d", p.Steps, tt.wantSteps)
			}
		})
	}
}

// TestServerProfilesOnRequest: a request with profile: true writes its
// trace to the folder the server's environment named when it started.
func TestServerProfilesOnRequest(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SGLANG_DIFFUSION_TORCH_PROFILER_DIR", dir)
	w, err := readWorkload(filepath.Join(dir, "none"))
	if err != nil {
		t.Fatal(err)
	}
	w.sleepScale, w.steps = 0, 6
	s := NewServer(w, Behavior{}, "m", "launch", &bytes.Buffer{})
	t.Setenv("SGLANG_DIFFUSION_TORCH_PROFILER_DIR", t.TempDir()) // too late: the server has its folder
	three := 3
	if _, err := s.generate(request{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.generate(request{Profile: true, ProfiledSteps: &three}); err != nil {
		t.Fatal(err)
	}
	traces, _ := filepath.Glob(filepath.Join(dir, "*.trace.json.gz"))
	if len(traces) != 1 || filepath.Base(traces[0]) != "fake-request-1-3_steps-global-rank0.trace.json.gz" {
		t.Fatalf("traces %q, want the profiled request's alone, fake-request-1-3_steps-global-rank0.trace.json.gz", traces)
	}
	p, err := profile.ReadFile(traces[0], profile.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if gemm := p.Kernels[profile.Normalise(stepGEMM)]; p.Steps != 3 || gemm.Calls != 3 {
		t.Errorf("%d steps, GEMM %+v; want 3 steps of one GEMM each", p.Steps, gemm)
	}
}
