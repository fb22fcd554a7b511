// Package fakesglang stands in for `sglang generate` on machines without a
// GPU or sglang: it takes the same flags, runs a simulated pipeline (text
// encoding, a denoising loop, decoding) whose speed comes from a file in its
// working directory, and writes a perf dump in sglang's format with the
// durations it really took. Two commits that differ in that file differ in
// speed by a known amount, which is what the demo and the tests need.
//
// The file is WorkloadFile, lines of key=value:
//
//	step_ms=20        duration of one denoising step
//	steps=8           number of denoising steps
//	text_ms=5         text encoding
//	decode_ms=10      decoding
//	jitter=0.01       relative noise of each stage (deterministic per run)
//	mem_mb=1000       peak allocated memory to report
//	help=warmup-mode  advertise --warmup-mode and reject --warmup, like newer sglang
//	behavior=ok       or fail, hang, ignore-term, grandchild, setsid-grandchild,
//	                  nodump, baddump, hugedump, truncated, notjson, diffusers,
//	                  diffusers-late (the sign after 5 MiB of output), flood,
//	                  workflow-commands
//	argv_file=PATH    append each argv, as JSON, to PATH
//	env_file=PATH     write the environment, one variable a line, to PATH
//	confirm_step_ms=  step_ms for runs whose dump is named confirm-*, to
//	                  plant a change that a confirmation batch does not see
package fakesglang

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// WorkloadFile is read from the working directory.
const WorkloadFile = "fake_workload.txt"

// SleeperEnv makes the binary that embeds this package sleep for a long time
// when set to "1": the grandchild of the grandchild behaviour.
const SleeperEnv = "FAKESGLANG_SLEEPER"

type workload struct {
	stepMs, textMs, decodeMs, jitter, memMB float64
	confirmStepMs                           float64
	steps                                   int
	help, behavior, argvFile, envFile       string
}

func readWorkload() (workload, error) {
	w := workload{stepMs: 20, textMs: 5, decodeMs: 10, steps: 8, jitter: 0.01, memMB: 1000, behavior: "ok"}
	f, err := os.Open(WorkloadFile)
	if os.IsNotExist(err) {
		return w, nil
	}
	if err != nil {
		return w, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		num := func(dst *float64) error {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("%s: %q is not a number", k, v)
			}
			*dst = x
			return nil
		}
		switch k {
		case "step_ms":
			err = num(&w.stepMs)
		case "text_ms":
			err = num(&w.textMs)
		case "decode_ms":
			err = num(&w.decodeMs)
		case "jitter":
			err = num(&w.jitter)
		case "mem_mb":
			err = num(&w.memMB)
		case "confirm_step_ms":
			err = num(&w.confirmStepMs)
		case "steps":
			w.steps, err = strconv.Atoi(v)
		case "help":
			w.help = v
		case "behavior":
			w.behavior = v
		case "argv_file":
			w.argvFile = v
		case "env_file":
			w.envFile = v
		}
		if err != nil {
			return w, err
		}
	}
	return w, sc.Err()
}

