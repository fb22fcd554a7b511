package command

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/diffperf/diffperf/internal/action"
	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/fakesglang"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/protocol"
)

// demoHelp is what `diffperf demo --help` prints above its flags.
const demoHelp = `usage: diffperf demo [flags]

Runs the whole pipeline here, with no GPU and no GitHub: a throwaway
repository whose head commit slows a simulated denoising step, measured
with a fake sglang.`

// cmdDemo runs the whole pipeline on any machine with Go and git: a
// throwaway repository whose head commit plants a 10 % slower denoising step
// in a simulated workload, measured by `run` with the fake sglang that is
// built into this binary.
func cmdDemo(ctx context.Context, args []string, e Env) (f *finding, err error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	var vf verdictFlags
	vf.register(fs)
	runs := fs.Int("runs", 5, "runs per side")
	slowdown := fs.Float64("slowdown", 10, "planted slowdown of the head commit's denoising step, in percent")
	dir := fs.String("dir", "", "folder for the throwaway repository and the output (default: a new temporary folder)")
	mode := fs.String("mode", "generate", "generate (a process per run) or serve (warm servers of the fake answering 5 requests a launch: 2 launches a side, up to 4 while unclear, then a confirming batch for a regression)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, input.Errorf("demo", "unexpected argument %q", pos[0])
	}
	if err := vf.check(); err != nil {
		return nil, err
	}
	serving := action.Mode(*mode) == action.ModeServe
	if !serving && action.Mode(*mode) != action.ModeGenerate {
		return nil, input.Errorf("--mode", "%q is neither generate nor serve", *mode)
	}
	if *runs < 1 {
		return nil, input.Errorf("--runs", "%d is not a positive count", *runs)
	}
	if !(*slowdown > -100) || math.IsInf(*slowdown, 0) {
		return nil, input.Errorf("--slowdown", "%g is not a percentage above -100 (0 runs an A/A demo: head as fast as base)", *slowdown)
	}
	self, err := e.Executable()
	if err != nil {
		return nil, fmt.Errorf("demo: find this binary: %w", err)
	}
	root := *dir
	if root == "" {
		if root, err = os.MkdirTemp("", "diffperf-demo-"); err != nil {
			return nil, err
		}
	}
	repo := filepath.Join(root, "repo")
	extra := ""
	if serving {
		extra = demoServeWorkload
	}
	if err := makeDemoRepo(ctx, repo, *slowdown, extra, e.Environ()); err != nil {
		return nil, fmt.Errorf("demo: make the repository: %w", err)
	}
	fmt.Fprintf(e.Stderr, "demo: repository %s: base has a %g ms denoising step, head %.4g ms (+%g%%)\n", repo, demoStepMs, demoStepMs*(1+*slowdown/100), *slowdown)
	tmpl, err := bench.ParseTemplate(bench.QuoteWords([]string{self}) + " fake-sglang generate --model-path {model} --prompt {prompt} --warmup --perf-dump-path {dump} {args}")
	if err != nil {
		return nil, err
	}
	out := filepath.Join(root, "out")
	if err := prepareOutTo(out, e.Stderr); err != nil {
		return nil, err
	}
	defer sealOutInto(&err, out)
	spec := bench.Spec{
		Repo: repo, BaseRef: "main~1", HeadRef: "main", Template: tmpl, Model: "demo/simulated-dit", Prompt: action.DefaultPrompt,
		Args: []string{"--num-inference-steps", "12"}, PythonPath: action.DefaultPythonPath, Timeout: time.Minute, OutDir: out,
		WorktreeRoot: filepath.Join(root, "worktrees"), Env: e.Environ(), Progress: progressFor(e),
	}
	plan := protocol.Plan{Runs: *runs, MaxRuns: *runs, Confirm: true, Options: vf.opt}
	if serving {
		if spec.Serve, err = demoServe(self); err != nil {
			return nil, err
		}
		// The steps belong to each request, not to the server.
		spec.Args, spec.Serve.Request = nil, map[string]json.RawMessage{"num_inference_steps": json.RawMessage("12")}
		plan = protocol.ServePlan(2, 0, true, vf.opt)
		fmt.Fprintln(e.Stderr, "demo: mode serve: each side's fake server loads for 0.2 s, then answers 1 warm-up and 5 measured requests a launch; launches differ by up to ±0.2 %")
	}
	f, err = measureAndReport(ctx, spec, plan, "diffperf demo --mode "+*mode, vf, e)
	fmt.Fprintf(e.Stderr, "demo: all of it is in %s (repository, out folder); remove it with: rm -rf %s\n", root, bench.Quote(root))
	return f, err
}

// demoStepMs is the base's denoising step: 12 steps make a 600 ms loop, so
// a 10 % slowdown (60 ms) passes the default --min-delta-ms of 50.
const demoStepMs = 50.0

// makeDemoRepo creates a repository with two commits: the base workload and
// the head with a slower denoising step.
func makeDemoRepo(ctx context.Context, dir string, slowdownPct float64, extra string, environ []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	git := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		cmd.Env = append(environ, "GIT_AUTHOR_NAME=diffperf demo", "GIT_AUTHOR_EMAIL=demo@diffperf.invalid",
			"GIT_COMMITTER_NAME=diffperf demo", "GIT_COMMITTER_EMAIL=demo@diffperf.invalid", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	write := func(stepMs float64) error {
		w := fmt.Sprintf("# simulated workload read by `diffperf fake-sglang`\nstep_ms=%g\nsteps=12\ntext_ms=5\ndecode_ms=10\njitter=0.01\nmem_mb=1000\n%s", stepMs, extra)
		return os.WriteFile(filepath.Join(dir, fakesglang.WorkloadFile), []byte(w), 0o644)
	}
	steps := []func() error{
		func() error { return git("init", "-q", "-b", "main") },
		func() error { return write(demoStepMs) },
		func() error {
			return os.WriteFile(filepath.Join(dir, "README.md"), []byte("Throwaway repository of `diffperf demo`.\n"), 0o644)
		},
		func() error { return git("add", ".") },
		func() error { return git("commit", "-q", "-m", "base: simulated pipeline") },
		func() error { return write(demoStepMs * (1 + slowdownPct/100)) },
		func() error {
			if slowdownPct == 0 {
				// An A/A demo: the head commit changes nothing.
				return git("commit", "-q", "--allow-empty", "-m", "head: the same workload (A/A)")
			}
			return git("commit", "-q", "-am", fmt.Sprintf("head: denoising step %+g%%", slowdownPct))
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// demoServeWorkload is what mode serve adds to the demo's workload: a
// model load, small offsets between launches, and requests that take a
// quarter of the told time (the dumps tell the whole).
const demoServeWorkload = "load_ms=200\nlaunch_jitter=0.002\nsleep_scale=0.25\n"

// demoServe is mode serve on the fake server built into this binary.
func demoServe(self string) (*bench.Serve, error) {
	tmpl, err := bench.ParseServeTemplate(bench.QuoteWords([]string{self}) + " fake-sglang serve --model-path {model} --port {port} {args}")
	if err != nil {
		return nil, err
	}
	return &bench.Serve{Template: tmpl, Endpoint: bench.EndpointImages, Requests: 5, Warmup: 1, Together: bench.TogetherAuto}, nil
}
