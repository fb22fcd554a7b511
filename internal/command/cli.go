package command

import (
	"bytes"
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
	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/fakesglang"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/report"
)

const usage = `diffperf: benchmark sglang-diffusion before and after a change, with statistics.

Usage:
  diffperf compare [flags] BASE HEAD           each a dump file, a directory of dumps (one per run), or a run's --out folder
  diffperf compare [flags] OUT                 a run's --out folder: its report again, batches as they ran
  diffperf compare BASELINE NEW [NEW...]       three or more files: one column per file, like compare_perf.py
  diffperf extract DUMP|DIR|OUT                e2e latency in seconds, two decimals (median over a directory; each side's of an --out folder)
  diffperf bench [MODEL] [--prompt P] [--runs N] [--baseline FILE|DIR|OUT] [--out DIR] [-- extra generate args]
  diffperf run --base REF --head REF [--repo DIR] [--runs N] [--max-runs N] [--command T] [--setup CMD] [--timeout D] [--out DIR] [--cases FILE]
  diffperf merge [--expect-cases a,b] [--alpha A] [--format F] [--fail-on-regression] RESULT...
  diffperf changepoints [flags] FILE           change points of a series (CSV: commit,value)
  diffperf history add|show --store DIR ...    the results kept on the default branch (see docs/history.md)
  diffperf dashboard --store DIR --out SITE    the store as a static site (see docs/dashboard.md)
  diffperf demo [--runs N] [--slowdown PCT] [--dir DIR] [--mode serve]
  diffperf action                              the GitHub Action (also chosen when GITHUB_ACTIONS=true)
  diffperf fake-sglang generate|serve ...      a stand-in for sglang that needs no GPU, for trying run and bench
  diffperf --version                           version and commit of this binary

run and bench also take --mode serve (warm servers, requests over HTTP): --serve-command T --launches N
  --requests N --warmup-requests N --endpoint images|videos --request JSON (run: --max-launches N)

Flags of compare: --threshold 5% --min-delta-ms 50 --memory-threshold 2% --alpha 0.05
                  --format markdown|json --fail-on-regression

Exit status: 0 finished, 1 regression established with --fail-on-regression,
2 unusable input, 3 runtime failure.
`

