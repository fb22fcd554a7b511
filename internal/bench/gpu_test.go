package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/report"
	"github.com/google/go-cmp/cmp"
)

const smiOutput = "NVIDIA H100 80GB HBM3, 550.90.07, 1980, 2619, 34, 71.20, 700.00, 0x0000000000000000\n" +
	"NVIDIA H100 80GB HBM3, 550.90.07, 1755, 2619, 61, 402.10, 700.00, 0x0000000000000024\n"

func TestParseGPUs(t *testing.T) {
	t.Parallel()
	got, err := parseGPUs(smiOutput)
	if err != nil {
		t.Fatal(err)
	}
	want := []dump.GPU{
		{Name: "NVIDIA H100 80GB HBM3", Driver: "550.90.07", SMClockMHz: "1980", MemClockMHz: "2619", TemperatureC: "34", PowerW: "71.20", PowerLimitW: "700.00", ThrottleReasons: "none"},
		{Name: "NVIDIA H100 80GB HBM3", Driver: "550.90.07", SMClockMHz: "1755", MemClockMHz: "2619", TemperatureC: "61", PowerW: "402.10", PowerLimitW: "700.00", ThrottleReasons: "sw_power_cap,sw_thermal_slowdown"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseGPUs (-want +got):\n%s", diff)
	}
	if _, err := parseGPUs("only, three, fields\n"); err == nil {
		t.Error("short rows accepted")
	}
	if got := throttleReasons("[N/A]"); got != "[N/A]" {
		t.Errorf("throttleReasons([N/A]) = %q", got)
	}
	if got := throttleReasons("0x1000"); got != "0x1000" {
		t.Errorf("unknown bit = %q", got)
	}
}

func TestReadGPUs(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	script := "#!/bin/sh\ncase \"$1\" in --query-gpu=*) printf '%s' '" + strings.TrimSpace(smiOutput) + "';; *) exit 9;; esac\n"
	if err := os.WriteFile(filepath.Join(bin, "nvidia-smi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	gpus, note := ReadGPUs(context.Background(), []string{"PATH=" + bin + ":/usr/bin:/bin"})
	if len(gpus) != 2 || note != "" {
		t.Errorf("ReadGPUs with nvidia-smi = %d GPUs, note %q", len(gpus), note)
	}
	gpus, note = ReadGPUs(context.Background(), []string{"PATH=" + t.TempDir()})
	if len(gpus) != 0 || !strings.Contains(note, "not on the PATH") {
		t.Errorf("ReadGPUs without nvidia-smi = %v, %q", gpus, note)
	}
	if err := os.WriteFile(filepath.Join(bin, "nvidia-smi"), []byte("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2; exit 9\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, note = ReadGPUs(context.Background(), []string{"PATH=" + bin + ":/usr/bin:/bin"}); !strings.Contains(note, "NVIDIA-SMI has failed") {
		t.Errorf("a failing nvidia-smi gave note %q", note)
	}
}

func TestMeasureRecordsGPUs(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	script := "#!/bin/sh\nprintf '%s' '" + strings.SplitN(smiOutput, "\n", 2)[0] + "'\n"
	if err := os.WriteFile(filepath.Join(bin, "nvidia-smi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	repo, _, _ := newRepo(t, workload("step_ms", "1"), workload("step_ms", "1"))
	s := spec(t, repo, "main~1", "main")
	s.Env = append(s.Env, "PATH="+bin+":"+fakeDir+":"+os.Getenv("PATH"))
	r := measure(t, s, 1)
	if r.Env == nil || len(r.Env.Before) != 1 || len(r.Env.After) != 1 || r.Env.Before[0].Name != "NVIDIA H100 80GB HBM3" {
		t.Errorf("environment = %+v, want one GPU before and after", r.Env)
	}
	if md := report.Markdown(r, report.RenderOptions{}); !strings.Contains(md, "NVIDIA H100 80GB HBM3") {
		t.Error("the report does not name the GPU")
	}
}
