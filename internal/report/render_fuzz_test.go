package report

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	dumpfmt "github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/ghcomment/comment"
)

// htmlStart is a "<" that can open a tag, a comment or a declaration;
// ownTag is every one the renderer writes itself. Any other came from
// outside unescaped.
var htmlStart = regexp.MustCompile(`<[A-Za-z/!?]`)
var ownTag = regexp.MustCompile(`^(<!-- diffperf:|</?details( open)?>|</?summary>|</?pre>)`)

// FuzzDumpMarkdown drives text from outside through the whole path a
// benchmark's output takes: a dump file is parsed, compared and rendered.
// Whatever the stage names, model and prompt, the report has one marker,
// no HTML but its own, tables whose rows keep their cell count, and one
// stage row per distinct stage: an escaped hostile name never adds,
// removes or splits a row.
func FuzzDumpMarkdown(f *testing.F) {
	f.Add("TextEncodingStage", "DenoisingStage", "Qwen/Qwen-Image", "A curious raccoon", 210.0, 7000.0, uint8(4))
	f.Add(hostile, "a|b\n| c | d |", "org/m@v1 #1", "$x$ GH-2 acme/x#3", 1.0, 2.0, uint8(1))
	f.Add("denoising_step_0", "denoising_step_1", "", "", 30.0, 31.0, uint8(5))
	f.Add("|", "||", "<!-- diffperf:x -->", "</pre>", 0.0, 1e6, uint8(2))
	f.Fuzz(func(t *testing.T, stage1, stage2, model, prompt string, ms1, ms2 float64, runs uint8) {
		if len(stage1)+len(stage2)+len(model)+len(prompt) > 1024 || !(ms1 >= 0 && ms1 < 1e9) || !(ms2 >= 0 && ms2 < 1e9) {
			return // bounded: long names only exercise the size limit, which FuzzMarkdown covers
		}
		n := 1 + int(runs%6)
		dump := func(side string, i int) *dumpfmt.Dump {
			t.Helper()
			scale := 1 + float64(i)/100
			if side == "head" {
				scale *= 1.1
			}
			data, err := json.Marshal(map[string]any{
				"timestamp": "2026-01-01T00:00:00Z", "commit_hash": stage1, "tag": prompt,
				"total_duration_ms": (ms1 + ms2 + 1) * scale,
				"steps": []map[string]any{
					{"name": stage1, "duration_ms": ms1 * scale},
					{"name": stage2, "duration_ms": ms2 * scale},
				},
				"meta": map[string]string{"model": model, "prompt": prompt},
			})
			if err != nil {
				t.Fatal(err)
			}
			d, err := dumpfmt.ParseDump(side+"-"+strconv.Itoa(i)+".json", data)
			if err != nil {
				t.Skip(err) // a name the parser refuses is FuzzParseDump's business
			}
			return d
		}
		var base, head dumpfmt.Side
		names := map[string]bool{}
		for i := 0; i < n; i++ {
			base.Runs = append(base.Runs, dumpfmt.Run{Index: i + 1, Order: 2*i + 1, Dump: dump("base", i)})
			head.Runs = append(head.Runs, dumpfmt.Run{Index: i + 1, Order: 2*i + 2, Dump: dump("head", i)})
		}
		for _, s := range append(base.Runs, head.Runs...) {
			for _, st := range s.Dump.Stages {
				names[st.Name] = true
			}
		}
		base.Ref, head.Ref = stage2, model
		r := Compare(base, head, DefaultOptions())
		r.Command = prompt
		marker := "fuzz-" + model
		out := Markdown(r, RenderOptions{Marker: marker})
		if !strings.HasPrefix(out, comment.MarkerLine(marker)+"\n") {
			t.Fatalf("marker not first: %.120q", out)
		}
		if c := strings.Count(out, "<!--"); c != 1 {
			t.Fatalf("%d comment openers, want 1", c)
		}
		for _, loc := range htmlStart.FindAllStringIndex(out, -1) {
			if !ownTag.MatchString(out[loc[0]:]) {
				t.Fatalf("HTML from outside at %d: %.80q", loc[0], out[loc[0]:])
			}
		}
		checkTables(t, out)
		if got := stageRows(t, out); got != len(names) {
			t.Fatalf("stage table has %d rows for %d stages %q", got, len(names), keys(names))
		}
		for name := range names {
			if name != dumpfmt.DenoisingLoop && !strings.Contains(out, "| "+Escape(name)+" |") {
				t.Fatalf("stage %q is not a row of its own", name)
			}
		}
	})
}

var leftOutRow = regexp.MustCompile(`^\| … (\d+) more stages left out `)

// stageRows counts the rows of the "Stage Breakdown" table, rows left out
// for size included.
func stageRows(t *testing.T, out string) int {
	t.Helper()
	_, table, ok := strings.Cut(out, "#### 2. Stage Breakdown\n")
	if !ok {
		t.Fatalf("no stage table")
	}
	rows := -2 // the header and the alignment row
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "|") {
			break
		}
		if m := leftOutRow.FindStringSubmatch(line); m != nil {
			k, _ := strconv.Atoi(m[1])
			rows += k - 1
		}
		rows++
	}
	return rows
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
