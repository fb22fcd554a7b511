package command

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/diffperf/diffperf/internal/action"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/report"
)

// mergeHelp is what `diffperf merge --help` prints above its flags.
const mergeHelp = `usage: diffperf merge [flags] RESULT...

Merges the result.json of several cases (files, folders holding them, or
globs) into one report and one gate, with Holm's correction across the
cases at --alpha. --expect-cases names the cases that must be there; one
without a result is a missing row.`

// cmdMerge is `diffperf merge [flags] RESULT...`: several cases' results
// (result.json files, folders holding them, globs) judged together into
// one report and one gate.
func cmdMerge(args []string, e Env) (*finding, error) {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	var vf verdictFlags
	vf.register(fs)
	for _, name := range []string{"threshold", "min-delta-ms", "memory-threshold"} {
		fs.Lookup(name).Usage = "" // refused below; not in --help
	}
	var expect string
	fs.StringVar(&expect, "expect-cases", "", "case names that must be there, comma separated: a missing one is a row of its own")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if err := vf.check(); err != nil {
		return nil, err
	}
	var rejudge error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "threshold", "min-delta-ms", "memory-threshold":
			rejudge = input.Errorf("--"+f.Name, "merge does not judge cases again: each keeps the thresholds it was measured with (--alpha is the family's)")
		}
	})
	if rejudge != nil {
		return nil, rejudge
	}
	if len(pos) == 0 {
		return nil, input.Errorf("merge", "need RESULT...: result.json files, or folders holding them")
	}
	var names []string
	for _, n := range strings.FieldsFunc(expect, func(r rune) bool { return r == ',' || r == ' ' }) {
		if err := action.CheckCaseName(n); err != nil {
			return nil, input.Wrap("--expect-cases", err)
		}
		names = append(names, n)
	}
	for _, p := range pos {
		// Named here, a result that is not there is a mistake; in the
		// Action it is a matrix cell that uploaded nothing (a warning).
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) && !strings.ContainsAny(p, "*?[") {
			return nil, input.Errorf("merge", "%s: no such file or folder", p)
		}
	}
	cases, warnings, err := loadResults(pos, "")
	if err != nil {
		return nil, err
	}
	if err := onlyExpected(cases, names, "--expect-cases"); err != nil {
		return nil, err
	}
	for _, w := range warnings {
		fmt.Fprintln(e.Stderr, "diffperf: warning:", w)
	}
	if len(cases) == 0 && len(names) == 0 {
		return nil, input.Errorf("merge", "no result.json in %s", strings.Join(pos, ", "))
	}
	m, err := report.Merge(cases, names, vf.opt.Alpha)
	if err != nil {
		return nil, err
	}
	return vf.emit(e, merged(m))
}

// loadResults reads the results that args name: a result.json file, a
// folder (every regular file named result.json beneath it, not through
// symbolic links), or a glob of either. Relative paths are taken from dir
// ("" for the working directory). A name that matches nothing is a
// warning, since a matrix cell that failed early uploads nothing; a file
// that is not a usable result is an error naming it.
// onlyExpected refuses, by name, a case that expect (the input or flag
// name) does not list, when it lists any: a cell's result the workflow did
// not ask for (a PR's job can write one) must not join the gate.
func onlyExpected(cases []report.CaseResult, expect []string, name string) error {
	if len(expect) == 0 {
		return nil
	}
	for _, c := range cases {
		if !slices.Contains(expect, c.Name) {
			return input.Errorf(name, "case %q (%s) is not one of the expected cases %s; a result the workflow did not ask for is refused", c.Name, c.Source, strings.Join(expect, ", "))
		}
	}
	return nil
}

func loadResults(args []string, dir string) (cases []report.CaseResult, warnings []error, err error) {
	seen := map[string]bool{}
	add := func(path string) error {
		abs, err := filepath.Abs(path)
		if err != nil {
			return input.Wrap("result "+path, err)
		}
		if seen[abs] {
			return nil
		}
		seen[abs] = true
		r, err := readResult(path)
		if err != nil {
			return err
		}
		if err := r.CheckCell(); err != nil {
			return input.Wrap("result "+path, err)
		}
		name := r.Case
		if name == "" {
			name = r.Model // a result of a single-case job, before cases had names
		}
		if name == "" {
			name = path
		}
		cases = append(cases, report.CaseResult{Name: name, Source: path, Result: r})
		return nil
	}
	for _, arg := range args {
		pattern := arg
		if dir != "" && !filepath.IsAbs(pattern) {
			pattern = filepath.Join(dir, pattern)
		}
		matches := []string{pattern}
		if strings.ContainsAny(arg, "*?[") {
			if matches, err = filepath.Glob(pattern); err != nil {
				return nil, nil, input.Errorf("results", "%q: %w", arg, err)
			}
			slices.Sort(matches)
		}
		found := 0
		for _, p := range matches {
			fi, err := os.Stat(p)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, nil, input.Wrap("results", err)
			}
			if !fi.IsDir() {
				found++
				if err := add(p); err != nil {
					return nil, nil, err
				}
				continue
			}
			werr := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.Name() == "result.json" && d.Type().IsRegular() {
					found++
					return add(path)
				}
				return nil
			})
			if _, ok := input.As(werr); ok {
				return nil, nil, werr
			}
			if werr != nil {
				return nil, nil, input.Wrap("results", werr)
			}
		}
		if found == 0 {
			warnings = append(warnings, input.Errorf("results", "%q holds no result.json", arg))
		}
	}
	return cases, warnings, nil
}

// maxResultBytes bounds what is read of one result.json: a result of a
// hundred runs and a thousand stages is a few MiB.
const maxResultBytes = 64 << 20

// readResult reads one result.json: a regular file (not a FIFO that would
// block), at most maxResultBytes of it. The file may come from another
// job's artifact, so everything in it is untrusted text.
func readResult(path string) (*report.Result, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, input.Wrap("result "+path, errors.Unwrap(err))
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, input.Errorf("result "+path, "not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxResultBytes+1))
	if err != nil {
		return nil, input.Wrap("result "+path, err)
	}
	if len(data) > maxResultBytes {
		return nil, input.Errorf("result "+path, "larger than %d MiB; not a diffperf result", maxResultBytes>>20)
	}
	return report.ParseJSON(path, data)
}
