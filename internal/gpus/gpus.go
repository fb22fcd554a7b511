// Package gpus knows the GPUs of a runner and hands out disjoint sets of
// them: what nvidia-smi says a machine has (ParseInventory), how its GPUs
// are connected (ParseTopology, from `nvidia-smi topo -m`), which of them a
// job may use (ParseSpec, the input `gpus`), and a Pool that gives each
// case of a job a set of its own for as long as it runs, so that cases run
// side by side and never share a GPU. The cases runner does not use it
// yet (see docs/development.md).
//
// It parses text and hands out sets; it runs nothing. GPUs are named by
// UUID when a set is passed on (CUDA_VISIBLE_DEVICES), because CUDA's
// device order (fastest first by default) need not be nvidia-smi's PCI
// order: an index means nvidia-smi's index everywhere in this package.
package gpus

import (
	"encoding/csv"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Query is the --query-gpu list that ParseInventory reads, with
// --format=csv,noheader,nounits.
const Query = "index,uuid,name,memory.total,pci.bus_id"

// GPU is one GPU of the runner.
type GPU struct {
	// Index is nvidia-smi's index (PCI bus order), as `nvidia-smi topo -m`
	// and the input `gpus` use it.
	Index int
	// UUID is the GPU's stable name, e.g. GPU-5f1c...; CUDA accepts it in
	// CUDA_VISIBLE_DEVICES.
	UUID      string
	Name      string
	MemoryMiB int
	BusID     string
}

var uuidRE = regexp.MustCompile(`^(GPU|MIG)-[0-9A-Za-z-]+$`)

// ParseInventory reads nvidia-smi's answer to Query. An error names the
// line that cannot be a GPU.
func ParseInventory(out string) ([]GPU, error) {
	r := csv.NewReader(strings.NewReader(out))
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("nvidia-smi --query-gpu=%s: unreadable: %w", Query, err)
	}
	var gpus []GPU
	seen := map[int]bool{}
	for i, row := range rows {
		if len(row) != 5 {
			return nil, fmt.Errorf("nvidia-smi --query-gpu=%s: line %d has %d fields, want 5: %q", Query, i+1, len(row), strings.Join(row, ","))
		}
		idx, err := strconv.Atoi(strings.TrimSpace(row[0]))
		if err != nil || idx < 0 || seen[idx] {
			return nil, fmt.Errorf("nvidia-smi --query-gpu=%s: line %d: index %q is not a new non-negative number", Query, i+1, row[0])
		}
		seen[idx] = true
		uuid := strings.TrimSpace(row[1])
		if !uuidRE.MatchString(uuid) {
			return nil, fmt.Errorf("nvidia-smi --query-gpu=%s: line %d: %q is not a GPU UUID", Query, i+1, row[1])
		}
		mem, err := strconv.Atoi(strings.TrimSpace(row[3]))
		if err != nil {
			mem = 0 // "[N/A]" on some GPUs: unknown, not an error
		}
		gpus = append(gpus, GPU{Index: idx, UUID: uuid, Name: strings.TrimSpace(row[2]), MemoryMiB: mem, BusID: strings.TrimSpace(row[4])})
	}
	if len(gpus) == 0 {
		return nil, fmt.Errorf("nvidia-smi --query-gpu=%s: no GPU", Query)
	}
	slices.SortFunc(gpus, func(a, b GPU) int { return a.Index - b.Index })
	return gpus, nil
}

// Spec is the input `gpus`: which of the runner's GPUs a job may use.
type Spec struct {
	all     bool
	count   int
	indices []int
}

// ParseSpec reads the input `gpus`: "all" (the default, also ""), a count
// ("4": any four), or nvidia-smi indices ("0,1" or "2-5,7").
func ParseSpec(s string) (Spec, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return Spec{all: true}, nil
	}
	if !strings.ContainsAny(s, ",-") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return Spec{}, fmt.Errorf("%q is not all, a count of at least 1, or a list of GPU indices such as 0,1 or 0-3", s)
		}
		return Spec{count: n}, nil
	}
	var idx []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, errA := strconv.Atoi(lo)
		b := a
		var errB error
		if isRange {
			b, errB = strconv.Atoi(hi)
		}
		if errA != nil || errB != nil || a < 0 || b < a || b-a > 1024 {
			return Spec{}, fmt.Errorf("%q: %q is not a GPU index or a range of them such as 0-3", s, part)
		}
		for i := a; i <= b; i++ {
			if slices.Contains(idx, i) {
				return Spec{}, fmt.Errorf("%q names GPU %d twice", s, i)
			}
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	return Spec{indices: idx}, nil
}

// Select returns the GPUs of inv that s names, in index order. A count
// takes the first ones; an index the runner does not have is an error.
func (s Spec) Select(inv []GPU) ([]GPU, error) {
	switch {
	case s.all:
		return slices.Clone(inv), nil
	case s.count > 0:
		if s.count > len(inv) {
			return nil, fmt.Errorf("%d GPUs asked for, the runner has %d", s.count, len(inv))
		}
		return slices.Clone(inv[:s.count]), nil
	}
	var out []GPU
	for _, i := range s.indices {
		j := slices.IndexFunc(inv, func(g GPU) bool { return g.Index == i })
		if j < 0 {
			return nil, fmt.Errorf("GPU %d asked for, the runner has %s", i, indexList(inv))
		}
		out = append(out, inv[j])
	}
	return out, nil
}

// indexList is "0-7" or "0, 2, 5" for the error messages.
func indexList(gs []GPU) string {
	if len(gs) == 0 {
		return "none"
	}
	parts := make([]string, len(gs))
	contiguous := true
	for i, g := range gs {
		parts[i] = strconv.Itoa(g.Index)
		contiguous = contiguous && g.Index == gs[0].Index+i
	}
	if contiguous && len(gs) > 2 {
		return fmt.Sprintf("%d-%d", gs[0].Index, gs[len(gs)-1].Index)
	}
	return strings.Join(parts, ", ")
}

// Set is the GPUs one case runs on, in index order.
type Set []GPU

// CUDAVisibleDevices is the value of CUDA_VISIBLE_DEVICES that shows the
// set's GPUs and no other: their UUIDs, so that CUDA's own order does not
// matter.
func (s Set) CUDAVisibleDevices() string {
	ids := make([]string, len(s))
	for i, g := range s {
		ids[i] = g.UUID
	}
	return strings.Join(ids, ",")
}

// Indices is the set's nvidia-smi indices, e.g. "0,1".
func (s Set) Indices() string {
	ids := make([]string, len(s))
	for i, g := range s {
		ids[i] = strconv.Itoa(g.Index)
	}
	return strings.Join(ids, ",")
}

// Key names the set for a comment key or a status context by what it is,
// never by which indices it got: "2x NVIDIA H200". A set of mixed models
// names each.
func (s Set) Key() string {
	var names []string
	counts := map[string]int{}
	for _, g := range s {
		if counts[g.Name] == 0 {
			names = append(names, g.Name)
		}
		counts[g.Name]++
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%dx %s", counts[n], n)
	}
	return strings.Join(parts, " + ")
}
