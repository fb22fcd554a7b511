package command

import (
	"cmp"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/report"
)

// compareHelp is what `diffperf compare --help` prints above its flags.
const compareHelp = `usage: diffperf compare [flags] BASE HEAD
       diffperf compare BASELINE NEW [NEW...]

Compares the perf dumps of two sides and prints the report. BASE and HEAD
are each a dump file, a folder of dumps (one per run), or the --out folder
of a run (its sides and batches told apart by file name). With OUT alone,
the run's report again: from its result.json, or, with other thresholds,
judged again from its dumps. With three or more files, one column per
file, like sglang's compare_perf.py.`

// cmdCompare is `diffperf compare`: two sides of dumps judged, an out
// folder's report again, or compare_perf.py's columns for three files or more.
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
		if both && measured {
			keepContext(r, prev)
		}
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

// keepContext gives r, judged again from a run's dumps, what the run knew
// of its measurement and the dumps do not say: the sides' refs and SHAs,
// the case, model, prompt, command, GPU environment, merge base, the
// request that asked for it, the profile and the run's notes, in the
// confirming batch too.
func keepContext(r, prev *report.Result) {
	for r != nil && prev != nil {
		for _, s := range [][2]*dump.Side{{&r.Base, &prev.Base}, {&r.Head, &prev.Head}} {
			s[0].Label, s[0].Ref, s[0].SHA = s[1].Label, s[1].Ref, s[1].SHA
		}
		r.Case, r.Command, r.Reproduce, r.Env, r.MergeBase, r.Request, r.Profile = prev.Case, prev.Command, prev.Reproduce, prev.Env, prev.MergeBase, prev.Request, prev.Profile
		r.Model, r.Prompt = cmp.Or(r.Model, prev.Model), cmp.Or(r.Prompt, prev.Prompt)
		r.Notes = append(slices.Clone(prev.Notes), r.Notes...)
		r, prev = r.Confirmation, prev.Confirmation
	}
}
