package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/diffperf/diffperf/internal/action"
)

type actionStep struct {
	ID    string            `yaml:"id"`
	Uses  string            `yaml:"uses"`
	Run   string            `yaml:"run"`
	Shell string            `yaml:"shell"`
	Env   map[string]string `yaml:"env"`
	With  map[string]string `yaml:"with"`
}

type actionYAML struct {
	Inputs map[string]struct {
		Default  string `yaml:"default"`
		Required bool   `yaml:"required"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Value string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string       `yaml:"using"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"runs"`
}

// TestActionYAML checks what actionlint does not: the composite steps of
// action.yml against the binary that runs them.
func TestActionYAML(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a actionYAML
	if err := yaml.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	if a.Runs.Using != "composite" {
		t.Fatalf("runs.using = %q", a.Runs.Using)
	}
	// Every input of the binary is declared, with the binary's default.
	for name, def := range action.Defaults {
		in, ok := a.Inputs[name]
		if !ok {
			t.Errorf("input %s is not in action.yml", name)
			continue
		}
		if name != "github-token" && in.Default != def {
			t.Errorf("input %s: default %q in action.yml, %q in the binary", name, in.Default, def)
		}
	}
	if a.Inputs["github-token"].Default != "${{ github.token }}" {
		t.Errorf("github-token default %q", a.Inputs["github-token"].Default)
	}
	inputRef := regexp.MustCompile(`\$\{\{\s*inputs\.([a-z0-9-]+)\s*\}\}`)
	for _, m := range inputRef.FindAllStringSubmatch(string(b), -1) {
		if _, ok := a.Inputs[m[1]]; !ok {
			t.Errorf("inputs.%s is used but not declared", m[1])
		}
	}
	var run *actionStep
	for i := range a.Runs.Steps {
		s := &a.Runs.Steps[i]
		if s.Run != "" && s.Shell == "" {
			t.Errorf("step %d runs a script without shell:, which composite actions require", i)
		}
		if s.Uses != "" && !regexp.MustCompile(`@[0-9a-f]{40}$`).MatchString(s.Uses) {
			t.Errorf("step %d uses %s, not pinned by SHA", i, s.Uses)
		}
		if s.ID == "diffperf" {
			run = s
		}
	}
	if run == nil {
		t.Fatal("no step with id diffperf")
	}
	// Each input reaches the binary as INPUT_<NAME>, hyphens kept.
	for name := range a.Inputs {
		key := "INPUT_" + strings.ToUpper(name)
		if got, want := run.Env[key], "${{ inputs."+name+" }}"; got != want {
			t.Errorf("env %s = %q, want %q", key, got, want)
		}
	}
	// Each output is one the binary sets, in the Action's files of
	// internal/command.
	var src []byte
	for _, f := range []string{"action.go", "publish.go", "perfcmd.go", "actioncases.go"} {
		b, err := os.ReadFile(filepath.Join("internal", "command", f))
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	for name, o := range a.Outputs {
		if o.Value != "${{ steps.diffperf.outputs."+name+" }}" {
			t.Errorf("output %s = %q", name, o.Value)
		}
		if !strings.Contains(string(src), `"`+name+`"`) {
			t.Errorf("output %s is never set by internal/command/action.go, publish.go, perfcmd.go or actioncases.go", name)
		}
	}
	var names []string
	for n := range a.Outputs {
		names = append(names, n)
	}
	sort.Strings(names)
	want := []string{"base-e2e-ms", "case-counts", "comment-url", "dispatched", "e2e-delta-pct", "head-e2e-ms", "head-sha", "out-dir", "p-value", "report-path", "result-path", "verdict"}
	if !slices.Equal(names, want) {
		t.Errorf("outputs %v, want docs/action.md's outputs and case-counts %v", names, want)
	}
}

// TestActionYAMLInstall checks the steps that put the binary in place: the
// release binary first (.github/release/install.sh, from the action's own
// files), then Go and the build from source only when it says so, all
// before the benchmark step, which runs what they installed.
func TestActionYAMLInstall(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Runs struct {
			Steps []struct {
				Name             string            `yaml:"name"`
				ID               string            `yaml:"id"`
				If               string            `yaml:"if"`
				Uses             string            `yaml:"uses"`
				Run              string            `yaml:"run"`
				WorkingDirectory string            `yaml:"working-directory"`
				Env              map[string]string `yaml:"env"`
			} `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	const bin = `"$RUNNER_TEMP/diffperf-bin/diffperf"`
	const fromSource = "steps.install-diffperf.outputs.from-source == 'true'"
	install, bench, setupGo, build := -1, -1, -1, -1
	for i, s := range a.Runs.Steps {
		switch {
		case s.ID == "install-diffperf":
			install = i
		case s.ID == "diffperf":
			bench = i
		case strings.HasPrefix(s.Uses, "actions/setup-go@"):
			setupGo = i
		case strings.Contains(s.Run, "go build"):
			build = i
		}
	}
	if install < 0 || bench < 0 || setupGo < 0 || build < 0 {
		t.Fatalf("steps: install %d, benchmark %d, setup-go %d, go build %d; want all four", install, bench, setupGo, build)
	}
	if !(install < setupGo && setupGo < build && build < bench) {
		t.Errorf("step order: install %d, setup-go %d, go build %d, benchmark %d; want them in that order", install, setupGo, build, bench)
	}
	in := a.Runs.Steps[install]
	if in.Run != `bash .github/release/install.sh "$RUNNER_TEMP/diffperf-bin"` || in.If != "" {
		t.Errorf("install step: run %q if %q; want install.sh into $RUNNER_TEMP/diffperf-bin, always", in.Run, in.If)
	}
	if in.WorkingDirectory != "${{ github.action_path }}" {
		t.Errorf("install step: working-directory %q; want the action's own files", in.WorkingDirectory)
	}
	if in.Env["DIFFPERF_ACTION_REF"] != "${{ github.action_ref }}" || in.Env["DIFFPERF_ACTION_REPOSITORY"] != "${{ github.action_repository }}" {
		t.Errorf("install step env %v; want the action's ref and repository", in.Env)
	}
	if _, err := os.Stat(filepath.Join(".github", "release", "install.sh")); err != nil {
		t.Error(err)
	}
	for _, i := range []int{setupGo, build} {
		if got := a.Runs.Steps[i].If; got != fromSource {
			t.Errorf("step %q: if %q, want %q", a.Runs.Steps[i].Name, got, fromSource)
		}
	}
	if !strings.Contains(a.Runs.Steps[build].Run, "-o "+bin+" ") {
		t.Errorf("build step %q does not write %s", a.Runs.Steps[build].Run, bin)
	}
	if got, want := a.Runs.Steps[bench].Run, "exec "+bin+" action"; got != want {
		t.Errorf("benchmark step runs %q, want %q", got, want)
	}
	for i, s := range a.Runs.Steps[:bench] {
		if s.If != "" && s.If != fromSource {
			t.Errorf("step %d (%s) before the benchmark has if %q", i, s.Name, s.If)
		}
	}
}

// TestDockerfile checks the Dockerfile as far as this machine allows (there
// is no Docker engine): instructions and stages, then it runs the build
// stage's go build and the binary it makes.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	known := map[string]bool{"FROM": true, "ARG": true, "WORKDIR": true, "COPY": true, "RUN": true, "ENTRYPOINT": true, "CMD": true, "ENV": true, "LABEL": true, "USER": true}
	args := map[string]bool{}
	stages := map[string]bool{}
	var froms []string
	var buildRun string
	stage := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		if !known[instr] {
			t.Errorf("line %d: unknown instruction %q", n, instr)
		}
		switch instr {
		case "ARG":
			name, value, _ := strings.Cut(rest, "=")
			args[name] = true
			// An image is pinned by digest; this machine has no registry
			// to check the digest itself, only its form.
			if strings.HasSuffix(name, "_IMAGE") && !regexp.MustCompile(`^[a-z0-9./_-]+(:[\w.-]+)?@sha256:[0-9a-f]{64}$`).MatchString(value) {
				t.Errorf("line %d: %s=%s is not pinned by digest (name:tag@sha256:<64 hex digits>)", n, name, value)
			}
		case "FROM":
			for _, ref := range regexp.MustCompile(`\$\{(\w+)\}`).FindAllStringSubmatch(rest, -1) {
				if !args[ref[1]] {
					t.Errorf("line %d: FROM uses ${%s}, declared by no ARG before it", n, ref[1])
				}
			}
			froms = append(froms, rest)
			stage = ""
			if _, as, ok := strings.Cut(rest, " AS "); ok {
				stage = strings.TrimSpace(as)
				stages[stage] = true
			}
		case "COPY":
			if m := regexp.MustCompile(`--from=(\S+)`).FindStringSubmatch(rest); m != nil && !stages[m[1]] {
				t.Errorf("line %d: COPY --from=%s, no such stage", n, m[1])
			}
		case "RUN":
			if stage == "build" && strings.Contains(rest, "go build") {
				buildRun = rest
			}
		case "ENTRYPOINT", "CMD":
			var v []string
			if err := yaml.Unmarshal([]byte(rest), &v); err != nil || len(v) == 0 {
				t.Errorf("line %d: %s is not an exec-form JSON array: %s", n, instr, rest)
			}
		}
	}
	if len(froms) != 2 || !strings.Contains(froms[1], "${RUNTIME_IMAGE}") {
		t.Errorf("stages %v: want a build stage and a final stage FROM ${RUNTIME_IMAGE}", froms)
	}
	if buildRun == "" {
		t.Fatal("no go build in the build stage")
	}
	// Run the build stage's command here, writing to a temp folder.
	out := filepath.Join(t.TempDir(), "diffperf")
	script := strings.ReplaceAll(buildRun, "/out/diffperf", out)
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the build stage's %q failed: %v\n%s", script, err, b)
	}
	if b, err := exec.Command(out, "help").CombinedOutput(); err != nil || !strings.Contains(string(b), "diffperf compare") {
		t.Errorf("the built binary: %v\n%s", err, b)
	}
}

