package command

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/fakesglang"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/report"
)

const usage = `diffperf: benchmark sglang-diffusion before and after a change, with statistics.

Usage:
  diffperf compare [flags] BASE HEAD          each a dump file, or a directory of dumps (one per run)
  diffperf compare BASELINE NEW [NEW...]      three or more files: one column per file, like compare_perf.py
  diffperf extract DUMP|DIR                   e2e latency in seconds, two decimals (median over a directory)
  diffperf bench MODEL [--prompt P] [--runs N] [--baseline FILE|DIR] [--out DIR] [-- extra generate args]
  diffperf run --base REF --head REF [--repo DIR] [--runs N] [--max-runs N] [--command T] [--setup CMD] [--timeout D] [--out DIR]
  diffperf demo                               the whole pipeline here: no GPU, no GitHub
  diffperf action                             the GitHub Action (also chosen when GITHUB_ACTIONS=true)

run and bench also take --mode serve (warm servers, requests over HTTP): --serve-command T --launches N
  --requests N --warmup-requests N --endpoint images|videos --request JSON (run: --max-launches N)

Flags of compare: --threshold 5% --min-delta-ms 50 --memory-threshold 2% --alpha 0.05
                  --format markdown|json --fail-on-regression

Exit status: 0 finished, 1 regression established with --fail-on-regression,
2 unusable input, 3 runtime failure.
`

// Run runs the command that args name (the Action when there are none
// inside GitHub Actions).
func Run(ctx context.Context, args []string, e Env) error {
	if len(args) == 0 && e.Getenv("GITHUB_ACTIONS") == "true" {
		return cmdAction(ctx, e)
	}
	if len(args) == 0 {
		fmt.Fprint(e.Stderr, usage)
		return input.Errorf("command", "none given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "compare":
		return cmdCompare(rest, e)
	case "extract":
		return cmdExtract(rest, e)
	case "run":
		return cmdRun(ctx, rest, e)
	case "bench":
		return cmdBench(ctx, rest, e)
	case "demo":
		return cmdDemo(ctx, rest, e)
	case "action":
		if len(rest) > 0 {
			return input.Errorf("action", "takes no arguments; it reads INPUT_* variables")
		}
		return cmdAction(ctx, e)
	case "fake-sglang":
		if code := fakesglang.Main(rest, e.Stdout, e.Stderr); code != 0 {
			return &exitStatus{code}
		}
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(e.Stdout, usage)
		return nil
	}
	fmt.Fprint(e.Stderr, usage)
	return input.Errorf("command", "%q is not one of diffperf's commands", cmd)
}

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

func (v *verdictFlags) check() error {
	if v.format != "markdown" && v.format != "json" {
		return input.Errorf("--format", "%q is neither markdown nor json", v.format)
	}
	if err := v.opt.Validate(); err != nil {
		if ie, ok := input.As(err); ok {
			ie.Name = "--" + ie.Name // the flag, as it was written
		}
		return err
	}
	return nil
}

// parseFlags parses flags anywhere among the arguments (Go's flag package
// stops at the first argument) and returns the positional ones. Everything
// after "--" is positional.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, input.Errorf(fs.Name(), "flags:\n%s", flagUsage(fs))
			}
			return nil, input.Wrap(fs.Name(), err)
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
		fmt.Fprintf(&b, "  --%s (default %q): %s\n", f.Name, f.DefValue, f.Usage)
	})
	return b.String()
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

func cmdCompare(args []string, e Env) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	var vf verdictFlags
	vf.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := vf.check(); err != nil {
		return err
	}
	if len(pos) < 2 {
		return input.Errorf("compare", "need BASE and HEAD (files or directories of dumps), got %d argument(s)", len(pos))
	}
	if len(pos) > 2 {
		return compareMany(pos, vf, e)
	}
	base, err := loadSide(pos[0])
	if err != nil {
		return err
	}
	head, err := loadSide(pos[1])
	if err != nil {
		return err
	}
	orderRuns(base, head)
	r := report.Compare(report.Side{Runs: base}, report.Side{Runs: head}, vf.opt)
	if err := writeResult(e.Stdout, r, vf.format); err != nil {
		return err
	}
	if vf.failOnRegression && r.Verdict == report.Regression {
		return errRegression
	}
	return nil
}

