package dump

// Run is one benchmark process's dump and where it stood in the measurement.
type Run struct {
	// Index is the run's 1-based number within its side.
	Index int
	// Order is the run's 1-based position in the whole measurement, across
	// both sides (base 1, head 2, head 3, base 4, ...); 0 when unknown.
	Order int
	Dump  *Dump
	// Launch and Request place a warm server's request: the 1-based launch
	// of the side's server and the measured request within it. Launch is 0
	// for a run that was a process of its own.
	Launch, Request int
	// LoadMs is how long the request's server took from its start to its
	// first healthy answer (its model load), in ms; 0 for a run that was
	// a process of its own, or when unknown.
	LoadMs float64
}

// Side is one side of a comparison: its name for people, where its code came
// from, and its runs.
type Side struct {
	// Label is what tables call the side: "Baseline" and "New" by default.
	Label string
	// Ref and SHA name the side's code when known.
	Ref, SHA string
	Runs     []Run
}

// Failure describes why a measurement could not finish.
type Failure struct {
	// Side and Run name the run that failed, when one did (Run 1-based).
	Side string `json:"side,omitempty"`
	Run  int    `json:"run,omitempty"`
	// Launch and Request name a warm server's launch (1-based within the
	// side) and measured request that failed; 0 when not one.
	Launch  int    `json:"launch,omitempty"`
	Request int    `json:"request,omitempty"`
	Reason  string `json:"reason"`
	LogTail string `json:"log_tail,omitempty"`
}

// Environment is the GPU and host state the runs saw.
type Environment struct {
	// GPUs before the first and after the last run; empty when nvidia-smi
	// is not available (see Note).
	Before []GPU `json:"before"`
	After  []GPU `json:"after"`
	// Host is the runner's name (input runner-name), if given, and its
	// CPU count; never the machine's host name.
	Host string `json:"host,omitempty"`
	Note string `json:"note,omitempty"`
	// Sandbox is "bwrap" or "none" ("" when not known); SandboxNote is
	// the line the report carries when it is none.
	Sandbox     string `json:"sandbox,omitempty"`
	SandboxNote string `json:"sandbox_note,omitempty"`
}

// GPU is one nvidia-smi reading.
type GPU struct {
	Name            string `json:"name"`
	Driver          string `json:"driver"`
	SMClockMHz      string `json:"sm_clock_mhz"`
	MemClockMHz     string `json:"mem_clock_mhz"`
	TemperatureC    string `json:"temperature_c"`
	PowerW          string `json:"power_w"`
	PowerLimitW     string `json:"power_limit_w"`
	ThrottleReasons string `json:"throttle_reasons"`
}
