package action

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/diffperf/diffperf/internal/input"
)

func TestParseCases(t *testing.T) {
	t.Parallel()
	yamlList := `
- name: flux
  model-path: black-forest-labs/FLUX.1-dev
  args: --num-inference-steps 28 --height "1024"
- name: wan_t2v
  model-path: Wan-AI/Wan2.1-T2V-1.3B-Diffusers
  prompt: "A cat; $(touch pwned)"
  args: [--num-frames, "81", "two words"]
  command: sglang generate --model-path {model} --prompt {prompt} --perf-dump-path {dump} {args}
- {name: defaults}
`
	jsonList := `[{"name": "flux", "model-path": "black-forest-labs/FLUX.1-dev", "args": "--num-inference-steps 28 --height 1024"},
	 {"name": "wan_t2v", "model-path": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "prompt": "A cat; $(touch pwned)", "args": ["--num-frames", "81", "two words"],
	  "command": "sglang generate --model-path {model} --prompt {prompt} --perf-dump-path {dump} {args}"},
	 {"name": "defaults"}]`
	for name, text := range map[string]string{"yaml": yamlList, "json": jsonList} {
		c, err := ParseInputs(getter(map[string]string{"cases": text, "prompt": "default prompt", "args": "--seed 1", "model-path": "default/model"}))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		type row struct {
			Name, Model, Prompt, Args, Command, Mode, Request string
		}
		var got []row
		for _, cs := range c.Cases {
			got = append(got, row{cs.Name, cs.ModelPath, cs.Prompt, strings.Join(cs.Args, "|"), strings.Join(cs.Command.Words(), " "), string(cs.Mode), string(cs.Request)})
		}
		def := "sglang generate --model-path {model} --prompt {prompt} --warmup --perf-dump-path {dump} {args}"
		want := []row{
			{"flux", "black-forest-labs/FLUX.1-dev", "default prompt", "--num-inference-steps|28|--height|1024", def, "generate", ""},
			{"wan_t2v", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "A cat; $(touch pwned)", "--num-frames|81|two words",
				"sglang generate --model-path {model} --prompt {prompt} --perf-dump-path {dump} {args}", "generate", ""},
			{"defaults", "default/model", "default prompt", "--seed|1", def, "generate", ""},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

func TestParseCasesRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		inputs map[string]string
		want   string
	}{
		{"not a list", map[string]string{"cases": `{"name": "flux"}`}, "cases: not a list of cases"},
		{"not YAML", map[string]string{"cases": "[{"}, "cases: not a YAML or JSON list"},
		{"empty list", map[string]string{"cases": "[]"}, "cases: the list is empty"},
		{"no name", map[string]string{"cases": `[{"model-path": "m"}]`}, "cases: case 1: no name"},
		{"unsafe name", map[string]string{"cases": `[{"name": "../etc", "model-path": "m"}]`}, `cases: case 1: case "../etc": a name is 1 to 64 letters`},
		{"name with space", map[string]string{"cases": `[{"name": "flux dev", "model-path": "m"}]`}, `case "flux dev": a name is`},
		{"twice", map[string]string{"cases": `[{"name": "a", "model-path": "m"}, {"name": "a", "model-path": "n"}]`}, `cases: case "a" is named twice`},
		{"unknown field", map[string]string{"cases": `[{"name": "a", "model": "m"}]`}, `cases: case 1: unknown field "model"`},
		{"no model", map[string]string{"cases": `[{"name": "a"}]`}, `cases: case 1: case "a": model-path is required`},
		{"bad args", map[string]string{"cases": `[{"name": "a", "model-path": "m", "args": "'open"}]`}, `case "a": args:`},
		{"bad command", map[string]string{"cases": `[{"name": "a", "model-path": "m", "command": "x {nope}"}]`}, `case "a": command: unknown placeholder {nope}`},
		{"serve", map[string]string{"cases": `[{"name": "a", "model-path": "m", "mode": "serve"}]`}, `case "a": mode serve is not available for cases yet`},
		{"request not object", map[string]string{"cases": `[{"name": "a", "model-path": "m", "request": "[1]"}]`}, `case "a": request: not a JSON object`},
		{"request in a generate case", map[string]string{"cases": `[{"name": "a", "model-path": "m", "request": {"seed": 1}}]`}, `case "a": request: only for mode serve`},
		{"mode", map[string]string{"model-path": "m", "mode": "turbo"}, `mode: "turbo" is not one of generate, serve, command, merge`},
		{"merge without results", map[string]string{"mode": "merge"}, "results: required with mode merge"},
		{"merge with cases", map[string]string{"mode": "merge", "results": "r", "cases": `[{"name": "a"}]`}, "cases: not used with mode merge"},
		{"results without merge", map[string]string{"model-path": "m", "results": "r"}, "results: used only with mode merge"},
		{"bad expected name", map[string]string{"mode": "merge", "results": "r", "expect-cases": "a, <b>"}, `expect-cases: case "<b>"`},
		{"expected twice", map[string]string{"mode": "merge", "results": "r", "expect-cases": "a a"}, `expect-cases: case "a" is named twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseInputs(getter(tt.inputs))
			if _, ok := input.As(err); !ok || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want an input error with %q", err, tt.want)
			}
		})
	}
}

func TestParseMergeInputs(t *testing.T) {
	t.Parallel()
	c, err := ParseInputs(getter(map[string]string{"mode": "merge", "results": "results/*/result.json\nmore  other/dir",
		"expect-cases": "flux, wan\nqwen"}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"results/*/result.json", "more", "other/dir"}, c.Results); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"flux", "wan", "qwen"}, c.ExpectCases); diff != "" {
		t.Errorf("expect-cases (-want +got):\n%s", diff)
	}
}

func TestMergedKey(t *testing.T) {
	t.Parallel()
	k := MergedKey("perf", "merge")
	if k != MergedKey("perf", "merge") || k == MergedKey("perf", "perf") || !strings.HasPrefix(k, "merged-") || len(k) != len("merged-")+16 {
		t.Errorf("MergedKey = %q: not stable, not distinct, or not of its form", k)
	}
	c := &Config{ModelPath: "merged", CommandRaw: "x"}
	if CaseKey(c, "") == k {
		t.Error("a case's key equals the merged key")
	}
}
