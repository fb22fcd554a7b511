package gpus

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Topology is how each pair of GPUs is connected, as `nvidia-smi topo -m`
// prints it: NV<n> (n bonded NVLinks), PIX, PXB, PHB, NODE or SYS (PCIe,
// from one bridge to across NUMA nodes). The zero Topology knows nothing.
type Topology struct {
	links map[[2]int]string
}

var (
	ansiRE    = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	gpuNameRE = regexp.MustCompile(`^GPU(\d+)$`)
	linkRE    = regexp.MustCompile(`^(X|SYS|NODE|PHB|PXB|PIX|NV\d+)$`)
)

// ParseTopology reads the matrix of `nvidia-smi topo -m`: a header of
// GPU0 GPU1 ... (and NIC columns, CPU and NUMA affinity, ignored), then a
// row per GPU. Rows of NICs, the legend and blank lines are skipped; a GPU
// row whose link cell is not a known link type is an error naming it.
func ParseTopology(out string) (Topology, error) {
	t := Topology{links: map[[2]int]string{}}
	var cols []int // GPU index of each header column; -1 for others
	for _, line := range strings.Split(ansiRE.ReplaceAllString(out, ""), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if cols == nil {
			if gpuNameRE.MatchString(fields[0]) {
				for _, f := range fields {
					if m := gpuNameRE.FindStringSubmatch(f); m != nil {
						n, _ := strconv.Atoi(m[1])
						cols = append(cols, n)
					} else if strings.HasPrefix(f, "NIC") || strings.HasPrefix(f, "mlx") {
						cols = append(cols, -1)
					} else {
						break // CPU Affinity and what follows
					}
				}
			}
			continue
		}
		m := gpuNameRE.FindStringSubmatch(fields[0])
		if m == nil {
			if strings.HasPrefix(fields[0], "Legend") {
				break
			}
			continue // a NIC row
		}
		row, _ := strconv.Atoi(m[1])
		if len(fields) < len(cols)+1 {
			return Topology{}, fmt.Errorf("nvidia-smi topo -m: the row of GPU%d has %d links, want %d", row, len(fields)-1, len(cols))
		}
		for i, col := range cols {
			cell := fields[i+1]
			if col < 0 {
				continue
			}
			if !linkRE.MatchString(cell) {
				return Topology{}, fmt.Errorf("nvidia-smi topo -m: GPU%d to GPU%d is %q, not a link type (X, NV<n>, PIX, PXB, PHB, NODE, SYS)", row, col, cell)
			}
			if col != row {
				t.links[[2]int{row, col}] = cell
			}
		}
	}
	if cols == nil {
		return Topology{}, fmt.Errorf("nvidia-smi topo -m: no header row of GPU columns")
	}
	return t, nil
}

// Link is how GPUs a and b are connected ("" when the topology does not
// say).
func (t Topology) Link(a, b int) string {
	if l, ok := t.links[[2]int{a, b}]; ok {
		return l
	}
	return t.links[[2]int{b, a}]
}

// rank orders links from worst to best: unknown, SYS, NODE, PHB, PXB, PIX,
// then NVLink by its number of bonded links.
func rank(link string) int {
	switch link {
	case "SYS":
		return 1
	case "NODE":
		return 2
	case "PHB":
		return 3
	case "PXB":
		return 4
	case "PIX":
		return 5
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(link, "NV")); err == nil && strings.HasPrefix(link, "NV") {
		return 100 + n
	}
	return 0
}

// Describe says how the set's GPUs are connected, for the report: "NV18"
// when every pair has the same link, else the worst and the best ("SYS to
// NV18"); "" for one GPU or an unknown topology.
func (t Topology) Describe(s Set) string {
	worst, best := "", ""
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			l := t.Link(s[i].Index, s[j].Index)
			if l == "" {
				return ""
			}
			if worst == "" || rank(l) < rank(worst) {
				worst = l
			}
			if best == "" || rank(l) > rank(best) {
				best = l
			}
		}
	}
	if worst == best {
		return worst
	}
	return worst + " to " + best
}

// score rates a candidate set: its worst link first, then the sum of all,
// so that a pair joined by NVLink wins over one joined by PCIe.
func (t Topology) score(s []GPU) (worst, sum int) {
	worst = 1 << 30
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			r := rank(t.Link(s[i].Index, s[j].Index))
			worst = min(worst, r)
			sum += r
		}
	}
	if len(s) < 2 {
		worst = 0
	}
	return worst, sum
}
