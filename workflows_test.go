package main

import (
	"os"
	"path/filepath"
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
	if cell["comment"] != "never" || cell["fail-on-regression"] != "false" || cell["status"] != "false" || !strings.Contains(cell["cases"], "${{ matrix.case }}") {
		t.Errorf("cell inputs %v: want comment never, fail-on-regression false, status false, the case named from the matrix", cell)
	}
	// The start job marks the merge job's comment: the same key.
	start := with("start", wf.Jobs["start"].Steps)
	if start["mode"] != "start" || start["comment-key"] == "" || start["comment-key"] != with("merge", merge.Steps)["comment-key"] {
		t.Errorf("start inputs %v: want mode start with the merge job's comment-key", start)
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

// eventFilter is a trigger's types; a trigger given as a list (schedule's
// crons) has none.
type eventFilter struct{ Types []string }

func (f *eventFilter) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	var v struct{ Types []string }
	err := n.Decode(&v)
	f.Types = v.Types
	return err
}

// exampleWorkflow is what the gate tests read of an example workflow.
type exampleWorkflow struct {
	On          map[string]eventFilter `yaml:"on"`
	Permissions map[string]string      `yaml:"permissions"`
	Concurrency struct {
		Group  string `yaml:"group"`
		Cancel bool   `yaml:"cancel-in-progress"`
	} `yaml:"concurrency"`
	Jobs map[string]struct {
		Name        string            `yaml:"name"`
		Permissions map[string]string `yaml:"permissions"`
		Steps       []struct {
			Uses string            `yaml:"uses"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func readExample(t *testing.T, file string) exampleWorkflow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(".github", "workflows", file))
	if err != nil {
		t.Fatal(err)
	}
	var wf exampleWorkflow
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return wf
}

// TestNoJobNamedLikeAStatus: a job skipped by if: reports success under
// its name, so no job of the example workflows may be named like a status
// context that diffperf posts (the default, "diffperf / ..." or an input).
func TestNoJobNamedLikeAStatus(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(".github", "workflows", "perf-*.yml"))
	if err != nil || len(files) < 4 {
		t.Fatalf("example workflows %v: %v", files, err)
	}
	for _, f := range files {
		wf := readExample(t, filepath.Base(f))
		contexts := []string{"diffperf"}
		for _, j := range wf.Jobs {
			for _, s := range j.Steps {
				if c := s.With["status-context"]; s.Uses == "./" && c != "" {
					contexts = append(contexts, c)
				}
			}
		}
		for id, j := range wf.Jobs {
			for _, name := range []string{id, j.Name} {
				for _, c := range contexts {
					if name != "" && (strings.EqualFold(name, c) || strings.HasPrefix(strings.ToLower(name), "diffperf /")) {
						t.Errorf("%s: job %q is named like the status context %q", f, name, c)
					}
				}
			}
		}
	}
}

// TestGateWorkflows: the GPU workflows no longer run on labels (mode gate
// does), and perf-gate.yml runs mode gate on pull_request_target with
// exactly statuses: write and pull-requests: write, one run per PR at a
// time without cancelling.
func TestGateWorkflows(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"perf-pr.yml", "perf-matrix.yml"} {
		wf := readExample(t, f)
		for _, ty := range wf.On["pull_request"].Types {
			if ty == "labeled" || ty == "unlabeled" {
				t.Errorf("%s triggers on %s: labels are perf-gate.yml's", f, ty)
			}
		}
		// A job that posts a status needs statuses: write, from the
		// workflow or its own permissions; a job that runs the PR's code
		// and posts nothing (a matrix cell) gets no write at all.
		for name, job := range wf.Jobs {
			perms := wf.Permissions
			if job.Permissions != nil {
				perms = job.Permissions
			}
			posts := true
			for _, st := range job.Steps {
				if st.Uses == "./" && st.With["status"] == "false" {
					posts = false
				}
			}
			switch {
			case posts && perms["statuses"] != "write":
				t.Errorf("%s job %s: permissions %v, want statuses: write", f, name, perms)
			case !posts && (perms["statuses"] != "" || perms["pull-requests"] != ""):
				t.Errorf("%s job %s posts nothing but may write: %v", f, name, perms)
			}
		}
	}
	wf := readExample(t, "perf-gate.yml")
	if got := wf.On["pull_request_target"].Types; !slices.Equal(got, []string{"labeled", "unlabeled", "opened", "synchronize", "reopened"}) || len(wf.On) != 1 {
		t.Errorf("perf-gate.yml triggers %v", wf.On)
	}
	if len(wf.Permissions) != 2 || wf.Permissions["statuses"] != "write" || wf.Permissions["pull-requests"] != "write" {
		t.Errorf("perf-gate.yml permissions %v, want statuses: write and pull-requests: write only", wf.Permissions)
	}
	if wf.Concurrency.Group != "perf-gate-${{ github.event.pull_request.number }}" || wf.Concurrency.Cancel {
		t.Errorf("perf-gate.yml concurrency %+v", wf.Concurrency)
	}
	modes := 0
	for _, j := range wf.Jobs {
		for _, s := range j.Steps {
			if s.Uses == "./" {
				modes++
				if s.With["mode"] != "gate" {
					t.Errorf("perf-gate.yml runs mode %q", s.With["mode"])
				}
			}
			if strings.HasPrefix(s.Uses, "actions/checkout@") && (s.With["ref"] != "" || s.With["repository"] != "") {
				t.Errorf("perf-gate.yml checks out %v: only the default branch, never the PR's code", s.With)
			}
		}
	}
	if modes != 1 {
		t.Errorf("perf-gate.yml uses the action %d times, want once", modes)
	}
}

// TestExamplesAgreeOnTheAcceptLabel: every step of the example workflows
// that runs the action in a mode that reads the accept label (generate,
// serve, merge, gate) and posts a status or a comment passes the same
// accept-label, the repository variable with its default, so that the
// label that perf-gate.yml honours is the one the reports name.
func TestExamplesAgreeOnTheAcceptLabel(t *testing.T) {
	t.Parallel()
	const want = "${{ vars.DIFFPERF_ACCEPT_LABEL || 'perf-regression-accepted' }}"
	files, err := filepath.Glob(filepath.Join(".github", "workflows", "perf-*.yml"))
	if err != nil || len(files) < 4 {
		t.Fatalf("example workflows %v: %v", files, err)
	}
	checked := 0
	for _, f := range files {
		wf := readExample(t, filepath.Base(f))
		for name, job := range wf.Jobs {
			for _, st := range job.Steps {
				if st.Uses != "./" {
					continue
				}
				switch st.With["mode"] {
				case "", "generate", "serve", "merge", "gate":
				default:
					continue // command and start read no label
				}
				if st.With["status"] == "false" && st.With["comment"] == "never" {
					continue // a matrix cell: the merge job reports
				}
				checked++
				if got := st.With["accept-label"]; got != want {
					t.Errorf("%s job %s (mode %q): accept-label %q, want %q", f, name, st.With["mode"], got, want)
				}
			}
		}
	}
	if checked < 4 {
		t.Errorf("%d steps checked, want the ones of perf-pr, perf-dispatch, perf-matrix's merge and perf-gate", checked)
	}
}
