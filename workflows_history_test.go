package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestHistoryWorkflow: perf-main.yml runs mode history on pushes to main
// and on a schedule, with contents: write, issues: write and actions:
// write (the bisect dispatch) only, one job
// at a time and none cancelled, behind DIFFPERF_ENABLED, on the same
// runner labels as perf-pr.yml, and uploads the out folder.
func TestHistoryWorkflow(t *testing.T) {
	t.Parallel()
	read := func(file string) map[string]any {
		b, err := os.ReadFile(filepath.Join(".github", "workflows", file))
		if err != nil {
			t.Fatal(err)
		}
		var wf map[string]any
		if err := yaml.Unmarshal(b, &wf); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		return wf
	}
	wf, pr := read("perf-main.yml"), read("perf-pr.yml")
	on, _ := wf["on"].(map[string]any)
	push, _ := on["push"].(map[string]any)
	if len(on) != 2 || on["schedule"] == nil || len(push["branches"].([]any)) != 1 || push["branches"].([]any)[0] != "main" {
		t.Errorf("triggers %v, want push to main and schedule", on)
	}
	perms, _ := wf["permissions"].(map[string]any)
	if len(perms) != 3 || perms["contents"] != "write" || perms["issues"] != "write" || perms["actions"] != "write" {
		t.Errorf("permissions %v, want contents: write, issues: write and actions: write only", perms)
	}
	conc, _ := wf["concurrency"].(map[string]any)
	if conc["group"] != "${{ github.workflow }}" || conc["cancel-in-progress"] != false {
		t.Errorf("concurrency %v, want one group per workflow, not cancelled", conc)
	}
	job := wf["jobs"].(map[string]any)["history"].(map[string]any)
	prJob := pr["jobs"].(map[string]any)["perf"].(map[string]any)
	if !strings.Contains(job["if"].(string), "vars.DIFFPERF_ENABLED == 'true'") {
		t.Errorf("if: %v, want the DIFFPERF_ENABLED guard", job["if"])
	}
	if got, want := job["runs-on"], prJob["runs-on"]; !equalList(got, want) {
		t.Errorf("runs-on %v, want perf-pr.yml's %v", got, want)
	}
	var mode, upload bool
	for _, s := range job["steps"].([]any) {
		step := s.(map[string]any)
		with, _ := step["with"].(map[string]any)
		switch uses, _ := step["uses"].(string); {
		case uses == "./":
			mode = with["mode"] == "history"
		case strings.HasPrefix(uses, "actions/upload-artifact@"):
			upload = with["path"] == "${{ steps.perf.outputs.out-dir }}"
		}
	}
	if !mode || !upload {
		t.Errorf("steps: mode history %v, uploads out-dir %v", mode, upload)
	}
	b, _ := os.ReadFile(filepath.Join(".github", "workflows", "perf-main.yml"))
	if !strings.Contains(string(b), "# In your repository: uses: diffperf/diffperf@<full commit SHA> # v1.x") {
		t.Error("perf-main.yml lacks the comment on uses: ./")
	}
}

func equalList(a, b any) bool {
	x, _ := a.([]any)
	y, _ := b.([]any)
	if len(x) != len(y) || len(x) == 0 {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}
