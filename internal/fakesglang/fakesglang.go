// Package fakesglang stands in for `sglang generate` and `sglang serve` on
// machines without a GPU or sglang: it takes the same flags, simulates a pipeline (text
// encoding, a denoising loop, decoding) whose speed comes from a file in its
// working directory, and writes a perf dump in sglang's format. Two commits
// that differ in that file differ in speed by a known amount, which is what
// `diffperf demo` and the tests need.
//
// The dump holds the durations the file tells, each with seeded noise, and
// never the time its own sleeps took: a verdict on the fake must not depend
// on how loaded the machine is (docs/development.md). The noise of a run
// comes from the run's identity (DIFFPERF_SIDE, DIFFPERF_RUN, the dump's
// base name, --seed), so the same run always writes the same numbers.
//
// The file is WorkloadFile, lines of key=value ("#" starts a comment):
//
//	step_ms=20        duration of one denoising step
//	steps=8           number of denoising steps
//	text_ms=5         text encoding
//	decode_ms=10      decoding
//	jitter=0.01       relative noise of each stage and step, at most ±jitter
//	mem_mb=1000       peak allocated memory to report
//	help=warmup-mode  advertise --warmup-mode and reject --warmup, like newer sglang
//	confirm_step_ms=  step_ms for runs whose dump is named confirm-*, to
//	                  plant a change that a confirmation batch does not see
//	sleep_scale=1     sleep this times the told durations, to look real;
//	                  0 does not sleep (the dump is the same either way)
//	load_ms=0         `sglang serve` only: time to load the model before
//	                  the port opens (slept for real; no dump depends on it)
//	launch_jitter=0   `sglang serve` only: relative offset of every
//	                  duration of one launch, at most ±launch_jitter, seeded
//	                  by the launch's identity (DIFFPERF_LAUNCH): requests
//	                  of one server share it, as real ones share its state
//	extra_kernel=     a planted new op: each denoising step also runs a
//	                  kernel of this name (and lasts extra_kernel_ms longer);
//	                  a profile shows it as an added kernel
//	extra_kernel_ms=1 the extra kernel's duration, with extra_kernel only
//	behavior=ok       the only behaviour of this package
//
// With --profile (and --num-profiled-timesteps N, --profile-all-stages),
// `sglang generate` also writes a small gzipped Chrome trace, as sglang's
// torch profiler does, to SGLANG_DIFFUSION_TORCH_PROFILER_DIR (else
// SGLANG_TORCH_PROFILER_DIR, else ./logs), named
// <request_id>-<N>_steps-global-rank0.trace.json.gz. Its kernels follow
// the workload: each denoising step holds fixed kernels (attention, a norm,
// a copy) and a GEMM that takes the rest of step_ms, so a slower step_ms
// is a slower GEMM; extra_kernel is a kernel of its own (see trace.go).
// `sglang serve` profiles a request whose JSON has profile: true (and
// num_profiled_timesteps, profile_all_stages), into the folder its
// environment named when it started, named fake-request-<n>-....
//
// `sglang serve --model-path M --port P` is the warm server of mode serve:
// GET /health, GET /v1/models, POST /v1/images/generations and POST
// /v1/videos with GET /v1/videos/{id}, on 127.0.0.1, one request at a time;
// each request's dump goes to its perf_dump_path (see serve.go).
//
// Faults on request (behavior=fail, hang, flood, ...; argv_file=, env_file=)
// are test-only: the program internal/fakesglang/cmd/sglang, which the tests
// build with Build, adds them through a Hook. Main, which the release binary
// runs as `diffperf fake-sglang`, has no hook and refuses those keys.
package fakesglang

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// WorkloadFile is read from the working directory.
const WorkloadFile = "fake_workload.txt"

// Hook turns the workload's keys that the simulator does not know (and
// behavior= other than ok) into a Behavior, or refuses them with an error
// that names the key. Only test builds have one.
type Hook func(extra map[string]string) (Behavior, error)

// Behavior is how a test build departs from the simulation, at three points
// of a run. Nil fields do nothing.
type Behavior struct {
	// Start runs before the arguments are parsed, so it sees every call,
	// --help included.
	Start func(args []string)
	// Generate runs once the arguments are parsed, before the pipeline;
	// stop ends the run there with exit status code.
	Generate func(stdout, stderr io.Writer) (code int, stop bool)
	// WriteDump may replace writing the dump (sglang's JSON in dump):
	// done means it did, or withheld it, with exit status code.
	WriteDump func(path string, dump []byte, stderr io.Writer) (code int, done bool)
	// Healthy, in `sglang serve`, may keep GET /health from answering 200.
	Healthy func() bool
	// Request, in `sglang serve`, sees the server's n-th request (1-based)
	// before it runs: status other than 0 answers it with that HTTP
	// status; exit ends the server with exit status code, unanswered.
	Request func(n int, stderr io.Writer) (status int, exit bool, code int)
	// Trace, in `sglang generate --profile`, may spoil the trace just
	// written at path.
	Trace func(path string) error
}