// Main runs the fake with args (without the program name) and returns its
// exit status. args start with "generate", as sglang's do.
func Main(args []string, stdout, stderr io.Writer) int {
	if os.Getenv(SleeperEnv) == "1" {
		time.Sleep(time.Hour)
		return 0
	}
	w, err := readWorkload()
	if err != nil {
		fmt.Fprintf(stderr, "fake sglang: %s: %v\n", WorkloadFile, err)
		return 2
	}
	if w.argvFile != "" {
		if f, err := os.OpenFile(w.argvFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			b, _ := json.Marshal(args)
			fmt.Fprintf(f, "%s\n", b)
			f.Close()
		}
	}
	if w.envFile != "" {
		_ = os.WriteFile(w.envFile, []byte(strings.Join(os.Environ(), "\n")+"\n"), 0o644)
	}
	if len(args) == 0 || args[0] != "generate" {
		fmt.Fprintln(stderr, "usage: sglang generate --model-path M --prompt P --perf-dump-path F [--warmup]")
		return 2
	}
	fs := flag.NewFlagSet("sglang generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model-path", "", "model")
	prompt := fs.String("prompt", "", "prompt")
	dump := fs.String("perf-dump-path", "", "perf dump")
	steps := fs.Int("num-inference-steps", w.steps, "steps")
	fs.Int("height", 1024, "height")
	fs.Int("width", 1024, "width")
	seed := fs.Int64("seed", 0, "seed")
	warmup := false
	if w.help == "warmup-mode" {
		fs.String("warmup-mode", "off", "off|request|server")
		fs.Int("warmup-steps", 1, "warm-up steps")
	} else {
		fs.BoolVar(&warmup, "warmup", false, "run a one-step warm-up first")
	}
	fs.Usage = func() {
		// argparse's style, as sglang prints it: double dashes.
		fmt.Fprintln(stderr, "usage: sglang generate [-h] --model-path MODEL_PATH [--prompt PROMPT] [--perf-dump-path PERF_DUMP_PATH]")
		fs.VisitAll(func(f *flag.Flag) { fmt.Fprintf(stderr, "  --%s  %s\n", f.Name, f.Usage) })
	}
	if err := fs.Parse(args[1:]); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	fmt.Fprintf(stdout, "fake sglang: pid %d, model %s, %d steps\n", os.Getpid(), *model, *steps)

	switch w.behavior {
	case "fail":
		fmt.Fprintln(stderr, "Traceback (most recent call last):\n  File \"generate.py\", line 42\nRuntimeError: CUDA error: out of memory")
		return 1
	case "hang":
		time.Sleep(time.Hour)
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		fmt.Fprintln(stdout, "ignoring SIGTERM")
		time.Sleep(time.Hour)
	case "diffusers":
		fmt.Fprintln(stderr, "WARNING: Falling back to diffusers backend")
	case "diffusers-late":
		// The sign at byte 5 MiB, past any fixed head, then 1 MiB more,
		// past any fixed tail.
		line := strings.Repeat("x", 1023) + "\n"
		for i := 0; i < 5<<10; i++ {
			io.WriteString(stdout, line)
		}
		fmt.Fprintln(stdout, "WARNING: Falling back to diffusers backend")
		for i := 0; i < 1<<10; i++ {
			io.WriteString(stdout, line)
		}
	case "flood":
		line := strings.Repeat("x", 1023) + "\n"
		for i := 0; i < 64<<10; i++ { // 64 MiB
			io.WriteString(stdout, line)
		}
	case "workflow-commands":
		fmt.Fprintln(stdout, "::add-mask::secret\n::set-output name=verdict::no-change\n::error::fake\n::stop-commands::abc")
	case "grandchild", "setsid-grandchild":
		self, err := os.Executable()
		if err == nil {
			c := exec.Command(self)
			c.Env = append(os.Environ(), SleeperEnv+"=1")
			c.Stdout, c.Stderr = stdout, stderr
			// setsid leaves the process group, which group kills then miss.
			c.SysProcAttr = &syscall.SysProcAttr{Setsid: w.behavior == "setsid-grandchild"}
			if err := c.Start(); err == nil {
				fmt.Fprintf(stdout, "grandchild %d holds stdout\n", c.Process.Pid)
			}
		}
	}

	if *dump == "" {
		return 0 // sglang collects timings only with --perf-dump-path
	}
	if w.confirmStepMs > 0 && strings.HasPrefix(filepath.Base(*dump), "confirm-") {
		w.stepMs = w.confirmStepMs
	}
	d := simulate(w, *steps, *seed, *model, *prompt)
	switch w.behavior {
	case "nodump":
		return 0
	case "baddump":
		return writeFile(*dump, []byte(`{"total_duration_ms": "fast"}`), stderr)
	case "notjson":
		return writeFile(*dump, []byte("Segmentation fault (core dumped)\n"), stderr)
	case "truncated":
		b, _ := json.Marshal(d)
		return writeFile(*dump, b[:len(b)/2], stderr)
	case "hugedump":
		// 65 MiB of valid JSON: a dump no sglang writes.
		b, _ := json.Marshal(map[string]any{"total_duration_ms": 1, "padding": strings.Repeat("x", 65<<20)})
		return writeFile(*dump, b, stderr)
	}
	b, _ := json.MarshalIndent(d, "", "  ")
	return writeFile(*dump, b, stderr)
}

