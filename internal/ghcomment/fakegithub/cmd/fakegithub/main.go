// Command fakegithub serves package fakegithub on 127.0.0.1 for the
// end-to-end test with act. It prints its address, writes its state as JSON
// after every change, and stops by itself after -lifetime. GET
// /_fake/state answers the state (comments, labels, reactions, workflow
// dispatches); the test sets the rest (permissions, pull requests,
// workflows, comments) through the /_fake/ endpoints of package fakegithub.
//
//	fakegithub -addr 127.0.0.1:0 -repo owner/name -pr 7 -token T -labels a,b -state state.json -addr-file addr.txt
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/diffperf/diffperf/internal/ghcomment"
	"github.com/diffperf/diffperf/internal/ghcomment/fakegithub"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	repo := flag.String("repo", "octo/perf", "owner/name")
	pr := flag.Int("pr", 7, "pull request number")
	token := flag.String("token", "fake-token", "accepted token, for github-actions[bot]")
	labels := flag.String("labels", "", "comma-separated labels of the pull request")
	state := flag.String("state", "", "file to write the state to after every change")
	addrFile := flag.String("addr-file", "", "file to write the base URL to")
	lifetime := flag.Duration("lifetime", 15*time.Minute, "stop after this long")
	flag.Parse()

	owner, name, _ := strings.Cut(*repo, "/")
	s := fakegithub.New(owner, name, map[string]string{*token: ghcomment.DefaultBot}, *pr)
	if *labels != "" {
		s.SetLabels(*pr, strings.Split(*labels, ",")...)
	}
	if *state != "" {
		s.OnChange = func(st fakegithub.State) {
			b, _ := json.MarshalIndent(st, "", "  ")
			_ = os.WriteFile(*state, b, 0o644)
		}
		s.OnChange(s.State())
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
		fmt.Fprintln(os.Stderr, "fakegithub listens on loopback only")
		os.Exit(2)
	}
	s.BaseURL = "http://" + ln.Addr().String()
	if *addrFile != "" {
		_ = os.WriteFile(*addrFile, []byte(s.BaseURL), 0o644)
	}
	fmt.Println(s.BaseURL)
	go func() { time.Sleep(*lifetime); os.Exit(0) }()
	_ = http.Serve(ln, s)
}
