package command

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/diffperf/diffperf/internal/action"
	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/protocol"
	"github.com/diffperf/diffperf/internal/report"
)

// serveFlags are the flags of --mode on run and bench: generate (a fresh
// process per run, the default) or serve (warm servers, see bench.Serve).
type serveFlags struct {
	mode, command, endpoint, request, together string
	launches, maxLaunches, requests, warmup    int
}

// serveOnly are the flags that mean something only with --mode serve;
// generateOnly those that mean nothing with it.
var (
	serveOnly    = []string{"serve-command", "launches", "max-launches", "requests", "warmup-requests", "endpoint", "request", "together"}
	generateOnly = []string{"runs", "max-runs", "command"}
)

// serving reports whether --mode is serve.
func (f *serveFlags) serving() bool { return action.Mode(f.mode) == action.ModeServe }

func (f *serveFlags) register(fs *flag.FlagSet, withMax bool) {
	fs.StringVar(&f.mode, "mode", "generate", "generate (a fresh sglang generate per run) or serve (warm servers, requests over HTTP)")
	fs.StringVar(&f.command, "serve-command", bench.DefaultServeTemplate, "--mode serve: server command template, {port} is the port diffperf picks")
	fs.IntVar(&f.launches, "launches", 2, "--mode serve: launches of each side's server")
	if withMax {
		fs.IntVar(&f.maxLaunches, "max-launches", 0, "--mode serve: launches a side at most when an unclear result earns extra launches (default: enough for a launch-level test, 4 at α=0.05)")
	}
	fs.IntVar(&f.requests, "requests", 5, "--mode serve: measured requests of each launch")
	fs.IntVar(&f.warmup, "warmup-requests", 1, "--mode serve: requests of each launch before the measured ones, not measured")
	fs.StringVar(&f.endpoint, "endpoint", bench.EndpointImages, "--mode serve: images (POST /v1/images/generations) or videos (POST /v1/videos)")
	fs.StringVar(&f.request, "request", "", `--mode serve: JSON object of fields for every request, e.g. {"size": "1024x1024", "seed": 42}`)
	fs.StringVar(&f.together, "together", bench.TogetherAuto, "--mode serve: keep both servers up at once: auto (when nvidia-smi shows room), yes, no")
}

// serve checks the flags that were set against the mode and returns mode
// serve's setup, or nil for mode generate.
func (f *serveFlags) serve(fs *flag.FlagSet) (*bench.Serve, error) {
	var misplaced error
	fs.Visit(func(fl *flag.Flag) {
		switch {
		case misplaced != nil:
		case !f.serving() && slices.Contains(serveOnly, fl.Name):
			misplaced = input.Errorf("--"+fl.Name, "only for --mode serve")
		case f.serving() && slices.Contains(generateOnly, fl.Name):
			misplaced = input.Errorf("--"+fl.Name, "not used with --mode serve (it sets --launches, --requests and --serve-command)")
		}
	})
	switch f.mode {
	case string(action.ModeGenerate):
		return nil, misplaced
	case string(action.ModeServe):
	default:
		return nil, input.Errorf("--mode", "%q is neither generate nor serve", f.mode)
	}
	if misplaced != nil {
		return nil, misplaced
	}
	tmpl, err := bench.ParseServeTemplate(f.command)
	if err != nil {
		return nil, asFlag(err)
	}
	fields, err := bench.ParseRequestFields(f.request)
	if err != nil {
		return nil, asFlag(err)
	}
	switch {
	case f.launches < 1:
		return nil, input.Errorf("--launches", "%d is not a positive count", f.launches)
	case f.maxLaunches != 0 && f.maxLaunches < f.launches:
		return nil, input.Errorf("--max-launches", "%d is less than --launches (%d)", f.maxLaunches, f.launches)
	}
	s := &bench.Serve{Template: tmpl, Endpoint: f.endpoint, Request: fields, Requests: f.requests, Warmup: f.warmup, Together: f.together}
	if err := bench.ValidateServe(s); err != nil {
		return nil, asFlag(err)
	}
	return s, nil
}

// asFlag names the flag of an input error as it was written: --name.
func asFlag(err error) error {
	if ie, ok := input.As(err); ok && !strings.HasPrefix(ie.Name, "--") {
		ie.Name = "--" + ie.Name
	}
	return err
}

// modelCommand is the template whose {model} makes --model required.
func (f *serveFlags) modelCommand(generate string) string {
	if f.serving() {
		return f.command
	}
	return generate
}

// plan is the protocol's plan for the mode.
func (f *serveFlags) plan(runs, maxRuns int, confirm bool, opt report.Options) protocol.Plan {
	if f.serving() {
		return protocol.ServePlan(f.launches, f.maxLaunches, confirm, opt)
	}
	return protocol.Plan{Runs: runs, MaxRuns: maxRuns, Confirm: confirm, Options: opt}
}

// serveArgs are the flags of `diffperf run` that repeat a serve
// measurement, for the report's reproduce line.
func serveArgs(s *bench.Serve, p protocol.Plan) []string {
	argv := []string{"--mode", "serve", "--launches", fmt.Sprint(p.Runs)}
	if def := protocol.ServePlan(p.Runs, 0, p.Confirm, p.Options); p.MaxRuns != def.MaxRuns {
		argv = append(argv, "--max-launches", fmt.Sprint(p.MaxRuns))
	}
	argv = append(argv, "--requests", fmt.Sprint(s.Requests), "--warmup-requests", fmt.Sprint(s.Warmup))
	if s.Endpoint != bench.EndpointImages {
		argv = append(argv, "--endpoint", s.Endpoint)
	}
	if len(s.Request) > 0 {
		b, _ := json.Marshal(s.Request)
		argv = append(argv, "--request", string(b))
	}
	if w := strings.Join(s.Template.Words(), " "); w != strings.Join(mustWords(bench.DefaultServeTemplate), " ") {
		argv = append(argv, "--serve-command", bench.QuoteWords(s.Template.Words()))
	}
	return argv
}

// printLaunches prints each launch's median e2e, for bench in mode serve.
func printLaunches(w io.Writer, runs []dump.Run) {
	byLaunch := map[int][]float64{}
	var order []int
	for _, r := range runs {
		if r.Launch == 0 {
			continue
		}
		if _, ok := byLaunch[r.Launch]; !ok {
			order = append(order, r.Launch)
		}
		byLaunch[r.Launch] = append(byLaunch[r.Launch], r.Dump.TotalMs)
	}
	for _, l := range order {
		v := byLaunch[l]
		fmt.Fprintf(w, "launch %d: median e2e %.2f s over %d requests (min %.2f s, max %.2f s)\n", l, report.Median(v)/1000, len(v), slices.Min(v)/1000, slices.Max(v)/1000)
	}
}
