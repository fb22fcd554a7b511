package command

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/report"
)

// outFolder is the --out folder of a run or bench: its dumps by batch (""
// or "confirm") and side ("base", "head" or "bench").
type outFolder map[string]map[string][]dump.Run

// readOutFolder reads dir as a --out folder when diffperf made it (its
// marker file is there); ok is false for any other folder.
func readOutFolder(dir string) (out outFolder, ok bool, err error) {
	if _, err := os.Lstat(filepath.Join(dir, outMarker)); err != nil {
		return nil, false, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, true, err
	}
	out = outFolder{}
	for _, e := range entries { // in name order
		batch, side, idx, ok := dump.ParseRunFile(e.Name())
		if !ok {
			continue
		}
		d, err := readDump(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, true, err
		}
		d.Name = e.Name()
		if out[batch] == nil {
			out[batch] = map[string][]dump.Run{}
		}
		out[batch][side] = append(out[batch][side], dump.Run{Index: idx, Dump: d})
	}
	if len(out) == 0 {
		return nil, true, fmt.Errorf("%s holds no dumps", dir)
	}
	return out, true, nil
}

// countedIn keeps the dumps that r, the folder's result.json, counted,
// each with the launch and request r places it in; a result that names
// none (written before results named their dumps) keeps them all.
func (o outFolder) countedIn(r *report.Result) outFolder {
	names := map[string]dump.Run{}
	for c := r; c != nil; c = c.Confirmation {
		for _, s := range []dump.Side{c.Base, c.Head} {
			for _, run := range s.Runs {
				if run.Dump != nil && run.Dump.Name != "" {
					names[filepath.Base(run.Dump.Name)] = run
				}
			}
		}
	}
	if len(names) == 0 {
		return o
	}
	kept := outFolder{}
	for batch, sides := range o {
		for side, runs := range sides {
			for _, run := range runs {
				if was, ok := names[run.Dump.Name]; ok {
					// Where the run took it: a warm server's requests are
					// judged by launch, as the run judged them.
					run.Launch, run.Request = was.Launch, was.Request
					if kept[batch] == nil {
						kept[batch] = map[string][]dump.Run{}
					}
					kept[batch][side] = append(kept[batch][side], run)
				}
			}
		}
	}
	return kept
}

// sides are the folder's sides in report order.
func (o outFolder) sides(batch string) []string {
	var s []string
	for _, name := range []string{"base", "head", "bench"} {
		if len(o[batch][name]) > 0 {
			s = append(s, name)
		}
	}
	return s
}

// result compares base and head as the run did, the confirming batch
// included, with the runs in the order they ran.
func (o outFolder) result(opt report.Options) (*report.Result, bool) {
	if len(o[""]["base"]) == 0 || len(o[""]["head"]) == 0 {
		return nil, false
	}
	compare := func(batch string) *report.Result {
		base, head := o[batch]["base"], o[batch]["head"]
		orderRuns(base, head)
		return report.Compare(dump.Side{Label: "Baseline", Runs: base}, dump.Side{Label: "New", Runs: head}, opt)
	}
	r := compare("")
	if len(o["confirm"]["base"]) > 0 && len(o["confirm"]["head"]) > 0 {
		report.Confirm(r, compare("confirm"))
	}
	return r, true
}

// extract prints each side's median e2e in seconds, a line a side.
func (o outFolder) extract(w io.Writer) error {
	for _, batch := range []string{"", "confirm"} {
		for _, side := range o.sides(batch) {
			label := side
			if batch != "" {
				label = batch + " " + side
			}
			vals := make([]float64, 0, len(o[batch][side]))
			for _, r := range o[batch][side] {
				vals = append(vals, r.Dump.TotalMs)
			}
			if _, err := fmt.Fprintf(w, "%s: %.2f\n", label, report.Median(vals)/1000); err != nil {
				return err
			}
		}
	}
	return nil
}

// newest is the side a baseline takes from a --out folder: bench's runs,
// or else the head of the first batch (the newest code measured).
func (o outFolder) newest() []dump.Run {
	if runs := o[""]["bench"]; len(runs) > 0 {
		return runs
	}
	return slices.Clone(o[""]["head"])
}

// readOutResult reads the result.json of a --out folder that diffperf
// made; ok is false when there is none.
func readOutResult(dir string) (r *report.Result, ok bool, err error) {
	if _, err := os.Lstat(filepath.Join(dir, outMarker)); err != nil {
		return nil, false, nil
	}
	path := filepath.Join(dir, "result.json")
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	r, err = readResult(path)
	return r, true, err
}
