package profile

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// maxSidecar bounds a sidecar: key_averages has one row per distinct
// operator, a few thousand rows, far below this.
const maxSidecar = 64 << 20

// sidecarRow is one key_averages row as it is written to JSON: torch's
// FunctionEventAvg attribute names, with or without a _us suffix, and the
// older cuda_ spelling of device.
type sidecarRow struct {
	Name  *string `json:"name"`
	Key   *string `json:"key"`
	Count *int64  `json:"count"`
	Calls *int64  `json:"calls"`

	SelfDeviceUs   *float64 `json:"self_device_time_total_us"`
	SelfDevice     *float64 `json:"self_device_time_total"`
	SelfCUDAUs     *float64 `json:"self_cuda_time_total_us"`
	SelfCUDA       *float64 `json:"self_cuda_time_total"`
	SelfDeviceTime *float64 `json:"self_device_time_us"`
}

// ReadSidecar reads a `.profile.json` of key_averages rows: a JSON array of
// rows, or an object with one array of rows under any key (the first such
// key wins). Each row gives the operator's name (name or key), its count
// (count or calls) and its self device time in microseconds
// (self_device_time_total[_us], or self_cuda_time_total[_us] as older
// torch names it). Rows without a name are skipped; a row's time is
// summed into the row of its normalised name. name is the file's, for
// errors.
func ReadSidecar(name string, r io.Reader, lim Limits) (Table, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSidecar+1))
	if err != nil {
		return nil, fmt.Errorf("profile sidecar %s: %w", name, err)
	}
	if len(b) > maxSidecar {
		return nil, fmt.Errorf("profile sidecar %s: larger than %d bytes (the limit)", name, maxSidecar)
	}
	var rows []sidecarRow
	if err := json.Unmarshal(b, &rows); err != nil {
		var obj map[string]json.RawMessage
		if json.Unmarshal(b, &obj) != nil {
			return nil, fmt.Errorf("profile sidecar %s: not JSON, or neither an array nor an object: %w", name, err)
		}
		found := false
		for _, k := range sortedKeys(obj) {
			if json.Unmarshal(obj[k], &rows) == nil && len(rows) > 0 {
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("profile sidecar %s: no array of key_averages rows", name)
		}
	}
	t := Table{}
	for i, row := range rows {
		n := first(row.Name, row.Key)
		if n == nil || *n == "" {
			continue
		}
		if len(*n) > lim.MaxNameLen {
			return nil, fmt.Errorf("profile sidecar %s: row %d: a name of %d bytes (the limit is %d)", name, i+1, len(*n), lim.MaxNameLen)
		}
		us := firstFloat(row.SelfDeviceUs, row.SelfDevice, row.SelfCUDAUs, row.SelfCUDA, row.SelfDeviceTime)
		if !(us >= 0) || math.IsInf(us, 0) {
			return nil, fmt.Errorf("profile sidecar %s: row %d (%q): self device time %v is not a duration", name, i+1, *n, us)
		}
		calls := int64(0)
		if c := first(row.Count, row.Calls); c != nil {
			calls = *c
		}
		if calls < 0 {
			return nil, fmt.Errorf("profile sidecar %s: row %d (%q): count %d is negative", name, i+1, *n, calls)
		}
		key := Normalise(*n)
		tot, ok := t[key]
		if !ok && len(t) >= lim.MaxNames {
			return nil, fmt.Errorf("profile sidecar %s: more than %d distinct names (the limit)", name, lim.MaxNames)
		}
		tot.Us += us
		tot.Calls += calls
		t[key] = tot
	}
	return t, nil
}

func first[T any](vs ...*T) *T {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

func firstFloat(vs ...*float64) float64 {
	if v := first(vs...); v != nil {
		return *v
	}
	return 0
}
