package report

import (
	"fmt"
	"strings"

	"github.com/diffperf/diffperf/internal/dump"
)

// Column is one NEW file of the `compare BASELINE NEW NEW...` form.
type Column struct {
	Label string // the file's base name, as compare_perf.py labels it
	Dump  *dump.Dump
}

// MarkdownMulti renders compare_perf.py's layout for one baseline and two or
// more new files: one column per new file, each cell "value (pct) status",
// no Diff columns and no Throughput row. Single files carry no statistics,
// so there is no verdict: the statuses are compare_perf.py's rules.
func MarkdownMulti(base *dump.Dump, cols []Column) string {
	var b strings.Builder
	labels := make([]string, len(cols))
	seps := make([]string, len(cols))
	for i, c := range cols {
		labels[i] = Escape(c.Label)
		seps[i] = ":---"
	}
	b.WriteString("### Performance Comparison Report\n\n")
	b.WriteString("#### 1. High-level Summary\n")
	fmt.Fprintf(&b, "| Metric | Baseline | %s |\n", strings.Join(labels, " | "))
	fmt.Fprintf(&b, "| :--- | :--- | %s |\n", strings.Join(seps, " | "))
	fmt.Fprintf(&b, "| **E2E Latency** | %s ms |", FormatMs(base.TotalMs))
	for _, c := range cols {
		_, pct := diff(base.TotalMs, c.Dump.TotalMs)
		fmt.Fprintf(&b, " %s ms (%s) %s |", FormatMs(c.Dump.TotalMs), FormatPct(pct), e2eStatus(pct))
	}
	b.WriteString("\n\n\n")

	b.WriteString("#### 2. Stage Breakdown\n")
	fmt.Fprintf(&b, "| Stage Name | Baseline | %s |\n", strings.Join(labels, " | "))
	fmt.Fprintf(&b, "| :--- | :--- | %s |\n", strings.Join(seps, " | "))
	news := make([]*dump.Dump, len(cols))
	for i, c := range cols {
		news[i] = c.Dump
	}
	for _, name := range stageOrder([]*dump.Dump{base}, news) {
		bv := base.StageMs(name)
		fmt.Fprintf(&b, "| %s | %s |", Escape(name), FormatMs(bv))
		for _, c := range cols {
			nv := c.Dump.StageMs(name)
			_, pct := diff(bv, nv)
			fmt.Fprintf(&b, " %s (%s) %s |", FormatMs(nv), FormatPct(pct), stageStatus(bv, nv))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n\n")
	b.WriteString("<details>\n<summary>Metadata</summary>\n\n")
	fmt.Fprintf(&b, "- Baseline Commit: %s\n", Code(orNA(base.CommitHash)))
	for _, c := range cols {
		fmt.Fprintf(&b, "- %s Commit: %s\n", Escape(c.Label), Code(orNA(c.Dump.CommitHash)))
	}
	b.WriteString("</details>\n")
	return b.String()
}

// diff is compare_perf.py's calculate_diff: the percentage is 0 when the
// baseline is 0.
func diff(base, new float64) (ms, pct float64) {
	ms = new - base
	if base != 0 {
		pct = ms / base * 100
	}
	return ms, pct
}

func orNA(s string) string {
	if s == "" {
		return "N/A"
	}
	return s
}

// MultiJSONResult is the JSON form of the `compare BASELINE NEW NEW...`
// layout: per file, e2e and stages with the change against the baseline.
type MultiJSONResult struct {
	Schema   string            `json:"schema"`
	Baseline MultiJSONColumn   `json:"baseline"`
	New      []MultiJSONColumn `json:"new"`
}

// MultiJSONColumn is one file of the multi-file form.
type MultiJSONColumn struct {
	Label      string           `json:"label"`
	File       string           `json:"file"`
	CommitHash string           `json:"commit_hash"`
	E2EMs      float64          `json:"e2e_ms"`
	E2EPct     float64          `json:"e2e_delta_pct"`
	Stages     []MultiJSONStage `json:"stages"`
}

// MultiJSONStage is one stage of one file.
type MultiJSONStage struct {
	Name     string  `json:"name"`
	Ms       float64 `json:"ms"`
	DeltaPct float64 `json:"delta_pct"`
}

// MultiJSON converts the multi-file comparison to its JSON form.
func MultiJSON(base *dump.Dump, cols []Column) *MultiJSONResult {
	news := make([]*dump.Dump, len(cols))
	for i, c := range cols {
		news[i] = c.Dump
	}
	order := stageOrder([]*dump.Dump{base}, news)
	col := func(label string, d *dump.Dump) MultiJSONColumn {
		_, pct := diff(base.TotalMs, d.TotalMs)
		c := MultiJSONColumn{Label: label, File: d.Name, CommitHash: orNA(d.CommitHash), E2EMs: d.TotalMs, E2EPct: pct, Stages: []MultiJSONStage{}}
		for _, name := range order {
			_, sp := diff(base.StageMs(name), d.StageMs(name))
			c.Stages = append(c.Stages, MultiJSONStage{name, d.StageMs(name), sp})
		}
		return c
	}
	out := &MultiJSONResult{Schema: "diffperf.multi/v1", Baseline: col("Baseline", base)}
	for _, c := range cols {
		out.New = append(out.New, col(c.Label, c.Dump))
	}
	return out
}
