package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestMatrixWorkflow checks what actionlint cannot about the example
// matrix workflow: the merge job expects exactly the matrix's cases, the
// cells neither comment nor gate (the merge job does, over all cases), the
// merge job runs whatever the cells did, and the artifact actions are
// pinned by commit SHA with the version in a comment.
func TestMatrixWorkflow(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(".github/workflows/perf-matrix.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Needs    any    `yaml:"needs"`
			If       string `yaml:"if"`
			Strategy struct {
				Matrix struct {
					Include []map[string]string `yaml:"include"`
				} `yaml:"matrix"`
			} `yaml:"strategy"`
			Steps []struct {
				ID   string            `yaml:"id"`
				Uses string            `yaml:"uses"`
				With map[string]string `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatal(err)
	}
	perf, merge := wf.Jobs["perf"], wf.Jobs["merge"]
	var cases []string
	for _, cell := range perf.Strategy.Matrix.Include {
		cases = append(cases, cell["case"])
	}
	if len(cases) < 2 {
		t.Fatalf("matrix cases %v", cases)
	}
	if merge.Needs != "perf" || !strings.Contains(merge.If, "always()") {
		t.Errorf("merge job: needs %v, if %q; want needs perf and always()", merge.Needs, merge.If)
	}
	with := func(job string, steps []struct {
		ID   string            `yaml:"id"`
		Uses string            `yaml:"uses"`
		With map[string]string `yaml:"with"`
	}) map[string]string {
		for _, s := range steps {
			if s.Uses == "./" {
				return s.With
			}
		}
		t.Fatalf("job %s does not use the action", job)
		return nil
	}
	cell := with("perf", perf.Steps)
	if cell["comment"] != "never" || cell["fail-on-regression"] != "false" || !strings.Contains(cell["cases"], "${{ matrix.case }}") {
		t.Errorf("cell inputs %v: want comment never, fail-on-regression false, the case named from the matrix", cell)
	}
	m := with("merge", merge.Steps)
	if m["mode"] != "merge" || m["results"] == "" {
		t.Errorf("merge inputs %v", m)
	}
	if got := strings.Fields(m["expect-cases"]); !slices.Equal(got, cases) {
		t.Errorf("expect-cases %v, the matrix has %v", got, cases)
	}
	pinned := regexp.MustCompile(`uses: (actions/(?:upload|download)-artifact)@([0-9a-f]+)(?: # (v\d+\.\d+\.\d+))?`)
	found := pinned.FindAllStringSubmatch(string(b), -1)
	if len(found) != 2 {
		t.Fatalf("found %d artifact actions, want upload and download", len(found))
	}
	for _, f := range found {
		if len(f[2]) != 40 || f[3] == "" {
			t.Errorf("%s is not pinned by a full commit SHA with a version comment: %s", f[1], f[0])
		}
	}
}
