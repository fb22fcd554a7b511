package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestBisectWorkflow: perf-bisect.yml runs mode bisect on
// workflow_dispatch with inputs good, bad, issue-number and pr-number
// passed to the action, with contents: read, issues: write and
// pull-requests: write only, behind DIFFPERF_ENABLED, on perf-pr.yml's
// runner labels, and uploads the out folder.
func TestBisectWorkflow(t *testing.T) {
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
	wf, pr := read("perf-bisect.yml"), read("perf-pr.yml")
	on, _ := wf["on"].(map[string]any)
	dispatch, _ := on["workflow_dispatch"].(map[string]any)
	inputs, _ := dispatch["inputs"].(map[string]any)
	if len(on) != 1 || len(inputs) != 4 {
		t.Errorf("triggers %v, want workflow_dispatch alone with inputs good, bad, issue-number, pr-number", on)
	}
	perms, _ := wf["permissions"].(map[string]any)
	if len(perms) != 3 || perms["contents"] != "read" || perms["issues"] != "write" || perms["pull-requests"] != "write" {
		t.Errorf("permissions %v, want contents: read, issues: write, pull-requests: write", perms)
	}
	job := wf["jobs"].(map[string]any)["bisect"].(map[string]any)
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
			mode = with["mode"] == "bisect"
			for name := range inputs {
				if with[name] != "${{ inputs."+name+" }}" {
					t.Errorf("the action's %s is %v, want the input", name, with[name])
				}
			}
		case strings.HasPrefix(uses, "actions/upload-artifact@"):
			upload = with["path"] == "${{ steps.perf.outputs.out-dir }}"
		}
	}
	if !mode || !upload {
		t.Errorf("steps: mode bisect %v, uploads out-dir %v", mode, upload)
	}
}
