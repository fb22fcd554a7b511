package report

// StageTable renders r's two tables of compare_perf.py's report, the
// high-level summary and the stage breakdown, without the headline and
// the collapsed details: for a report that shows one comparison among
// others (the culprit of a bisection against its parent).
func StageTable(r *Result) string {
	stages := r.stageRows()
	return r.tables(stages, len(stages))
}