func writeFile(path string, b []byte, stderr io.Writer) int {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		fmt.Fprintln(stderr, "fake sglang:", err)
		return 1
	}
	return 0
}

type step struct {
	Name       string  `json:"name"`
	DurationMs float64 `json:"duration_ms"`
}

type denoiseStep struct {
	Step       int     `json:"step"`
	DurationMs float64 `json:"duration_ms"`
}

type mem struct {
	AllocatedMB     float64 `json:"allocated_mb"`
	ReservedMB      float64 `json:"reserved_mb"`
	PeakAllocatedMB float64 `json:"peak_allocated_mb"`
	PeakReservedMB  float64 `json:"peak_reserved_mb"`
}

// dump has sglang's keys in sglang's order.
type dump struct {
	Timestamp         string            `json:"timestamp"`
	RequestID         string            `json:"request_id"`
	CommitHash        string            `json:"commit_hash"`
	Tag               string            `json:"tag"`
	TotalDurationMs   float64           `json:"total_duration_ms"`
	Steps             []step            `json:"steps"`
	DenoiseStepsMs    []denoiseStep     `json:"denoise_steps_ms"`
	MemoryCheckpoints map[string]mem    `json:"memory_checkpoints"`
	Meta              map[string]string `json:"meta"`
}

// simulate sleeps through the pipeline and measures how long each stage
// really took.
func simulate(w workload, steps int, seed int64, model, prompt string) dump {
	// Noise that differs per run but needs no global random state.
	noise := func(i int) float64 {
		x := math.Sin(float64(time.Now().UnixNano()%1_000_003) + float64(i)*12.9898 + float64(seed))
		return 1 + w.jitter*x
	}
	stage := func(name string, ms float64) step {
		t := time.Now()
		time.Sleep(time.Duration(ms * float64(time.Millisecond)))
		return step{name, float64(time.Since(t).Nanoseconds()) / 1e6}
	}
	start := time.Now()
	d := dump{
		RequestID:  "mocked_fake_id_for_offline_generate",
		CommitHash: os.Getenv("SGLANG_GIT_COMMIT"),
		Tag:        "cli_generate",
		Meta:       map[string]string{"prompt": prompt, "model": model},
	}
	if d.CommitHash == "" {
		d.CommitHash = "N/A"
	}
	d.Steps = append(d.Steps, stage("InputValidationStage", 0), stage("TextEncodingStage", w.textMs*noise(1)))
	t := time.Now()
	for i := 0; i < steps; i++ {
		s := stage("step", w.stepMs*noise(10+i))
		d.DenoiseStepsMs = append(d.DenoiseStepsMs, denoiseStep{i, s.DurationMs})
	}
	d.Steps = append(d.Steps, step{"DenoisingStage", float64(time.Since(t).Nanoseconds()) / 1e6})
	d.Steps = append(d.Steps, stage("DecodingStage", w.decodeMs*noise(2)))
	d.TotalDurationMs = float64(time.Since(start).Nanoseconds()) / 1e6
	d.MemoryCheckpoints = map[string]mem{
		"before_forward": {w.memMB * 0.8, w.memMB * 0.9, w.memMB * 0.8, w.memMB * 0.9},
		"after_forward":  {w.memMB * 0.85, w.memMB * 1.2, w.memMB, w.memMB * 1.2},
	}
	d.Timestamp = time.Now().UTC().Format("2006-01-02T15:04:05.000000+00:00")
	return d
}
