package action

import (
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/input"
)

func TestParseInputsServe(t *testing.T) {
	t.Parallel()
	c, err := ParseInputs(getter(map[string]string{"model-path": "m"}))
	if err != nil || c.Mode != "generate" || c.Serve != nil {
		t.Fatalf("defaults: mode %q, serve %+v, %v; want generate without serve", c.Mode, c.Serve, err)
	}
	c, err = ParseInputs(getter(map[string]string{"model-path": "m", "mode": "serve"}))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Serve; s == nil || s.Endpoint != "images" || s.Requests != 5 || s.Warmup != 1 || c.Launches != 2 || c.MaxLaunches != 0 || len(s.Request) != 0 ||
		strings.Join(s.Template.Words(), " ") != "sglang serve --model-path {model} --port {port} {args}" {
		t.Errorf("serve defaults: %+v, launches %d..%d", c.Serve, c.Launches, c.MaxLaunches)
	}
	c, err = ParseInputs(getter(map[string]string{"mode": "serve", "serve-command": "python -m my.server --port={port}",
		"launches": "4", "max-launches": "6", "requests": "3", "warmup-requests": "0", "endpoint": "videos",
		"request": `{"size": "1280x720", "num_frames": 33, "seed": 42}`}))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Serve; s.Endpoint != "videos" || s.Requests != 3 || s.Warmup != 0 || c.Launches != 4 || c.MaxLaunches != 6 ||
		string(s.Request["num_frames"]) != "33" || c.ModelPath != "" {
		t.Errorf("serve values: %+v, launches %d..%d", s, c.Launches, c.MaxLaunches)
	}
}

func TestParseInputsServeErrorsNameTheInput(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   map[string]string
		name string
		want string
	}{
		{map[string]string{"mode": "bogus"}, "mode", `"bogus" is not one of generate, serve`},
		{map[string]string{"mode": "serve", "launches": "0"}, "launches", "not a positive whole number"},
		{map[string]string{"mode": "serve", "max-launches": "1"}, "max-launches", "1 is less than launches (2)"},
		{map[string]string{"mode": "serve", "requests": "x"}, "requests", "not a positive whole number"},
		{map[string]string{"mode": "serve", "warmup-requests": "-1"}, "warmup-requests", "not a whole number >= 0"},
		{map[string]string{"mode": "serve", "endpoint": "audio"}, "endpoint", "neither images nor videos"},
		{map[string]string{"mode": "serve", "request": "[1]"}, "request", "is not a JSON object"},
		{map[string]string{"mode": "serve", "request": `{"perf_dump_path": "/x"}`}, "request", "set by diffperf"},
		{map[string]string{"mode": "serve", "serve-command": "sglang serve --model-path {model}"}, "serve-command", "no {port}"},
		{map[string]string{"mode": "serve", "serve-command": "sglang serve --port {port} --model-path {model}", "model-path": ""}, "model-path", "required"},
	} {
		in := map[string]string{"model-path": "m"}
		for k, v := range tt.in {
			in[k] = v
		}
		if v, ok := tt.in["model-path"]; ok && v == "" {
			delete(in, "model-path")
		}
		_, err := ParseInputs(getter(in))
		ie, ok := input.As(err)
		if !ok || ie.Name != tt.name || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseInputs(%v) = %v, want an input error named %s with %q", tt.in, err, tt.name, tt.want)
		}
	}
}

// A serve case gets a comment key of its own; generate cases keep theirs.
func TestCaseKeyServe(t *testing.T) {
	t.Parallel()
	gen, _ := ParseInputs(getter(map[string]string{"model-path": "m"}))
	srv, _ := ParseInputs(getter(map[string]string{"model-path": "m", "mode": "serve"}))
	srv2, _ := ParseInputs(getter(map[string]string{"model-path": "m", "mode": "serve", "request": `{"seed": 1}`}))
	if f := gen.serveFields(); f != nil {
		t.Errorf("generate's key changed: %q", f)
	}
	k1, k2, k3 := CaseKey(gen, "H100"), CaseKey(srv, "H100"), CaseKey(srv2, "H100")
	if k1 == k2 || k2 == k3 {
		t.Errorf("keys %q %q %q, want three", k1, k2, k3)
	}
}
