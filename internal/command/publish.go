package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/report"
)

// publication is a report ready to be published, one case's or several
// cases' merged: the document and what differs between the two kinds.
type publication struct {
	doc report.Document
	// md and js name its files in the out folder.
	md, js string
	// outputs are the Action's outputs beyond verdict, report-path and
	// result-path, in the order they are set.
	outputs [][2]string
}

// single is the publication of one case's result: report.md and
// result.json, and the E2E outputs.
func single(r *report.Result) publication {
	p := publication{doc: r, md: "report.md", js: "result.json"}
	if m := r.Metric(report.MetricE2E); m != nil {
		p.outputs = [][2]string{
			{"e2e-delta-pct", fmt.Sprintf("%.2f", m.DeltaPct)},
			{"base-e2e-ms", fmt.Sprintf("%.2f", m.Base.Median)},
			{"head-e2e-ms", fmt.Sprintf("%.2f", m.Head.Median)},
			{"p-value", fmt.Sprintf("%.4f", m.P)},
		}
	}
	return p
}

// merged is the publication of several cases' merged report: merged.md
// and merged.json beside the cases' folders (whose names cannot hold a
// dot), and the output case-counts.
func merged(m *report.Merged) publication {
	counts, _ := json.Marshal(m.Counts())
	return publication{doc: m, md: "merged.md", js: "merged.json", outputs: [][2]string{{"case-counts", string(counts)}}}
}

// renders renders one document once per set of options (the file, the
// summary, the comment and a retry at half the size each ask for one),
// without the secrets.
type renders struct {
	doc     report.Document
	secrets []string
	done    map[report.RenderOptions]string
}

func newRenders(d report.Document, secrets []string) *renders {
	return &renders{doc: d, secrets: secrets, done: map[report.RenderOptions]string{}}
}

func (r *renders) at(opt report.RenderOptions) string {
	md, ok := r.done[opt]
	if !ok {
		md = bench.Redact(r.doc.Render(opt), r.secrets)
		r.done[opt] = md
	}
	return md
}

// save writes p's JSON and Markdown (md, rendered already) in dir and
// returns their paths: JSON first (it is what the tools read back), each
// whole or not at all, and without the secrets.
func (p publication) save(dir, md string, secrets []string) (mdPath, jsPath string, err error) {
	js, err := p.doc.JSON()
	if err != nil {
		return "", "", err
	}
	mdPath, jsPath = filepath.Join(dir, p.md), filepath.Join(dir, p.js)
	if err := writeFileAtomic(jsPath, []byte(bench.Redact(string(js), secrets))); err != nil {
		return "", "", err
	}
	if err := writeFileAtomic(mdPath, []byte(bench.Redact(md, secrets))); err != nil {
		return "", jsPath, err
	}
	return mdPath, jsPath, nil
}

// printDoc writes d to w in format (markdown, the md given, or json),
// without the secrets.
func printDoc(w io.Writer, d report.Document, md, format string, secrets []string) error {
	if format == "json" {
		b, err := d.JSON()
		if err != nil {
			return err
		}
		md = string(b)
	}
	_, err := io.WriteString(w, bench.Redact(md, secrets))
	return err
}

// emit is the end of a CLI command that measured or compared: p saved in
// dir when there is one (its paths named on stderr), then printed on
// stdout in format. The report reaches stdout even when the files could
// not be written; the error is what went wrong, measuring (merr) or
// writing.
func emit(e Env, p publication, dir, format string, secrets []string, merr error) error {
	md := p.doc.Render(report.RenderOptions{})
	var mdPath, jsPath string
	var werr error
	if dir != "" {
		mdPath, jsPath, werr = p.save(dir, md, secrets)
	}
	if err := printDoc(e.Stdout, p.doc, md, format, secrets); err != nil {
		return errors.Join(err, werr, merr)
	}
	if dir != "" && werr == nil {
		fmt.Fprintf(e.Stderr, "report: %s\nresult: %s\n", mdPath, jsPath)
	}
	return errors.Join(merr, werr)
}

// publish puts p where people look: files first, then the step summary
// and outputs, then the PR comment and the status on head, so that
// nothing measured is lost if GitHub fails. Each size of the report is
// rendered once. It returns what p found, and what went wrong (merr:
// measuring).
func (j *actionJob) publish(ctx context.Context, p publication, head string, merr error) (*finding, error) {
	rs := newRenders(p.doc, j.redactions())
	md := rs.at(j.fileOptions())
	mdPath, jsPath, werr := p.save(j.out, md, j.redactions())
	merr = errors.Join(merr, werr)
	// GitHub keeps at most 1 MiB of summary a step; a rune is at most 4
	// bytes.
	j.addSummary(rs.at(report.RenderOptions{Marker: j.key, MaxChars: maxSummaryBytes / 4}))
	j.setOutputs(p, mdPath, jsPath)
	bench.WriteUntrusted(j.e.Stdout, md)

	o := p.doc.Outcome()
	url, ghErr := j.upsertComment(ctx, o.Verdict, func(max int) string {
		return rs.at(report.RenderOptions{Marker: j.key, MaxChars: max, State: true, Context: j.statusContext()})
	})
	state, desc := p.doc.Status(j.cfg.AcceptLabel)
	ghErr = errors.Join(ghErr, j.finalStatus(ctx, head, state, desc, url))
	if o.Gates && j.cfg.FailOnRegression {
		j.gha.Errorf("diffperf: regression: %s", j.redact(o.Reason))
	}
	return &finding{p.doc, j.cfg.FailOnRegression}, errors.Join(merr, ghErr)
}

// setOutputs sets the outputs of a published report: verdict, the paths of
// its files, and p's own.
func (j *actionJob) setOutputs(p publication, mdPath, jsPath string) {
	j.setOutput("verdict", string(p.doc.Outcome().Verdict))
	j.setOutput("report-path", mdPath)
	j.setOutput("result-path", jsPath)
	for _, kv := range p.outputs {
		j.setOutput(kv[0], kv[1])
	}
}

// fileOptions render the report of the out folder and the log: the whole
// report, marker first, with no limit.
func (j *actionJob) fileOptions() report.RenderOptions {
	return report.RenderOptions{Marker: j.key, MaxChars: math.MaxInt}
}

// save writes p's files in the out folder, without the secrets, for a job
// that publishes them nowhere else.
func (j *actionJob) save(p publication) (mdPath, jsPath string, err error) {
	return p.save(j.out, j.redact(p.doc.Render(j.fileOptions())), j.redactions())
}

// maxSummaryBytes is what GitHub keeps of one step's summary.
// https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands#step-isolation-and-limits
const maxSummaryBytes = 1 << 20