type workload struct {
	stepMs, textMs, decodeMs, jitter, memMB float64
	confirmStepMs, sleepScale               float64
	extraKernelMs                           float64 // with extraKernel only
	extraKernel                             string
	loadMs, launchJitter                    float64
	steps                                   int
	help                                    string
	extra                                   map[string]string // keys for a Hook
}

func readWorkload(path string) (workload, error) {
	w := workload{stepMs: 20, textMs: 5, decodeMs: 10, steps: 8, jitter: 0.01, memMB: 1000, sleepScale: 1,
		extraKernelMs: 1, extra: map[string]string{}}
	f, err := os.Open(path)
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
		// num reads a duration, size or factor: finite and not negative.
		num := func(dst *float64) error {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || !(x >= 0) || x > 1e9 {
				return fmt.Errorf("%s: %q is not a number from 0 to 1e9", k, v)
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
			if err = num(&w.jitter); err == nil && w.jitter >= 1 {
				err = fmt.Errorf("jitter: %q is not below 1", v)
			}
		case "mem_mb":
			err = num(&w.memMB)
		case "confirm_step_ms":
			err = num(&w.confirmStepMs)
		case "sleep_scale":
			err = num(&w.sleepScale)
		case "load_ms":
			err = num(&w.loadMs)
		case "launch_jitter":
			if err = num(&w.launchJitter); err == nil && w.launchJitter >= 1 {
				err = fmt.Errorf("launch_jitter: %q is not below 1", v)
			}
		case "steps":
			if w.steps, err = strconv.Atoi(v); err != nil || w.steps < 0 {
				err = fmt.Errorf("steps: %q is not a count", v)
			}
		case "help":
			w.help = v
		case "extra_kernel":
			w.extraKernel = v
		case "extra_kernel_ms":
			err = num(&w.extraKernelMs)
		case "behavior":
			if v != "ok" {
				w.extra[k] = v
			}
		default:
			w.extra[k] = v
		}
		if err != nil {
			return w, err
		}
	}
	if w.extraKernel == "" {
		w.extraKernelMs = 0
	}
	return w, sc.Err()
}

// Main runs the fake with args (without the program name) and returns its
// exit status. args start with "generate" or "serve", as sglang's do. It is the
// simulator alone: a workload that asks for a test-only fault is refused.
func Main(args []string, stdout, stderr io.Writer) int {
	return Run(args, stdout, stderr, nil)
}

// refuse is the Hook of Main: every key it gets is one it does not have.
func refuse(extra map[string]string) (Behavior, error) {
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	k := keys[0]
	return Behavior{}, fmt.Errorf("%s=%s: unknown key or behaviour; faults on request (behavior=, argv_file=, env_file=) exist only in the test build of the fake, internal/fakesglang/cmd/sglang", k, extra[k])
}