// TestActionYAMLBuildIgnoresPlantedModules runs the action's build-from-
// source step as the runner would, with a runner user's Go module cache
// (~/go/pkg/mod) in which an earlier benchmark edited go-github: the step
// builds from a module cache of its own, verified against go.sum, and the
// binary works, and a go env file (~/.config/go/env) that names a C
// compiler of the benchmark's is not read; the same build from the planted
// cache fails (so the test can fail). The modules come from this machine's module cache as a
// GOPROXY, since tests have no network. setup-go must not restore a cache.
func TestActionYAMLBuildIgnoresPlantedModules(t *testing.T) {
	if testing.Short() {
		t.Skip("builds diffperf twice with empty caches (about a minute on 2 cores)")
	}
	t.Parallel()
	b, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a actionYAML
	if err := yaml.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	var build *actionStep
	for i, s := range a.Runs.Steps {
		switch {
		case strings.HasPrefix(s.Uses, "actions/setup-go@") && s.With["cache"] != "false":
			t.Errorf("setup-go: cache %q, want false", s.With["cache"])
		case strings.Contains(s.Run, "go build"):
			build = &a.Runs.Steps[i]
		}
	}
	if build == nil {
		t.Fatal("no build step")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goBin, "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	realCache := strings.TrimSpace(string(out))
	const mod = "github.com/google/go-github/v62@v62.0.0"
	if _, err := os.Stat(filepath.Join(realCache, mod)); err != nil {
		t.Skipf("go-github is not in this machine's module cache: %v", err)
	}
	work := t.TempDir()
	home, runnerTemp := filepath.Join(work, "home"), filepath.Join(work, "runner-temp")
	planted := filepath.Join(home, "go", "pkg", "mod", mod)
	if err := os.MkdirAll(runnerTemp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(planted), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-r", filepath.Join(realCache, mod), filepath.Dir(planted)+"/").CombinedOutput(); err != nil {
		t.Fatalf("plant: %v\n%s", err, out)
	}
	if out, err := exec.Command("chmod", "-R", "u+w", filepath.Join(home, "go")).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	f, err := os.OpenFile(filepath.Join(planted, "github", "github.go"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\nfunc init() { planted by an earlier benchmark }\n")
	f.Close()
	// A go env file that names a C compiler of the benchmark's: the step
	// must not read it (GOENV=off), nor compile C (CGO_ENABLED=0).
	ccRan := filepath.Join(work, "cc-ran")
	evilCC := filepath.Join(work, "evil-cc")
	if err := os.WriteFile(evilCC, []byte("#!/bin/sh\necho ran >> '"+ccRan+"'\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(home, ".config", "go"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".config", "go", "env"), []byte("CGO_ENABLED=1\nCC="+evilCC+"\nGOFLAGS=-toolexec="+evilCC+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + filepath.Dir(goBin) + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + home, "RUNNER_TEMP=" + runnerTemp,
		"GOPROXY=file://" + filepath.Join(realCache, "cache", "download"), "GOTOOLCHAIN=local", "GONOSUMDB=*", "GOFLAGS="}
	for k, v := range build.Env {
		env = append(env, k+"="+v)
	}
	cmd := exec.Command("bash", "-e", "-c", build.Run)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the build step failed: %v\n%s", err, out)
	}
	if _, err := os.Stat(ccRan); err == nil {
		t.Errorf("the build step ran the C compiler named in ~/.config/go/env")
	}
	bin := filepath.Join(runnerTemp, "diffperf-bin", "diffperf")
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "diffperf ") {
		t.Errorf("the built binary: %v\n%s", err, out)
	}
	// The same build from the runner user's module cache takes the plant.
	cmd = exec.Command(goBin, "build", "-o", filepath.Join(work, "planted-diffperf"), ".")
	cmd.Env = append(env, "GOMODCACHE="+filepath.Join(home, "go", "pkg", "mod"), "GOCACHE="+filepath.Join(runnerTemp, "diffperf-go", "cache"), "GOFLAGS=-mod=readonly", "GOENV=off")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "planted by an earlier benchmark") && !strings.Contains(string(out), "syntax error") {
		t.Errorf("the build from the planted cache: %v; want its compile error\n%s", err, out)
	}
}
