package command

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/report"
)

// The fake's cuBLAS GEMM of every denoising step, as profile.Normalise
// names it: a slower step_ms makes it slower.
const fakeGEMM = "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel"

// TestRunProfile: after a confirmed regression (profile auto) one run a
// side is profiled and the report names what got slower; profile off and
// a verdict without regression run nothing extra; a spoiled trace is a
// note naming it, and the verdict is the one measured.
func TestRunProfile(t *testing.T) {
	t.Parallel()
	const base = "step_ms=20\nsteps=10\ntext_ms=2\ndecode_ms=5\njitter=0.005\nsleep_scale=0\n"
	const slow = "step_ms=23\nsteps=10\ntext_ms=2\ndecode_ms=5\njitter=0.005\nsleep_scale=0\n"
	tests := []struct {
		name, head string
		profile    string
		wantCode   int
		// wantProfiled is the number of runs with --profile (0 or 2).
		wantProfiled int
		check        func(t *testing.T, out string, r *resultWithProfile, md string)
	}{
		{name: "slower GEMM tops the table", head: slow, profile: "auto", wantCode: ExitRegression, wantProfiled: 2,
			check: func(t *testing.T, out string, r *resultWithProfile, md string) {
				p := r.Profile
				if p == nil || len(p.Rows) == 0 {
					t.Fatalf("no profile rows: %+v; notes %q", p, r.Notes)
				}
				if top := p.Rows[0]; top.Name != fakeGEMM || top.Class != "increased" || !(top.ChangeUs > 2500 && top.ChangeUs < 3500) {
					t.Errorf("top row %+v, want the GEMM increased by about 3 ms a step", top)
				}
				if p.AllStages || p.Base.Steps != 5 || p.Head.Steps != 5 || !p.PerStep {
					t.Errorf("profiled %+v, want the denoising steps only, 5 a side, set against the step median", p)
				}
				if !(p.ChangeUs > 2500) || !(p.MeasuredChangeMs > 2.5) {
					t.Errorf("summed change %v µs, measured %v ms: want both about +3 ms a step", p.ChangeUs, p.MeasuredChangeMs)
				}
				for _, tr := range []string{p.Base.Trace, p.Head.Trace} {
					if !strings.HasSuffix(tr, ".trace.json.gz") || !strings.HasPrefix(tr, "profile-") {
						t.Errorf("trace %q, want one in a profile- folder of the out folder", tr)
					}
					if _, err := os.Stat(filepath.Join(out, tr)); err != nil {
						t.Errorf("trace not kept: %v", err)
					}
				}
				for _, want := range []string{"<summary>" + report.ProfileTitle + "</summary>", "| " + fakeGEMM + " |", "ui.perfetto.dev"} {
					if !strings.Contains(md, want) {
						t.Errorf("report.md lacks %q", want)
					}
				}
				m, err := os.ReadFile(filepath.Join(out, outMarker))
				if err != nil || !strings.Contains(string(m), "wrote profile-base\n") || !strings.Contains(string(m), "wrote profile-head\n") {
					t.Errorf("the manifest does not list the profile folders: %v\n%s", err, m)
				}
			}},
		{name: "planted op is added", head: base + "extra_kernel=triton_poi_fused_planted_op_7\nextra_kernel_ms=3\n", profile: "auto", wantCode: ExitRegression, wantProfiled: 2,
			check: func(t *testing.T, out string, r *resultWithProfile, md string) {
				p := r.Profile
				if p == nil || len(p.Added) != 1 || p.Added[0].Name != "triton_poi_fused_planted_op" || p.Counts["added"] != 1 {
					t.Fatalf("added %+v, want the planted op alone; notes %q", p, r.Notes)
				}
				if top := p.Rows[0]; top.Name != "triton_poi_fused_planted_op" || top.Class != "added" || top.ChangeUs < 2500 {
					t.Errorf("top row %+v, want the planted op, added", top)
				}
				if !strings.Contains(md, "Added in head: triton_poi_fused_planted_op (3.00 ms, 1 call a step)") {
					t.Errorf("report.md does not list the added kernel:\n%s", md)
				}
			}},
		{name: "profile off", head: slow, profile: "off", wantCode: ExitRegression, wantProfiled: 0,
			check: func(t *testing.T, out string, r *resultWithProfile, md string) {
				if r.Profile != nil || strings.Contains(md, report.ProfileTitle) {
					t.Errorf("profile off made a profile: %+v", r.Profile)
				}
				for _, side := range []string{"base", "head"} {
					if _, err := os.Stat(filepath.Join(out, "profile-"+side)); !os.IsNotExist(err) {
						t.Errorf("profile off left profile-%s (%v)", side, err)
					}
				}
			}},
		{name: "no regression, auto", head: base, profile: "auto", wantCode: ExitOK, wantProfiled: 0,
			check: func(t *testing.T, out string, r *resultWithProfile, md string) {
				if r.Profile != nil {
					t.Errorf("an A/A was profiled: %+v", r.Profile)
				}
			}},
		{name: "always profiles an A/A", head: base, profile: "always", wantCode: ExitOK, wantProfiled: 2,
			check: func(t *testing.T, out string, r *resultWithProfile, md string) {
				if r.Profile == nil || r.Profile.Stage != "" {
					t.Fatalf("profile %+v, want one with no regressed stage; notes %q", r.Profile, r.Notes)
				}
			}},
		{name: "truncated trace", head: slow + "behavior=truncated-trace\n", profile: "auto", wantCode: ExitRegression, wantProfiled: 2,
			check: func(t *testing.T, out string, r *resultWithProfile, md string) {
				wantTraceNote(t, r, md, "truncated")
			}},
		{name: "trace not gzip", head: slow + "behavior=notgzip-trace\n", profile: "auto", wantCode: ExitRegression, wantProfiled: 2,
			check: func(t *testing.T, out string, r *resultWithProfile, md string) {
				wantTraceNote(t, r, md, "gzip")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			argvFile := filepath.Join(t.TempDir(), "argv")
			extra := "argv_file=" + argvFile + "\n"
			repo := repoWith(t, base+extra, tt.head+extra)
			out := filepath.Join(t.TempDir(), "out")
			code, _, stderr := runCLIEnv(t, nil, fakeEnviron(), "run", "--repo", repo, "--base", "main~1", "--head", "main", "--model", "m",
				"--runs", "4", "--min-delta-ms", "5", "--out", out, "--worktrees", filepath.Join(t.TempDir(), "wt"), "--format", "json",
				"--fail-on-regression", "--profile", tt.profile)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			argv, err := os.ReadFile(argvFile)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(argv), `"--profile"`); n != tt.wantProfiled {
				t.Errorf("%d runs with --profile, want %d:\n%s", n, tt.wantProfiled, argv)
			}
			if n := strings.Count(string(argv), `"--num-profiled-timesteps","5"`); n != tt.wantProfiled {
				t.Errorf("%d runs with --num-profiled-timesteps 5, want %d", n, tt.wantProfiled)
			}
			b, err := os.ReadFile(filepath.Join(out, "result.json"))
			if err != nil {
				t.Fatal(err)
			}
			var r resultWithProfile
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			md, err := os.ReadFile(filepath.Join(out, "report.md"))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, out, &r, string(md))
		})
	}
}

type resultWithProfile struct {
	Verdict string
	Notes   []string
	Profile *report.Profile
}

// wantTraceNote: head's spoiled trace is a note that names it, no profile
// is attached, and the verdict is the regression that was measured.
func wantTraceNote(t *testing.T, r *resultWithProfile, md, what string) {
	t.Helper()
	if r.Verdict != "regression" || r.Profile != nil {
		t.Errorf("verdict %q, profile %+v: want the measured regression and no profile", r.Verdict, r.Profile)
	}
	found := false
	for _, n := range r.Notes {
		if strings.Contains(n, "profile-head/") && strings.Contains(n, ".trace.json.gz") && strings.Contains(n, what) {
			found = true
		}
	}
	if !found {
		t.Errorf("no note names head's trace as %s: %q", what, r.Notes)
	}
	if !strings.Contains(md, "profile-head/") {
		t.Errorf("report.md does not name the trace:\n%s", md)
	}
}