// Run is Main with a hook for the workload keys the simulator does not know;
// a nil hook refuses them.
func Run(args []string, stdout, stderr io.Writer, hook Hook) int {
	w, err := readWorkload(WorkloadFile)
	var b Behavior
	if err == nil && len(w.extra) > 0 {
		if hook == nil {
			hook = refuse
		}
		b, err = hook(w.extra)
	}
	if err != nil {
		fmt.Fprintf(stderr, "fake sglang: %s: %v\n", WorkloadFile, err)
		return 2
	}
	if b.Start != nil {
		b.Start(args)
	}
	if len(args) > 0 && args[0] == "serve" {
		return serve(w, b, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "generate" {
		fmt.Fprintln(stderr, "usage: sglang generate --model-path M --prompt P --perf-dump-path F [--warmup]\n       sglang serve --model-path M --port P")
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
	prof := addProfileFlags(fs)
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
	if *steps < 0 {
		fmt.Fprintf(stderr, "fake sglang: --num-inference-steps %d is negative\n", *steps)
		return 2
	}
	fmt.Fprintf(stdout, "fake sglang: pid %d, model %s, %d steps\n", os.Getpid(), *model, *steps)
	if b.Generate != nil {
		if code, stop := b.Generate(stdout, stderr); stop {
			return code
		}
	}
	if *dump == "" && !prof.on {
		return 0 // sglang collects timings only with --perf-dump-path
	}
	if w.confirmStepMs > 0 && strings.HasPrefix(filepath.Base(*dump), "confirm-") {
		w.stepMs = w.confirmStepMs
	}
	d := simulate(w, *steps, runID(os.Getenv, *dump, *seed))
	d.Meta = map[string]string{"prompt": *prompt, "model": *model}
	if d.CommitHash = os.Getenv("SGLANG_GIT_COMMIT"); d.CommitHash == "" {
		d.CommitHash = "N/A"
	}
	// Sleep to look like work; the dump does not depend on how long it took.
	time.Sleep(time.Duration(d.TotalDurationMs * w.sleepScale * float64(time.Millisecond)))
	d.Timestamp = time.Now().UTC().Format("2006-01-02T15:04:05.000000+00:00")
	if prof.on {
		path, err := writeTrace(profileDir(os.Getenv), d.RequestID, w, d, *prof)
		if err == nil && b.Trace != nil {
			err = b.Trace(path)
		}
		if err != nil {
			fmt.Fprintln(stderr, "fake sglang: profiler:", err)
			return 1
		}
		fmt.Fprintln(stdout, "Saving profiler traces to:", path)
	}
	if *dump == "" {
		return 0
	}
	j, _ := json.MarshalIndent(d, "", "  ")
	if b.WriteDump != nil {
		if code, done := b.WriteDump(*dump, j, stderr); done {
			return code
		}
	}
	return writeFile(*dump, j, stderr)
}

func writeFile(path string, b []byte, stderr io.Writer) int {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		fmt.Fprintln(stderr, "fake sglang:", err)
		return 1
	}
	return 0
}

// calls numbers the runs of this process, for runID.
var calls atomic.Int64

// runID names a run for its noise. Under diffperf, the run's side and
// number, the dump's base name (a confirmation batch's confirm-head-01.json
// is not head-01.json) and --seed: the same run gets the same numbers on
// any machine, and the sides of an A/A comparison get different ones.
// Without diffperf's variables, the dump's path and a count of this
// process's runs stand in. Never time or pid: they would make a verdict on
// the fake a matter of chance.
func runID(getenv func(string) string, dumpPath string, seed int64) string {
	side, run := getenv("DIFFPERF_SIDE"), getenv("DIFFPERF_RUN")
	if side == "" && run == "" {
		return fmt.Sprintf("path=%s\x00call=%d\x00seed=%d", dumpPath, calls.Add(1), seed)
	}
	return fmt.Sprintf("side=%s\x00run=%s\x00dump=%s\x00seed=%d", side, run, filepath.Base(dumpPath), seed)
}

// noise is the pseudo-random u in [-1, 1) of item i of the run named id:
// FNV-64a of both, through splitmix64's finaliser so that ids and indices
// that differ in one byte still scatter over the whole range.
func noise(id string, i int) float64 {
	h := fnv.New64a()
	io.WriteString(h, id)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(i))
	h.Write(b[:])
	x := h.Sum64()
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11)/(1<<52) - 1 // 53 bits: [0, 2) - 1
}

// Items of a run, for noise: the stages, then the denoising steps.
const (
	itemText = iota
	itemDecode
	itemFirstStep
)

// simulate is the pipeline's dump, without timestamp, commit or meta: each
// stage and step lasts what the workload says, times 1 + jitter × u, and the
// total is the sum of the stages.
func simulate(w workload, steps int, id string) dump {
	told := func(ms float64, item int) float64 { return ms * (1 + w.jitter*noise(id, item)) }
	d := dump{RequestID: "mocked_fake_id_for_offline_generate", Tag: "cli_generate"}
	d.Steps = append(d.Steps, step{"InputValidationStage", 0}, step{"TextEncodingStage", told(w.textMs, itemText)})
	loop := 0.0
	for i := 0; i < steps; i++ {
		ms := told(w.stepMs+w.extraKernelMs, itemFirstStep+i)
		d.DenoiseStepsMs = append(d.DenoiseStepsMs, denoiseStep{i, ms})
		loop += ms
	}
	d.Steps = append(d.Steps, step{"DenoisingStage", loop}, step{"DecodingStage", told(w.decodeMs, itemDecode)})
	for _, s := range d.Steps {
		d.TotalDurationMs += s.DurationMs
	}
	d.MemoryCheckpoints = map[string]mem{
		"before_forward": {w.memMB * 0.8, w.memMB * 0.9, w.memMB * 0.8, w.memMB * 0.9},
		"after_forward":  {w.memMB * 0.85, w.memMB * 1.2, w.memMB, w.memMB * 1.2},
	}
	return d
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
