package fakesglang

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServerAPI drives the fake server's HTTP API in-process: health,
// images, videos; each request's dump is written where it asks, with the
// told durations, its own noise, and its launch's offset.
func TestServerAPI(t *testing.T) {
	t.Parallel()
	w, err := readWorkload(filepath.Join(t.TempDir(), "none"))
	if err != nil {
		t.Fatal(err)
	}
	w.sleepScale, w.jitter, w.launchJitter, w.steps = 0, 0.001, 0.05, 4
	dir := t.TempDir()
	serverOf := func(launch string) *httptest.Server {
		ts := httptest.NewServer(NewServer(w, Behavior{}, "test/model", launch, &bytes.Buffer{}))
		t.Cleanup(ts.Close)
		return ts
	}
	post := func(ts *httptest.Server, path, body string) map[string]any {
		t.Helper()
		resp, err := http.Post(ts.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d, %v", path, resp.StatusCode, err)
		}
		return m
	}
	total := func(name string) float64 {
		t.Helper()
		var d struct {
			Tag   string            `json:"tag"`
			Total float64           `json:"total_duration_ms"`
			Meta  map[string]string `json:"meta"`
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &d); err != nil || d.Tag != "server_perf_dump" || d.Meta["model"] != "test/model" || d.Meta["prompt"] != "" {
			t.Fatalf("%s: tag %q meta %v (%v)", name, d.Tag, d.Meta, err)
		}
		return d.Total
	}
	req := func(dump string) string {
		return `{"prompt": "p", "perf_dump_path": "` + filepath.Join(dir, dump) + `", "num_inference_steps": 4, "seed": 1}`
	}
	a, b := serverOf("launch=head-launch1"), serverOf("launch=head-launch2")
	if resp, err := http.Get(a.URL + "/health"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v %v", resp, err)
	}
	post(a, "/v1/images/generations", req("a1.json"))
	post(a, "/v1/images/generations", req("a2.json"))
	post(b, "/v1/images/generations", req("a1.json.b")) // the same request name, another launch
	a1, a2, b1 := total("a1.json"), total("a2.json"), total("a1.json.b")
	// Requests of one launch differ by their noise (0.1 %); launches by
	// their offset (up to 5 %).
	if a1 == a2 || math.Abs(a1/a2-1) > 0.003 {
		t.Errorf("requests of one launch: %v and %v, want close but not equal", a1, a2)
	}
	if math.Abs(b1/a1-1) < 0.004 {
		t.Errorf("two launches: %v and %v, want the launch offset between them", a1, b1)
	}
	job := post(a, "/v1/videos", req("v.json"))
	id, _ := job["id"].(string)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(a.URL + "/v1/videos/" + id)
		if err != nil {
			t.Fatal(err)
		}
		var st map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if st["status"] == "completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("video job %s: %v", id, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if total("v.json") <= 0 {
		t.Error("the video wrote no duration")
	}
	if resp, _ := http.Get(a.URL + "/v1/videos/nope"); resp.StatusCode != 404 {
		t.Errorf("unknown video: %d", resp.StatusCode)
	}
}

// The release binary's fake refuses the test build's serve faults too.
func TestMainRefusesServeFaults(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(WorkloadFile, []byte("behavior=die-on-request\nrequest=3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if code := Main([]string{"serve", "--model-path", "m", "--port", "1"}, &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), "exist only in the test build") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
