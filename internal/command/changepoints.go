package command

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/diffperf/diffperf/internal/changepoint"
	"github.com/diffperf/diffperf/internal/history"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/report"
)

const changepointsUsage = `usage: diffperf changepoints [--format markdown|json] [--p 0.001] [--min-change 1%] [--window 50] [--min-segment 3] FILE
       diffperf changepoints [flags] [--case C] [--metric e2e] FILE.jsonl
       diffperf changepoints [flags] --store DIR [--case C] [--metric e2e]

Finds the change points of a series: the commits at which its level
changed, with Apache Otava's method (E-divisive means in sliding windows,
a t-test, then merging the weakest change points). FILE is CSV with the
header commit,value; several rows of one commit are its samples, and the
points are the commits in the order they first appear. A .jsonl FILE (a
file of the history store) or --store DIR (a checkout of the data
branch) gives a case's metric, each commit with every sample of its
lines, in commit order; a change of GPU, driver, CUDA or torch is an
environment break, either side of which is searched apart. See
docs/changepoints.md.`

// cmdChangepoints is `diffperf changepoints`.
func cmdChangepoints(args []string, e Env) error {
	fs := flag.NewFlagSet("changepoints", flag.ContinueOnError)
	opt := changepoint.DefaultOptions()
	format := "markdown"
	fs.StringVar(&format, "format", format, "output format: markdown or json")
	fs.Var(floatFlag{&opt.P}, "p", "significance level a change point's t-test must be below")
	fs.Var(percentFlag{&opt.MinChangePct}, "min-change", "smallest change of the median that counts, e.g. 1%")
	fs.IntVar(&opt.Window, "window", opt.Window, "points in each sliding window of E-divisive")
	fs.IntVar(&opt.MinSegment, "min-segment", opt.MinSegment, "fewest points between two change points")
	store := fs.String("store", "", "a checkout of the data branch: read the series from its store")
	caseName := fs.String("case", "", "JSON Lines and --store: the case, by key or name (needed when there are several)")
	metric := fs.String("metric", history.ChangeMetrics[0], "JSON Lines and --store: the metric's id, e.g. e2e, denoise.step_median, stage:DenoisingStage")
	pos, err := parseFlags(fs, args)
	var h *helpRequest
	if errors.As(err, &h) {
		return &helpRequest{changepointsUsage + "\n\nFlags:\n" + flagUsage(fs)}
	}
	if err != nil {
		return err
	}
	if format != "markdown" && format != "json" {
		return input.Errorf("--format", "%q is neither markdown nor json", format)
	}
	if err := opt.Validate(); err != nil {
		return asFlag(err)
	}
	var series changepoint.Series
	name := *store
	switch {
	case *store != "" && len(pos) > 0:
		return input.Errorf("--store", "reads the store of %s: give no FILE with it (got %d)", *store, len(pos))
	case *store != "":
		fi, err := os.Stat(*store)
		if err != nil || !fi.IsDir() {
			return input.Errorf("--store", "%q is not a folder", *store)
		}
		lines, problems, err := history.Store{Dir: *store}.Read()
		if err != nil {
			return input.Wrap("--store", err)
		}
		reportProblems(e.Stderr, problems)
		if series, name, err = storeSeries(lines, *store, *caseName, *metric); err != nil {
			return err
		}
	case len(pos) != 1:
		return input.Errorf("changepoints", "need one file (CSV with the header commit,value, or the store's .jsonl), or --store DIR; got %d argument(s)", len(pos))
	case strings.HasSuffix(pos[0], ".jsonl"):
		lines, problems, err := history.ReadFile(pos[0])
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return input.Wrap(pos[0], err)
		}
		reportProblems(e.Stderr, problems)
		if series, name, err = storeSeries(lines, pos[0], *caseName, *metric); err != nil {
			return err
		}
	default:
		if *caseName != "" || *metric != history.ChangeMetrics[0] {
			return input.Errorf("--case", "--case and --metric choose a series of the store (a .jsonl file or --store); %s is CSV", pos[0])
		}
		if series, err = readSeriesCSV(pos[0]); err != nil {
			return err
		}
		name = pos[0]
	}
	r, err := changepoint.Detect(series, opt)
	if err != nil {
		return input.Wrap(name, err)
	}
	if format == "json" {
		return writeJSON(e.Stdout, changepointsJSON(r))
	}
	_, err = io.WriteString(e.Stdout, changepointsMarkdown(name, r, opt))
	return err
}

// reportProblems prints the lines of the store that do not parse, by file
// and line: they are skipped, never dropped.
func reportProblems(w io.Writer, problems []history.Problem) {
	for _, p := range problems {
		fmt.Fprintf(w, "changepoints: skipped %v\n", p)
	}
}

