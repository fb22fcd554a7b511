package command

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/report"
)

// benchHelp is what `diffperf bench --help` prints above its flags.
const benchHelp = `usage: diffperf bench [MODEL] [flags] [-- extra generate arguments]

Runs the benchmark command --runs times in the current checkout, each a
fresh process, and prints the median e2e; with --baseline, compares against
earlier dumps. MODEL fills {model} and is needed only when the command
uses it.`

// cmdBench is `diffperf bench`: repeated runs in the current checkout,
// compared with --baseline when it is given.
func cmdBench(ctx context.Context, args []string, e Env) (f *finding, err error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var mf measureFlags
	mf.register(fs, false)
	var vf verdictFlags
	vf.register(fs)
	var baseline string
	fs.StringVar(&baseline, "baseline", "", "dump file or folder to compare against")
	fs.StringVar(&mf.out, "out", "", "folder for the dumps and logs (default: a new temporary folder, named at the end)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	// MODEL is the first argument when the command uses {model}; the rest
	// are extra generate arguments.
	if strings.Contains(mf.serve.modelCommand(mf.command), "{model}") {
		if len(pos) == 0 {
			return nil, input.Errorf("MODEL", "needed, since the command uses {model}: diffperf bench MODEL [flags]")
		}
		mf.model, pos = pos[0], pos[1:]
	}
	mf.args = bench.QuoteWords(pos)
	if err := vf.check(); err != nil {
		return nil, err
	}
	t, gargs, err := mf.template()
	if err != nil {
		return nil, err
	}
	serve, err := mf.serve.serve(fs)
	if err != nil {
		return nil, err
	}
	runs := mf.runs
	if serve != nil {
		runs = mf.serve.launches
	}
	var base []dump.Run
	if baseline != "" {
		if base, err = loadSide(baseline); err != nil {
			return nil, err
		}
	}
	if mf.out == "" {
		// Not in the checkout, where it would show as untracked files.
		if mf.out, err = os.MkdirTemp("", "diffperf-bench-"); err != nil {
			return nil, err
		}
	}
	if err := prepareOutTo(mf.out, e.Stderr); err != nil {
		return nil, err
	}
	defer sealOutInto(&err, mf.out)
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	sb, rw, err := mf.confine(ctx, e)
	if err != nil {
		return nil, err
	}
	measured, failure, err := bench.Repeat(ctx, bench.RepeatSpec{
		Dir: dir, Template: t, Model: mf.model, Prompt: mf.prompt, Args: gargs, Runs: runs,
		Timeout: mf.timeout, OutDir: mf.out, Env: e.Environ(), Progress: progressFor(e), Serve: serve,
		Sandbox: sb, SandboxRW: rw,
	})
	if err != nil {
		return nil, err
	}
	if failure != nil {
		if failure.LogTail != "" {
			fmt.Fprintln(e.Stderr, "--- end of its log ---")
			tail := untrustedOut(e, e.Stderr)
			fmt.Fprintln(tail, failure.LogTail)
			tail.Close()
		}
		return nil, fmt.Errorf("%s", failure.Reason)
	}
	vals := make([]float64, len(measured))
	for i, r := range measured {
		vals[i] = r.Dump.TotalMs
	}
	fmt.Fprintf(e.Stderr, "dumps and logs: %s\n", mf.out)
	fmt.Fprintf(e.Stdout, "median e2e: %.2f s over %d runs (min %.2f s, max %.2f s)\n", report.Median(vals)/1000, len(vals), slices.Min(vals)/1000, slices.Max(vals)/1000)
	printLaunches(e.Stdout, measured)
	if base == nil {
		return nil, nil
	}
	orderRuns(base, measured)
	r := report.Compare(dump.Side{Label: "Baseline", Runs: base}, dump.Side{Label: "New", Runs: measured}, vf.opt)
	fmt.Fprintln(e.Stdout)
	return vf.emit(e, single(r))
}