// compareMany is the `compare BASELINE NEW NEW...` form of compare_perf.py.
func compareMany(paths []string, vf verdictFlags, e Env) error {
	dumps := make([]*report.Dump, len(paths))
	for i, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return input.Errorf("compare", "%s is a directory; with three or more arguments each must be one dump file", p)
		}
		d, err := readDump(p)
		if err != nil {
			return err
		}
		dumps[i] = d
	}
	cols := make([]report.Column, 0, len(paths)-1)
	for i, d := range dumps[1:] {
		cols = append(cols, report.Column{Label: filepath.Base(paths[i+1]), Dump: d})
	}
	if vf.format == "json" {
		return writeJSON(e.Stdout, report.MultiJSON(dumps[0], cols))
	}
	_, err := io.WriteString(e.Stdout, report.MarkdownMulti(dumps[0], cols))
	return err
}

func writeResult(w io.Writer, r *report.Result, format string) error {
	if format == "json" {
		b, err := report.MarshalJSON(r)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	_, err := io.WriteString(w, report.Markdown(r, report.RenderOptions{MaxChars: 1 << 30}))
	return err
}

func cmdExtract(args []string, e Env) error {
	fs := flag.NewFlagSet("extract", flag.ContinueOnError)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return input.Errorf("extract", "need one dump file or directory, got %d argument(s)", len(pos))
	}
	runs, err := loadSide(pos[0])
	if err != nil {
		return err
	}
	vals := make([]float64, len(runs))
	for i, r := range runs {
		vals[i] = r.Dump.TotalMs
	}
	_, err = fmt.Fprintf(e.Stdout, "%.2f\n", report.Median(vals)/1000)
	return err
}

// readDump reads and parses one dump file that the user named. Every
// error names the file and means unusable input (exit 2).
func readDump(path string) (*report.Dump, error) {
	d, err := bench.ReadDump(path)
	if err == nil {
		return d, nil
	}
	if _, ok := input.As(err); ok {
		return nil, err
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err // the path is in the name
	}
	return nil, input.Wrap("dump "+path, err)
}

// loadSide reads a dump file, or every *.json file of a directory in name
// order, as the runs of one side.
func loadSide(path string) ([]report.Run, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, input.Wrap("dump "+path, errors.Unwrap(err))
	}
	files := []string{path}
	if fi.IsDir() {
		files, err = filepath.Glob(filepath.Join(path, "*.json"))
		if err != nil {
			return nil, input.Wrap("dump directory "+path, err)
		}
		slices.Sort(files)
		if len(files) == 0 {
			return nil, input.Errorf("dump directory "+path, "no *.json files")
		}
	}
	runs := make([]report.Run, 0, len(files))
	for i, f := range files {
		d, err := readDump(f)
		if err != nil {
			return nil, err
		}
		runs = append(runs, report.Run{Index: i + 1, Dump: d})
	}
	return runs, nil
}

// orderRuns numbers the runs of both sides by their dumps' timestamps, so
// the report can show them in the order they ran; it leaves Order at 0 when
// any timestamp is missing or unreadable.
func orderRuns(base, head []report.Run) {
	type stamp struct {
		t   time.Time
		run *report.Run
	}
	var all []stamp
	for _, side := range [][]report.Run{base, head} {
		for i := range side {
			t, err := time.Parse(time.RFC3339Nano, side[i].Dump.Timestamp)
			if err != nil {
				return
			}
			all = append(all, stamp{t, &side[i]})
		}
	}
	slices.SortStableFunc(all, func(a, b stamp) int { return a.t.Compare(b.t) })
	for i, s := range all {
		s.run.Order = i + 1
	}
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