// storeSeries is the series of metric of case (a key or a name; "" when
// lines hold one case) in lines read from src: the case's commits in
// commit order, each with every sample of its lines and its environment's
// fingerprint. Its name is src's, with the case and the metric.
func storeSeries(lines []history.Line, src, caseName, metric string) (changepoint.Series, string, error) {
	keys := history.Keys(lines)
	if len(keys) == 0 {
		return nil, "", input.Errorf(src, "holds no line of the history store")
	}
	key := ""
	switch {
	case caseName != "":
		for _, l := range lines {
			if l.Case.Key == caseName || l.Case.Name == caseName {
				key = l.Case.Key
				break
			}
		}
		if key == "" {
			return nil, "", input.Errorf("--case", "%q is not a case of %s (its cases: %s)", caseName, src, strings.Join(keys, ", "))
		}
	case len(keys) == 1:
		key = keys[0]
	default:
		return nil, "", input.Errorf("--case", "%s holds %d cases (%s): name one", src, len(keys), strings.Join(keys, ", "))
	}
	pts := history.Points(history.Series(lines, key), metric)
	if len(pts) == 0 {
		var ids []string
		for _, l := range history.Series(lines, key) {
			for _, m := range l.Metrics {
				if !slices.Contains(ids, m.ID) {
					ids = append(ids, m.ID)
				}
			}
		}
		return nil, "", input.Errorf("--metric", "case %s of %s has no samples of %q (its metrics: %s)", key, src, metric, strings.Join(ids, ", "))
	}
	return history.SeriesOf(pts), fmt.Sprintf("%s (case %s, %s)", src, key, metric), nil
}

// readSeriesCSV reads a series from CSV with the header commit,value. Each
// error names the file, and the line and field where there is one.
func readSeriesCSV(path string) (changepoint.Series, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in the name
		}
		return nil, input.Wrap(path, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1 // checked here, with a message that says what is wanted
	r.TrimLeadingSpace = true
	var s changepoint.Series
	at := map[string]int{}
	for first := true; ; first = false {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, input.Errorf(fmt.Sprintf("%s:%d", path, pe.Line), "%w", pe.Err)
		}
		if err != nil {
			return nil, input.Wrap(path, err)
		}
		line, _ := r.FieldPos(0)
		where := fmt.Sprintf("%s:%d", path, line)
		if first {
			if len(rec) != 2 || strings.TrimSpace(rec[0]) != "commit" || strings.TrimSpace(rec[1]) != "value" {
				return nil, input.Errorf(where, "the header is %q, want commit,value", strings.Join(rec, ","))
			}
			continue
		}
		if len(rec) != 2 {
			return nil, input.Errorf(where, "%d fields, want 2 (commit,value)", len(rec))
		}
		commit := strings.TrimSpace(rec[0])
		if commit == "" {
			return nil, input.Errorf(where, "field commit is empty")
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, input.Errorf(where, "field value %q is not a finite number", rec[1])
		}
		i, ok := at[commit]
		if !ok {
			i = len(s)
			at[commit] = i
			s = append(s, changepoint.Point{Commit: commit})
		}
		s[i].Samples = append(s[i].Samples, v)
	}
	if len(s) == 0 {
		return nil, input.Errorf(path, "no rows after the header commit,value")
	}
	return s, nil
}

// cpJSON is one change point of the JSON answer.
type cpJSON struct {
	Index        int     `json:"index"`
	Commit       string  `json:"commit"`
	BeforeMedian float64 `json:"before_median"`
	AfterMedian  float64 `json:"after_median"`
	ChangePct    float64 `json:"change_pct"`
	P            float64 `json:"p"`
}

// envJSON is one environment break of the JSON answer.
type envJSON struct {
	Index  int    `json:"index"`
	Commit string `json:"commit"`
	From   string `json:"from"`
	To     string `json:"to"`
}

type changepointsAnswer struct {
	Points       int      `json:"points"`
	ChangePoints []cpJSON `json:"change_points"`
	// EnvBreaks are present only where the series has environments (the
	// store's); CSV has none.
	EnvBreaks []envJSON `json:"environment_breaks,omitempty"`
}

func changepointsJSON(r *changepoint.Result) changepointsAnswer {
	a := changepointsAnswer{Points: r.Points, ChangePoints: []cpJSON{}}
	for _, c := range r.ChangePoints {
		a.ChangePoints = append(a.ChangePoints, cpJSON(c))
	}
	for _, b := range r.EnvBreaks {
		a.EnvBreaks = append(a.EnvBreaks, envJSON(b))
	}
	return a
}

// changepointsMarkdown is the Markdown answer: a line that says what was
// found with which options, and a table of the change points.
func changepointsMarkdown(path string, r *changepoint.Result, opt changepoint.Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**Change points** of %s: %d points, %d change point(s) (p < %s, change ≥ %s%%, window %d, minimum segment %d).\n",
		report.Escape(path), r.Points, len(r.ChangePoints), report.FormatNum(opt.P), report.FormatNum(opt.MinChangePct), opt.Window, opt.MinSegment)
	for _, e := range r.EnvBreaks {
		fmt.Fprintf(&b, "\nEnvironment break at %d (%s): %s → %s.\n", e.Index, report.Code(e.Commit), report.Escape(e.From), report.Escape(e.To))
	}
	if len(r.ChangePoints) == 0 {
		return b.String()
	}
	b.WriteString("\n| index | commit | before (median) | after (median) | change | p |\n| ---: | --- | ---: | ---: | ---: | ---: |\n")
	for _, c := range r.ChangePoints {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", c.Index, report.Code(c.Commit),
			strconv.FormatFloat(c.BeforeMedian, 'g', 6, 64), strconv.FormatFloat(c.AfterMedian, 'g', 6, 64),
			report.FormatPct(c.ChangePct), strconv.FormatFloat(c.P, 'g', 2, 64))
	}
	return b.String()
}
