package command

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/diffperf/diffperf/internal/fakesglang"
	"github.com/diffperf/diffperf/internal/input"
)

const usage = `diffperf: benchmark sglang-diffusion before and after a change, with statistics.

Usage:
  diffperf compare [flags] BASE HEAD           each a dump file, a directory of dumps (one per run), or a run's --out folder
  diffperf compare [flags] OUT                 a run's --out folder: its report again, batches as they ran
  diffperf compare BASELINE NEW [NEW...]       three or more files: one column per file, like compare_perf.py
  diffperf extract DUMP|DIR|OUT                e2e latency in seconds, two decimals (median over a directory; each side's of an --out folder)
  diffperf bench [MODEL] [--prompt P] [--runs N] [--baseline FILE|DIR|OUT] [--out DIR] [-- extra generate args]
  diffperf run --base REF --head REF [--repo DIR] [--runs N] [--max-runs N] [--command T] [--setup CMD] [--timeout D] [--out DIR] [--cases FILE]
  diffperf bisect --good REF --bad REF [run flags]  the first-parent commit that made the change (see bisect.md)
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
	case "bisect":
		return nil, cmdBisect(ctx, rest, e)
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
	if len(args) > 0 && slices.Contains([]string{"compare", "extract", "bench", "run", "bisect", "demo", "merge", "changepoints", "history", "dashboard"}, args[0]) {
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

// usages are each command's usage lines and what it does, for --help;
// each stands beside its command.
var usages = map[string]string{
	"compare": compareHelp,
	"extract": extractHelp,
	"bench":   benchHelp,
	"run":     runHelp,
	"bisect":  bisectHelp,
	"merge":   mergeHelp,
	"action":  actionHelp,
	"demo":    demoHelp,
}
