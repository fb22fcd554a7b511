package command

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/diffperf/diffperf/internal/action"
	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/report"
)

// verdictFlags are the thresholds and output flags shared by the commands
// that compare.
type verdictFlags struct {
	opt              report.Options
	format           string
	failOnRegression bool
}

func (v *verdictFlags) register(fs *flag.FlagSet) {
	v.opt = report.DefaultOptions()
	fs.Var(percentFlag{&v.opt.ThresholdPct}, "threshold", "relative change of a gated time metric that counts, e.g. 5%")
	fs.Var(floatFlag{&v.opt.MinDeltaMs}, "min-delta-ms", "absolute change in ms that counts")
	fs.Var(percentFlag{&v.opt.MemoryThresholdPct}, "memory-threshold", "relative change of peak allocated memory that counts, e.g. 2%")
	fs.Var(floatFlag{&v.opt.Alpha}, "alpha", "significance level of the U test")
	fs.StringVar(&v.format, "format", "markdown", "output format: markdown or json")
	fs.BoolVar(&v.failOnRegression, "fail-on-regression", false, "exit 1 when a regression is established")
}

// emit prints p on stdout in --format; what it found gates with
// --fail-on-regression.
func (v *verdictFlags) emit(e Env, p publication) (*finding, error) {
	return &finding{p.doc, v.failOnRegression}, emit(e, p, "", v.format, nil, nil)
}

func (v *verdictFlags) check() error {
	if v.format != "markdown" && v.format != "json" {
		return input.Errorf("--format", "%q is neither markdown nor json", v.format)
	}
	if err := v.opt.Validate(); err != nil {
		return asFlag(err)
	}
	return nil
}

// helpRequest carries a command's help text up to Run, which prints it on
// stdout and exits 0.
type helpRequest struct{ text string }

func (h *helpRequest) Error() string { return h.text }

// parseFlags parses flags anywhere among the arguments (Go's flag package
// stops at the first argument) and returns the positional ones. Everything
// after "--" is positional. -h and --help return a *helpRequest.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				u, ok := usages[fs.Name()]
				if !ok {
					u = "usage: diffperf " + fs.Name() + " [flags]"
				}
				if fl := flagUsage(fs); fl != "" {
					u += "\n\nFlags:\n" + fl
				}
				return nil, &helpRequest{u}
			}
			return nil, flagError(fs, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func flagUsage(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		if f.Usage == "" {
			return // a flag that the command refuses, kept for its error
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(&b, "  --%s\n        %s%s\n", f.Name, f.Usage, def)
	})
	return b.String()
}

// flagError rewrites the flag package's errors so that they point to the
// fix: an unknown flag gets the nearest known one as a suggestion.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		name = strings.TrimLeft(name, "-")
		hint := fmt.Sprintf("see diffperf %s --help", fs.Name())
		if near := nearestFlag(fs, name); near != "" {
			hint = fmt.Sprintf("did you mean --%s? (%s)", near, hint)
		}
		return input.Errorf("--"+name, "no such flag of %s; %s", fs.Name(), hint)
	}
	// `invalid value "x" for flag -name: why`, and for a bool
	// `invalid boolean value "x" for -name: why`
	for _, form := range []struct{ prefix, sep string }{{"invalid value ", " for flag -"}, {"invalid boolean value ", " for -"}} {
		rest, ok := strings.CutPrefix(msg, form.prefix)
		if !ok {
			continue
		}
		if i := strings.Index(rest, form.sep); i >= 0 {
			value := rest[:i] // quoted by the flag package
			name, why, _ := strings.Cut(rest[i+len(form.sep):], ": ")
			if strings.Contains(why, value) {
				return input.Errorf("--"+name, "%s", why) // our own Set named it
			}
			return input.Errorf("--"+name, "%s is not %s", value, flagKind(fs.Lookup(name)))
		}
	}
	return input.Wrap(fs.Name(), err)
}