// dispatch runs the command that args name (the Action when there are
// none inside GitHub Actions).
func dispatch(ctx context.Context, args []string, e Env) (*finding, error) {
	if len(args) == 0 && e.Getenv("GITHUB_ACTIONS") == "true" {
		return cmdAction(ctx, e)
	}
	if len(args) == 0 {
		fmt.Fprint(e.Stderr, usage)
		return nil, input.Errorf("command", "none given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "compare":
		return cmdCompare(rest, e)
	case "extract":
		return nil, cmdExtract(rest, e)
	case "run":
		return cmdRun(ctx, rest, e)
	case "bench":
		return cmdBench(ctx, rest, e)
	case "merge":
		return cmdMerge(rest, e)
	case "changepoints":
		return nil, cmdChangepoints(rest, e)
	case "dashboard":
		return nil, cmdDashboard(rest, e)
	case "history":
		return nil, cmdHistory(ctx, rest, e)
	case "demo":
		return cmdDemo(ctx, rest, e)
	case "action":
		if len(rest) == 1 && (rest[0] == "-h" || rest[0] == "--help") {
			return nil, &helpRequest{usages["action"]}
		}
		if len(rest) > 0 {
			return nil, input.Errorf("action", "takes no arguments; it reads INPUT_* variables")
		}
		return cmdAction(ctx, e)
	case "fake-sglang":
		if code := fakesglang.Main(rest, e.Stdout, e.Stderr); code != 0 {
			return nil, &exitStatus{code}
		}
		return nil, nil
	case "version", "--version":
		return nil, cmdVersion(rest, e)
	case "help", "-h", "--help":
		fmt.Fprint(e.Stdout, usage)
		return nil, nil
	}
	fmt.Fprint(e.Stderr, usage)
	return nil, input.Errorf("command", "%q is not one of diffperf's commands", cmd)
}

// Run runs the command that args name (the Action when there are none
// inside GitHub Actions). Asked for help (-h, --help), a command prints it
// on stdout, usage line first, and that is no error.
func Run(ctx context.Context, args []string, e Env) error {
	if len(args) > 0 && slices.Contains([]string{"compare", "extract", "bench", "run", "demo", "merge", "changepoints", "history", "dashboard"}, args[0]) {
		// The CLI inside a workflow step: what it prints holds text from
		// benchmarks and dumps, so none of it may act as a workflow
		// command. (The Action frames its own output.)
		out := untrustedOut(e, e.Stdout)
		defer out.Close()
		e.Stdout = out
	}
	f, err := dispatch(ctx, args, e)
	if f != nil {
		err = exitError(f.doc, f.gate, err)
	}
	var h *helpRequest
	if errors.As(err, &h) {
		_, werr := fmt.Fprintln(e.Stdout, h.text)
		return werr
	}
	return err
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

// usages are each command's usage lines and what it does, for --help.
var usages = map[string]string{
	"compare": `usage: diffperf compare [flags] BASE HEAD
       diffperf compare BASELINE NEW [NEW...]

Compares the perf dumps of two sides and prints the report. BASE and HEAD
are each a dump file, a folder of dumps (one per run), or the --out folder
of a run (its sides and batches told apart by file name). With OUT alone,
the run's report again: from its result.json, or, with other thresholds,
judged again from its dumps. With three or more files, one column per
file, like sglang's compare_perf.py.`,
	"extract": `usage: diffperf extract DUMP|DIR

Prints the e2e latency in seconds, two decimals: of one dump, the median of
a folder of dumps, or each side's median of a run's --out folder.`,
	"bench": `usage: diffperf bench [MODEL] [flags] [-- extra generate arguments]

Runs the benchmark command --runs times in the current checkout, each a
fresh process, and prints the median e2e; with --baseline, compares against
earlier dumps. MODEL fills {model} and is needed only when the command
uses it.`,
	"run": `usage: diffperf run --base REF --head REF [flags]

Benchmarks the merge base of REF and HEAD against HEAD in worktrees of the
checkout, interleaved, with the measurement protocol (extra pairs while
unclear, a confirming batch for a regression), and prints the report.`,
	"merge": `usage: diffperf merge [flags] RESULT...

Merges the result.json of several cases (files, folders holding them, or
globs) into one report and one gate, with Holm's correction across the
cases at --alpha. --expect-cases names the cases that must be there; one
without a result is a missing row.`,
	"action": `usage: diffperf action

The GitHub Action's entry point (also chosen when GITHUB_ACTIONS=true and
no command is given). It reads its inputs from INPUT_* variables and the
event from GITHUB_EVENT_PATH; see action.yml and docs/action.md.`,
	"demo": `usage: diffperf demo [flags]

Runs the whole pipeline here, with no GPU and no GitHub: a throwaway
repository whose head commit slows a simulated denoising step, measured
with a fake sglang.`,
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

// nearestFlag is the flag of fs nearest to name by edit distance, if it
// is near enough to be a typo.
func nearestFlag(fs *flag.FlagSet, name string) string {
	best, bestD := "", 3
	fs.VisitAll(func(f *flag.Flag) {
		if d := editDistance(name, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	})
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
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

func cmdCompare(args []string, e Env) (*finding, error) {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	var vf verdictFlags
	vf.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if err := vf.check(); err != nil {
		return nil, err
	}
	if len(pos) == 1 {
		// A run's --out folder: its report again, from its result.json
		// when the thresholds are the run's own; else judged again from
		// its dumps, batches as they ran.
		rethreshold := false
		fs.Visit(func(f *flag.Flag) {
			rethreshold = rethreshold || slices.Contains([]string{"threshold", "min-delta-ms", "memory-threshold", "alpha"}, f.Name)
		})
		prev, measured, err := readOutResult(pos[0])
		if err != nil {
			return nil, err
		} else if measured && !rethreshold {
			return vf.emit(e, single(prev))
		}
		out, ok, err := readOutFolder(pos[0])
		if err != nil {
			return nil, input.Wrap("compare", err)
		}
		if measured {
			// Judged again from the dumps the run counted (not one that an
			// interrupted run wrote after it stopped counting), and a
			// failed run stays failed whatever the thresholds.
			out = out.countedIn(prev)
		}
		r, both := out.result(vf.opt)
		if ok && measured && prev.Failure != nil {
			if !both {
				r = prev
			}
			r.Fail(*prev.Failure)
			both = true
		}
		if ok && both {
			return vf.emit(e, single(r))
		}
	}
	if len(pos) < 2 {
		return nil, input.Errorf("compare", "need BASE and HEAD (files or directories of dumps), or the --out folder of a run, got %d argument(s)", len(pos))
	}
	if len(pos) > 2 {
		return nil, compareMany(pos, vf, e)
	}
	base, err := loadSide(pos[0])
	if err != nil {
		return nil, err
	}
	head, err := loadSide(pos[1])
	if err != nil {
		return nil, err
	}
	orderRuns(base, head)
	r := report.Compare(dump.Side{Runs: base}, dump.Side{Runs: head}, vf.opt)
	return vf.emit(e, single(r))
}

// compareMany is the `compare BASELINE NEW NEW...` form of compare_perf.py.
func compareMany(paths []string, vf verdictFlags, e Env) error {
	dumps := make([]*dump.Dump, len(paths))
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

// untrusted is where a command writes text that holds what a benchmark or
// a dump wrote (a report, a log tail): w itself, or, inside GitHub Actions,
// a buffer that Close writes to w between ::stop-commands:: lines, so that
// no line of it is read as a workflow command.
type untrusted struct {
	w   io.Writer
	buf *bytes.Buffer // nil outside Actions
}

func untrustedOut(e Env, w io.Writer) *untrusted {
	u := &untrusted{w: w}
	if e.Getenv("GITHUB_ACTIONS") == "true" {
		u.buf = &bytes.Buffer{}
	}
	return u
}

func (u *untrusted) Write(p []byte) (int, error) {
	if u.buf != nil {
		return u.buf.Write(p)
	}
	return u.w.Write(p)
}

// Close writes what was buffered, framed.
func (u *untrusted) Close() error {
	if u.buf != nil {
		bench.WriteUntrusted(u.w, u.buf.String())
		u.buf.Reset()
	}
	return nil
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
	out, ok, err := readOutFolder(pos[0])
	if err != nil {
		return input.Wrap("extract", err)
	}
	if ok && len(out.sides("")) > 1 {
		return out.extract(e.Stdout)
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
func readDump(path string) (*dump.Dump, error) {
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
func loadSide(path string) ([]dump.Run, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, input.Wrap("dump "+path, errors.Unwrap(err))
	}
	if fi.IsDir() {
		if out, ok, err := readOutFolder(path); err != nil {
			return nil, input.Wrap("dump directory "+path, err)
		} else if ok {
			return out.newest(), nil
		}
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
	runs := make([]dump.Run, 0, len(files))
	for i, f := range files {
		d, err := readDump(f)
		if err != nil {
			return nil, err
		}
		runs = append(runs, dump.Run{Index: i + 1, Dump: d})
	}
	return runs, nil
}

// orderRuns numbers the runs of both sides by their dumps' timestamps, so
// the report can show them in the order they ran; it leaves Order at 0 when
// any timestamp is missing or unreadable.
func orderRuns(base, head []dump.Run) {
	type stamp struct {
		t   time.Time
		run *dump.Run
	}
	var all []stamp
	for _, side := range [][]dump.Run{base, head} {
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
