package command

import (
	"flag"
	"fmt"

	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/report"
)

// extractHelp is what `diffperf extract --help` prints above its flags.
const extractHelp = `usage: diffperf extract DUMP|DIR

Prints the e2e latency in seconds, two decimals: of one dump, the median of
a folder of dumps, or each side's median of a run's --out folder.`

// cmdExtract is `diffperf extract`: the e2e latency of dumps, in seconds.
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
