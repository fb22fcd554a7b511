package history

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Folder is the store's top folder inside its checkout.
const Folder = "history"

// Store is a folder that holds the store: a checkout of the data branch, or
// any folder (history add works without git). Its files are
// Folder/<case-key>/<yyyy-mm>.jsonl.
type Store struct {
	Dir string
}

// Problem is a stored line that could not be read: its file (relative to
// the store, with forward slashes), its 1-based line number and why. The
// line stays in the file; readers skip it.
type Problem struct {
	File string
	Line int
	Err  error
}

func (p Problem) Error() string { return fmt.Sprintf("%s:%d: %v", p.File, p.Line, p.Err) }

// File is the path of the file that holds l, relative to the store.
func File(l *Line) string {
	return Folder + "/" + l.Case.Key + "/" + l.Month() + ".jsonl"
}

// Append adds lines to their files, creating files and folders as needed,
// and returns how many it added. It never rewrites a byte already in a
// file: it opens each file for appending only and writes its new lines in
// one write. A line whose identity (case, commit, side, batch, run time)
// is already in its file is not added again, so adding a result twice, or
// replaying an append that had landed, keeps each line once. A file whose
// last line lacks its newline (a write cut short) gets one before the new
// lines, so that line stays as it was, on a line of its own.
func (s Store) Append(lines []Line) (int, error) {
	byFile := map[string][]Line{}
	var files []string
	for i := range lines {
		l := &lines[i]
		if err := l.Validate(); err != nil {
			return 0, fmt.Errorf("line %d to append: %w", i+1, err)
		}
		f := File(l)
		if _, ok := byFile[f]; !ok {
			files = append(files, f)
		}
		byFile[f] = append(byFile[f], *l)
	}
	added := 0
	for _, f := range files {
		n, err := s.appendFile(f, byFile[f])
		added += n
		if err != nil {
			return added, err
		}
	}
	return added, nil
}

func (s Store) appendFile(rel string, lines []Line) (int, error) {
	path := filepath.Join(s.Dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	have, endsOpen, err := identities(path)
	if err != nil {
		return 0, fmt.Errorf("store %s: %w", rel, err)
	}
	var buf bytes.Buffer
	if endsOpen {
		buf.WriteByte('\n')
	}
	n := 0
	for i := range lines {
		id := lines[i].identity()
		if have[id] {
			continue
		}
		have[id] = true
		b, err := json.Marshal(&lines[i])
		if err != nil {
			return 0, fmt.Errorf("store %s: %w", rel, err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
		n++
	}
	if n == 0 {
		return 0, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	_, werr := f.Write(buf.Bytes())
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return 0, fmt.Errorf("store %s: %w", rel, werr)
	}
	return n, nil
}

// identities are the identities of the lines of the file at path that
// parse, and whether its last byte is not a newline; a missing file has
// none.
func identities(path string) (map[string]bool, bool, error) {
	have := map[string]bool{}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return have, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	for _, b := range bytes.Split(data, []byte{'\n'}) {
		if l, err := parseLine(b); err == nil {
			have[l.identity()] = true
		}
	}
	return have, len(data) > 0 && data[len(data)-1] != '\n', nil
}

// Read reads every line of the store, in file order (cases by key, months
// in order), and the problems: lines that do not parse or sit in another
// case's folder, which are skipped. An error means the store could not be
// read at all. A store without its Folder is empty.
func (s Store) Read() ([]Line, []Problem, error) {
	root := filepath.Join(s.Dir, Folder)
	cases, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	var lines []Line
	var problems []Problem
	for _, c := range cases {
		if !c.IsDir() {
			continue // a symbolic link or a stray file is not a case
		}
		months, err := os.ReadDir(filepath.Join(root, c.Name()))
		if err != nil {
			return nil, nil, fmt.Errorf("store: %w", err)
		}
		for _, m := range months {
			if !m.Type().IsRegular() || !strings.HasSuffix(m.Name(), ".jsonl") {
				continue
			}
			rel := Folder + "/" + c.Name() + "/" + m.Name()
			ls, ps, err := readFile(filepath.Join(root, c.Name(), m.Name()), rel, c.Name())
			if err != nil {
				return nil, nil, fmt.Errorf("store %s: %w", rel, err)
			}
			lines, problems = append(lines, ls...), append(problems, ps...)
		}
	}
	return lines, problems, nil
}

// ReadFile reads one file of lines (a month's file of the store, or any
// JSON Lines file of them) and the problems: lines that do not parse,
// reported by path and line and skipped.
func ReadFile(path string) ([]Line, []Problem, error) { return readFile(path, path, "") }

// readFile reads one month's file of case key ("": of any case).
func readFile(path, rel, key string) ([]Line, []Problem, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var lines []Line
	var problems []Problem
	for n := 1; ; n++ {
		b, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			l, perr := parseLine(b)
			switch {
			case perr != nil:
				problems = append(problems, Problem{File: rel, Line: n, Err: perr})
			case key != "" && l.Case.Key != key:
				problems = append(problems, Problem{File: rel, Line: n, Err: fmt.Errorf("case.key %q does not match its folder %q", l.Case.Key, key)})
			default:
				lines = append(lines, l)
			}
		}
		if errors.Is(err, io.EOF) {
			return lines, problems, nil
		}
		if err != nil {
			return nil, nil, err
		}
	}
}

// Keys are the case keys of lines, sorted.
func Keys(lines []Line) []string {
	var keys []string
	for _, l := range lines {
		if !slices.Contains(keys, l.Case.Key) {
			keys = append(keys, l.Case.Key)
		}
	}
	slices.Sort(keys)
	return keys
}

// Series is the lines of case key in commit order: by commit time (a line
// without one sorts by its run time instead), then run time, then base
// before head (the base of a run is the older commit), then batch, then
// commit. The order is total, so a series is the same however its lines
// were stored.
func Series(lines []Line, key string) []Line {
	var out []Line
	for _, l := range lines {
		if l.Case.Key == key {
			out = append(out, l)
		}
	}
	slices.SortStableFunc(out, compareLines)
	return out
}

func compareLines(a, b Line) int {
	return cmp.Or(
		orderTime(a).Compare(orderTime(b)),
		runTime(a).Compare(runTime(b)),
		cmp.Compare(sideRank(a.Side), sideRank(b.Side)),
		cmp.Compare(a.Batch, b.Batch),
		cmp.Compare(a.Commit, b.Commit),
	)
}

func orderTime(l Line) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, l.CommitTime); err == nil {
		return t
	}
	return runTime(l)
}

func runTime(l Line) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, l.RunTime)
	return t
}

func sideRank(side string) int {
	if side == SideBase {
		return 0
	}
	return 1
}

// Point is one commit of a series with every sample of one metric that any
// of its lines holds (a commit is measured as the head of one run and the
// base of the next), for change points; Environment is its first line's.
type Point struct {
	Commit      string
	Environment Environment
	Samples     []float64
}

// Points are the commits of series (as Series orders it) with their
// samples of metric id, in the order of each commit's first line. Lines
// without the metric add nothing; a commit none of whose lines has it is
// left out.
func Points(series []Line, id string) []Point {
	var out []Point
	at := map[string]int{}
	for _, l := range series {
		m := l.Metric(id)
		if m == nil || len(m.Samples) == 0 {
			continue
		}
		i, ok := at[l.Commit]
		if !ok {
			i = len(out)
			at[l.Commit] = i
			out = append(out, Point{Commit: l.Commit, Environment: l.Environment})
		}
		out[i].Samples = append(out[i].Samples, m.Values()...)
	}
	return out
}
