package profile

import (
	"fmt"
	"math"
	"sort"
)

// Class is how a name's time per step changed from base to head, in the
// classes of Holistic Trace Analysis's trace diff.
type Class string

// The classes of a Row.
const (
	Added     Class = "added"     // in head only
	Gone      Class = "gone"      // in base only
	Increased Class = "increased" // in both, slower in head beyond the noise floor
	Decreased Class = "decreased" // in both, faster in head beyond the noise floor
	Unchanged Class = "unchanged" // in both, within the noise floor
)

// The noise floor: a name in both traces whose time per step changed by
// less than RelNoiseFloor of its base time, or less than AbsNoiseFloorUs,
// is Unchanged. One profiled run a side cannot tell smaller changes from
// the run-to-run spread of kernel times.
const (
	RelNoiseFloor   = 0.02 // 2 % of the base time per step
	AbsNoiseFloorUs = 1.0  // microseconds per step
)

// Which picks a table of a Profile.
type Which int

// The tables Compare can compare.
const (
	KernelTable   Which = iota // Profile.Kernels
	CPUOpTable                 // Profile.CPUOps
	DeviceOpTable              // Profile.DeviceOps, the sidecar's
)

func (w Which) String() string {
	switch w {
	case KernelTable:
		return "kernels"
	case CPUOpTable:
		return "CPU ops"
	case DeviceOpTable:
		return "device time per op"
	}
	return fmt.Sprintf("Which(%d)", int(w))
}

func (w Which) of(p *Profile) Table {
	switch w {
	case CPUOpTable:
		return p.CPUOps
	case DeviceOpTable:
		return p.DeviceOps
	}
	return p.Kernels
}

// Row is one normalised name of a Diff, a row of the report's table
// (base | change | head | calls). Times are microseconds per profiled step.
type Row struct {
	Name  string
	Class Class
	// BaseUs and HeadUs are the time per step of each side, 0 where the
	// name is absent; ChangeUs is HeadUs − BaseUs.
	BaseUs, ChangeUs, HeadUs float64
	// Rel is ChangeUs / BaseUs; 0 for Added rows.
	Rel float64
	// BaseCalls and HeadCalls are the calls per step of each side.
	BaseCalls, HeadCalls float64
}

// Diff is the comparison of one table of two profiles.
type Diff struct {
	// Table says which table was compared.
	Table Which
	// Base and Head are the files compared; BaseSteps and HeadSteps their
	// profiled steps, the divisors of every time.
	Base, Head           string
	BaseSteps, HeadSteps int
	// Rows are the names that changed (every class but Unchanged), by the
	// size of their change per step, largest first, at most the top N.
	Rows []Row
	// Added and Gone are the added and gone names, by their time per
	// step, largest first, at most the top N each.
	Added, Gone []Row
	// Count is the number of names of each class, of all of them.
	Count map[Class]int
	// BaseUs and HeadUs are the summed time per step of every name of each
	// side; ChangeUs is HeadUs − BaseUs, the summed change.
	BaseUs, HeadUs, ChangeUs float64
	// Notes say what limits the comparison (a trace without step markers).
	Notes []string
}

// Compare compares one table of base and head: each name's time per
// profiled step, classed and sorted, keeping the top n of the changed rows
// and of the added and gone ones (n ≤ 0 keeps all). Ties sort by name, so
// the same traces always give the same Diff.
func Compare(base, head *Profile, which Which, n int) Diff {
	d := Diff{Table: which, Base: base.Name, Head: head.Name, BaseSteps: steps(base), HeadSteps: steps(head), Count: map[Class]int{}}
	for _, p := range []*Profile{base, head} {
		if !p.StepsMarked {
			d.Notes = append(d.Notes, fmt.Sprintf("%s has no ProfilerStep# spans: its times are totals over the whole trace, as if it were one step", p.Name))
		}
	}
	bt, ht := which.of(base), which.of(head)
	if which == DeviceOpTable && (bt == nil || ht == nil) {
		d.Notes = append(d.Notes, "no .profile.json sidecar beside both traces: no device time per op")
	}
	bs, hs := float64(d.BaseSteps), float64(d.HeadSteps)
	names := map[string]struct{}{}
	for k := range bt {
		names[k] = struct{}{}
	}
	for k := range ht {
		names[k] = struct{}{}
	}
	var changed []Row
	for _, k := range sortedKeys(names) {
		b, inBase := bt[k]
		h, inHead := ht[k]
		r := Row{Name: k, BaseUs: b.Us / bs, HeadUs: h.Us / hs, BaseCalls: float64(b.Calls) / bs, HeadCalls: float64(h.Calls) / hs}
		r.ChangeUs = r.HeadUs - r.BaseUs
		if r.BaseUs > 0 {
			r.Rel = r.ChangeUs / r.BaseUs
		}
		d.BaseUs += r.BaseUs
		d.HeadUs += r.HeadUs
		switch {
		case !inBase:
			r.Class = Added
		case !inHead:
			r.Class = Gone
		case math.Abs(r.ChangeUs) < math.Max(RelNoiseFloor*r.BaseUs, AbsNoiseFloorUs):
			r.Class = Unchanged
		case r.ChangeUs > 0:
			r.Class = Increased
		default:
			r.Class = Decreased
		}
		d.Count[r.Class]++
		switch r.Class {
		case Added:
			d.Added = append(d.Added, r)
		case Gone:
			d.Gone = append(d.Gone, r)
		}
		if r.Class != Unchanged {
			changed = append(changed, r)
		}
	}
	d.ChangeUs = d.HeadUs - d.BaseUs
	sortBy(changed, func(r Row) float64 { return math.Abs(r.ChangeUs) })
	sortBy(d.Added, func(r Row) float64 { return r.HeadUs })
	sortBy(d.Gone, func(r Row) float64 { return r.BaseUs })
	d.Rows, d.Added, d.Gone = top(changed, n), top(d.Added, n), top(d.Gone, n)
	return d
}

func steps(p *Profile) int {
	return max(p.Steps, 1)
}

// sortBy sorts rows by key, largest first, then by name.
func sortBy(rows []Row, key func(Row) float64) {
	sort.SliceStable(rows, func(i, j int) bool {
		if ki, kj := key(rows[i]), key(rows[j]); ki != kj {
			return ki > kj
		}
		return rows[i].Name < rows[j].Name
	})
}

func top(rows []Row, n int) []Row {
	if n > 0 && len(rows) > n {
		return rows[:n]
	}
	return rows
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