// flagKind says what a flag of the flag package's own types takes, for an
// error about a value that did not parse.
func flagKind(f *flag.Flag) string {
	if f == nil {
		return "a usable value"
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return "true or false"
	}
	switch fmt.Sprintf("%T", f.Value) {
	case "*flag.intValue", "*flag.int64Value", "*flag.uintValue", "*flag.uint64Value":
		return "a whole number"
	case "*flag.float64Value":
		return "a number"
	case "*flag.durationValue":
		return "a duration such as 30m"
	}
	return "a usable value"
}

// durationFlag reads a duration such as 30m, with an error that says how
// to write one.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a positive duration: write it like 30m, 90s or 1h30m", s)
	}
	*f.d = d
	return nil
}

// percentFlag reads "5%" into 5. The % is required so that 0.05 (a
// fraction) is never read as 0.05 %.
type percentFlag struct{ p *float64 }

func (f percentFlag) String() string {
	if f.p == nil {
		return ""
	}
	return report.FormatNum(*f.p) + "%"
}

func (f percentFlag) Set(s string) error {
	v, err := report.ParsePercent(s)
	if err != nil {
		return err
	}
	*f.p = v
	return nil
}

type floatFlag struct{ p *float64 }

func (f floatFlag) String() string {
	if f.p == nil {
		return ""
	}
	return report.FormatNum(*f.p)
}

func (f floatFlag) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v < 0 || v != v {
		return fmt.Errorf("%q is not a non-negative number", s)
	}
	*f.p = v
	return nil
}

// measureFlags are the flags of the commands that run a benchmark.
type measureFlags struct {
	model, prompt, command, args string
	runs                         int
	timeout                      time.Duration
	out                          string
	cases                        string // run --cases FILE (cases.go)
	serve                        serveFlags
	// sandbox, sandboxRW and runnerName are --sandbox, --sandbox-rw and
	// --runner-name (sandbox.go).
	sandbox, sandboxRW, runnerName string
}

func (f *measureFlags) register(fs *flag.FlagSet, withModel bool) {
	if withModel {
		fs.StringVar(&f.model, "model", "", "model to benchmark ({model} in the command)")
	}
	fs.StringVar(&f.prompt, "prompt", action.DefaultPrompt, "generation prompt ({prompt})")
	fs.StringVar(&f.command, "command", bench.DefaultTemplate, "benchmark command template, split into words once, never run by a shell")
	fs.IntVar(&f.runs, "runs", action.DefaultRuns, "runs per side")
	f.timeout = action.DefaultTimeout
	fs.Var(durationFlag{&f.timeout}, "timeout", "limit for one run, e.g. 30m")
	fs.StringVar(&f.sandbox, "sandbox", action.DefaultSandbox, "confine the benchmark: auto (bubblewrap when it works here), bwrap or none")
	fs.StringVar(&f.sandboxRW, "sandbox-rw", "", "more absolute paths, comma-separated, that the sandboxed benchmark may change")
	fs.StringVar(&f.runnerName, "runner-name", "", "name of this machine in the report (the host name is never shown)")
	f.serve.register(fs, withModel)
}

func (f *measureFlags) template() (*bench.Template, []string, error) {
	t, err := bench.ParseTemplate(f.command)
	if err != nil {
		return nil, nil, err
	}
	args, err := bench.SplitWords(f.args)
	if err != nil {
		return nil, nil, input.Wrap("args", err)
	}
	if f.model == "" && strings.Contains(f.serve.modelCommand(f.command), "{model}") && f.cases == "" {
		return nil, nil, input.Errorf("--model", "required, since the command uses {model}")
	}
	if f.runs < 1 {
		return nil, nil, input.Errorf("--runs", "%d is not a positive count", f.runs)
	}
	if f.timeout <= 0 {
		return nil, nil, input.Errorf("--timeout", "%s is not positive", f.timeout)
	}
	return t, args, nil
}

func progressFor(e Env) bench.Progress {
	return &bench.TextProgress{W: e.Stderr, Actions: e.Getenv("GITHUB_ACTIONS") == "true"}
}
