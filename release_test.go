package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestReleaseBuild runs the release workflow's build script as the workflow
// does and checks its assets: both binaries, static and stamped with the
// version, and a checksums file that sha256sum -c accepts.
func TestReleaseBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-builds two binaries (about a minute on 2 cores)")
	}
	needTools(t, "bash")
	t.Parallel()
	const version = "v1.2.3-rc.1"
	dist := t.TempDir()
	if out, err := exec.Command("bash", ".github/release/build.sh", version, dist).CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	names, _ := filepath.Glob(filepath.Join(dist, "*"))
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	if want := []string{"diffperf_linux_amd64", "diffperf_linux_arm64", "diffperf_" + version + "_checksums.txt"}; !equalSets(names, want) {
		t.Fatalf("assets %v, want %v", names, want)
	}

	for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		bin := filepath.Join(dist, "diffperf_linux_"+arch)
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		if f.Machine != machine {
			t.Errorf("%s: machine %v, want %v", bin, f.Machine, machine)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked; want CGO_ENABLED=0", bin)
			}
		}
		f.Close()
		bi, err := buildinfo.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" || settings["GOARCH"] != arch {
			t.Errorf("%s: build settings %v", bin, settings)
		}
		// With -trimpath the build info omits -ldflags: look for the
		// stamped string itself (the amd64 one also runs, below).
		if b, err := os.ReadFile(bin); err != nil || !bytes.Contains(b, []byte(version)) {
			t.Errorf("%s does not contain the version %s: %v", bin, version, err)
		}
	}

	out, err := exec.Command(filepath.Join(dist, "diffperf_linux_amd64"), "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "diffperf "+version+" (") {
		t.Errorf("diffperf_linux_amd64 --version: %v: %q, want it to start with %q", err, out, "diffperf "+version+" (")
	}

	// The checksums: sha256sum's own check, and ours.
	sums := "diffperf_" + version + "_checksums.txt"
	if _, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command("sha256sum", "--strict", "-c", sums)
		cmd.Dir = dist
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c: %v\n%s", err, out)
		}
	}
	b, err := os.ReadFile(filepath.Join(dist, sums))
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("%s: line %q is not in sha256sum's format", sums, sc.Text())
		}
		if got := sha256File(t, filepath.Join(dist, name)); got != sum {
			t.Errorf("%s: %s is %s, the file's SHA-256 is %s", sums, name, sum, got)
		}
		listed = append(listed, name)
	}
	if want := []string{"diffperf_linux_amd64", "diffperf_linux_arm64"}; !slices.Equal(listed, want) {
		t.Errorf("%s lists %v, want %v", sums, listed, want)
	}
}

// TestReleaseBuildRefusesVersions checks that only a version tag reaches
// -ldflags and the file names.
func TestReleaseBuildRefusesVersions(t *testing.T) {
	needTools(t, "bash")
	t.Parallel()
	for _, v := range []string{"1.2.3", "v1.2", "v1", "v1.2.3 -X main.x=y", "v1.2.3/../x", ""} {
		dist := t.TempDir()
		cmd := exec.Command("bash", ".github/release/build.sh", v, dist)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "is not a tag like v1.2.3") {
			t.Errorf("build.sh %q: %v, %q; want exit 2 naming the version", v, err, out)
		}
		if files, _ := os.ReadDir(dist); len(files) > 0 {
			t.Errorf("build.sh %q wrote %v", v, files)
		}
	}
}

// TestInstallScript runs .github/release/install.sh as action.yml does,
// against an httptest server standing in for the releases download
// (DIFFPERF_RELEASES_URL) and a local git repository standing in for the
// action's repository (GITHUB_SERVER_URL=file://...), with small stand-in
// binaries.
func TestInstallScript(t *testing.T) {
	needTools(t, "bash", "curl", "git", "sha256sum")
	t.Parallel()
	work := t.TempDir()

	// The action's repository: c1 is release v1.2.2; c2 is v1.2.3 (an
	// annotated tag), v1.3.0-rc.1 and the major tag v1; c3 carries only a
	// pre-release; c4 the broken releases v9.9.x; c5 no tag at all.
	server := filepath.Join(work, "git")
	repo := filepath.Join(work, "src")
	gitIn(t, work, "init", "-q", "-b", "main", repo)
	commit := func(msg string) string {
		gitIn(t, repo, "commit", "-q", "--allow-empty", "-m", msg)
		return strings.TrimSpace(gitIn(t, repo, "rev-parse", "HEAD"))
	}
	c1 := commit("c1")
	gitIn(t, repo, "tag", "v1.2.2")
	c2 := commit("c2")
	gitIn(t, repo, "tag", "-a", "-m", "release v1.2.3", "v1.2.3")
	gitIn(t, repo, "tag", "v1.3.0-rc.1")
	gitIn(t, repo, "tag", "v1")
	c3 := commit("c3")
	gitIn(t, repo, "tag", "-a", "-m", "pre-release", "v1.4.0-rc.1")
	c4 := commit("c4")
	for _, tag := range []string{"v9.9.9", "v9.9.8", "v9.9.7", "v9.9.6"} {
		gitIn(t, repo, "tag", tag)
	}
	c5 := commit("c5")
	gitIn(t, work, "clone", "-q", "--bare", repo, filepath.Join(server, "octo", "diffperf.git"))
	commitOf := map[string]string{"v1.2.2": c1, "v1.2.3": c2, "v1.3.0-rc.1": c2, "v1.4.0-rc.1": c3, "v9.9.9": c4, "v9.9.8": c4, "v9.9.7": c4}

	// Stand-in binaries: scripts that answer --version as diffperf does,
	// naming their commit, one per release and architecture.
	type release map[string][]byte // asset name -> content
	bin := func(tag, arch string) []byte {
		return []byte(fmt.Sprintf("#!/bin/sh\necho 'diffperf %s (commit %s, stand-in for linux/%s)'\n", tag, commitOf[tag][:12], arch))
	}
	sumsOf := func(tag string, files release) []byte {
		var b bytes.Buffer
		for _, arch := range []string{"amd64", "arm64"} {
			name := "diffperf_linux_" + arch
			sum := sha256.Sum256(files[name])
			fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), name)
		}
		return b.Bytes()
	}
	good := func(tag string) release {
		r := release{"diffperf_linux_amd64": bin(tag, "amd64"), "diffperf_linux_arm64": bin(tag, "arm64")}
		r["diffperf_"+tag+"_checksums.txt"] = sumsOf(tag, r)
		return r
	}
	releases := map[string]release{}
	for _, tag := range []string{"v1.2.2", "v1.2.3", "v1.3.0-rc.1", "v1.4.0-rc.1"} {
		releases[tag] = good(tag)
	}
	// v9.9.9: the binary was swapped after the checksums were made.
	releases["v9.9.9"] = good("v9.9.9")
	releases["v9.9.9"]["diffperf_linux_amd64"] = []byte("#!/bin/sh\necho evil\n")
	// v9.9.8: the checksums file lists no amd64 binary.
	releases["v9.9.8"] = good("v9.9.8")
	releases["v9.9.8"]["diffperf_v9.9.8_checksums.txt"] = bytes.Join(slices.DeleteFunc(bytes.SplitAfter(releases["v9.9.8"]["diffperf_v9.9.8_checksums.txt"], []byte("\n")),
		func(l []byte) bool { return bytes.Contains(l, []byte("amd64")) }), nil)
	// v9.9.7: a tag without assets (its release is not published yet).
	// v9.9.6: a release whose binary, checksums and all, is the build of
	// another commit (c1's), as a SHA pin must never get.
	commitOf["v9.9.6"] = c1
	releases["v9.9.6"] = good("v9.9.6")

	// Each subtest downloads under a prefix of its own (/N/releases/...),
	// so that what one downloaded is told apart from what the others,
	// running at the same time, did.
	var mu sync.Mutex
	requests := map[string][]string{} // by prefix
	planted := map[string]bool{}      // by prefix: a request carried the header of a planted ~/.curlrc
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, id := r.URL.Path, ""
		if !strings.HasPrefix(path, "/releases/") {
			id, path, _ = strings.Cut(strings.TrimPrefix(path, "/"), "/")
			path = "/" + path
		}
		mu.Lock()
		requests[id] = append(requests[id], path)
		if r.Header.Get("X-Planted") != "" {
			planted[id] = true
		}
		mu.Unlock()
		tag, name, _ := strings.Cut(strings.TrimPrefix(path, "/releases/"), "/")
		b, ok := releases[tag][name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close) // after the parallel subtests
	// curl trusts the test server's certificate through CURL_CA_BUNDLE, as
	// a runner behind a TLS-inspecting proxy would.
	caFile := filepath.Join(work, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	httpURL := "http" + strings.TrimPrefix(srv.URL, "https")

	tests := []struct {
		name       string
		ref        string
		env        []string
		wantCode   int
		fromSource string // the step output: "true", "false", "" for none
		installed  []byte // DEST/diffperf; nil for none
		wantOut    []string
		wantNoReq  bool // nothing downloaded
	}{
		{name: "release tag", ref: "v1.2.3", fromSource: "false", installed: bin("v1.2.3", "amd64"),
			wantOut: []string{"installed diffperf_linux_amd64 of release v1.2.3", "diffperf v1.2.3 (commit " + c2[:12] + ", stand-in for linux/amd64)"}},
		{name: "release tag on arm64", ref: "v1.2.3", env: []string{"RUNNER_ARCH=ARM64"}, fromSource: "false", installed: bin("v1.2.3", "arm64")},
		{name: "pre-release tag", ref: "v1.3.0-rc.1", fromSource: "false", installed: bin("v1.3.0-rc.1", "amd64")},
		{name: "major tag: the stable release on its commit", ref: "v1", fromSource: "false", installed: bin("v1.2.3", "amd64"),
			wantOut: []string{"v1 is release v1.2.3"}},
		{name: "commit of a release: stable wins over a pre-release", ref: c2, fromSource: "false", installed: bin("v1.2.3", "amd64"),
			wantOut: []string{c2 + " is release v1.2.3"}},
		{name: "commit of a pre-release", ref: c3, fromSource: "false", installed: bin("v1.4.0-rc.1", "amd64")},
		{name: "release mirror URL with a trailing slash", ref: "v1.2.2", env: []string{"DIFFPERF_RELEASES_URL=" + srv.URL + "/releases/"},
			fromSource: "false", installed: bin("v1.2.2", "amd64")},

		{name: "checksum mismatch", ref: "v9.9.9", wantCode: 1,
			wantOut: []string{"::error::diffperf: checksum mismatch for diffperf_linux_amd64 of release v9.9.9", "refusing to install it"}},
		{name: "no checksum for the binary", ref: "v9.9.8", wantCode: 1,
			wantOut: []string{"::error::diffperf: diffperf_v9.9.8_checksums.txt of release v9.9.8 has no checksum for diffperf_linux_amd64"}},
		{name: "release without assets", ref: "v9.9.7", fromSource: "true",
			wantOut: []string{"::warning::diffperf: cannot download diffperf_v9.9.7_checksums.txt of release v9.9.7", "building from source"}},

		{name: "uses: ./", ref: "", fromSource: "true", wantNoReq: true, wantOut: []string{"building from source"}},
		{name: "branch", ref: "main", fromSource: "true", wantNoReq: true, wantOut: []string{`ref "main" is not a release tag`, "building from source"}},
		{name: "minor tag", ref: "v1.2", fromSource: "true", wantNoReq: true, wantOut: []string{"building from source"}},
		{name: "short SHA", ref: c2[:12], fromSource: "true", wantNoReq: true, wantOut: []string{"building from source"}},
		{name: "commit without a release", ref: c5, fromSource: "true", wantNoReq: true,
			wantOut: []string{"no release tag of octo/diffperf is on commit " + c5, "building from source"}},
		{name: "a release built from another commit", ref: "v9.9.6", fromSource: "true",
			wantOut: []string{"not commit " + c4[:12] + " that the action runs from", "building from source"}},
		{name: "plain http is refused", ref: "v1.2.2", env: []string{"DIFFPERF_RELEASES_URL=" + httpURL + "/releases"}, fromSource: "true",
			wantNoReq: true, wantOut: []string{"cannot download", "building from source"}},
		{name: "major tag that does not exist", ref: "v2", fromSource: "true", wantNoReq: true,
			wantOut: []string{"no stable release v2.Y.Z of octo/diffperf is on the commit of tag v2", "building from source"}},
		{name: "repository without tags", ref: "v1", env: []string{"DIFFPERF_ACTION_REPOSITORY=octo/nope"}, fromSource: "true", wantNoReq: true,
			wantOut: []string{"::warning::diffperf: cannot list the tags of octo/nope", "building from source"}},
		{name: "not Linux", ref: "v1.2.3", env: []string{"RUNNER_OS=macOS"}, fromSource: "true", wantNoReq: true,
			wantOut: []string{"no release binary for macOS"}},
		{name: "other architecture", ref: "v1.2.3", env: []string{"RUNNER_ARCH=ARM"}, fromSource: "true", wantNoReq: true},
		{name: "a ref that would be a workflow command", ref: "main\n::error::injected %0A", fromSource: "true", wantNoReq: true,
			wantOut: []string{`ref "main%0A::error::injected %250A" is not a release tag`}},
		{name: "a ref with shell syntax", ref: "v1.2.3; touch pwned $(touch pwned)", fromSource: "true", wantNoReq: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := strconv.Itoa(i)
			dir := t.TempDir()
			dest := filepath.Join(dir, "diffperf-bin")
			output := filepath.Join(dir, "github_output")
			// What a benchmark of an earlier job could have left in the
			// runner user's home: a ~/.curlrc (its header shows if curl
			// read it) and a ~/.gitconfig that rewrites the action's URL.
			write(t, filepath.Join(dir, ".curlrc"), "header = \"X-Planted: yes\"\ninsecure\n")
			write(t, filepath.Join(dir, ".gitconfig"), "[url \"file:///nonexistent/\"]\n\tinsteadOf = file://"+server+"/\n")
			cmd := exec.Command("bash", filepath.Join(must(os.Getwd()), ".github/release/install.sh"), dest)
			cmd.Dir = dir
			cmd.Env = append([]string{
				"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "CURL_CA_BUNDLE=" + caFile,
				"DIFFPERF_ACTION_REF=" + tt.ref, "DIFFPERF_ACTION_REPOSITORY=octo/diffperf",
				"GITHUB_SERVER_URL=file://" + server, "DIFFPERF_RELEASES_URL=" + srv.URL + "/" + id + "/releases",
				"RUNNER_OS=Linux", "RUNNER_ARCH=X64", "GITHUB_OUTPUT=" + output,
			}, tt.env...) // later entries win
			out, err := cmd.CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Errorf("exit status %d, want %d\n%s", code, tt.wantCode, out)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, line := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(line, "::") && !strings.HasPrefix(line, "::error::diffperf: ") && !strings.HasPrefix(line, "::warning::diffperf: ") {
					t.Errorf("a line of the output is a workflow command not of ours: %q", line)
				}
			}
			o, _ := os.ReadFile(output)
			wantOutput := ""
			if tt.fromSource != "" {
				wantOutput = "from-source=" + tt.fromSource + "\n"
			}
			if string(o) != wantOutput {
				t.Errorf("GITHUB_OUTPUT %q, want %q\n%s", o, wantOutput, out)
			}
			got, err := os.ReadFile(filepath.Join(dest, "diffperf"))
			switch {
			case tt.installed == nil && err == nil:
				t.Errorf("%s/diffperf was installed; want nothing there", dest)
			case tt.installed != nil && !bytes.Equal(got, tt.installed):
				t.Errorf("%s/diffperf: %v %q, want %q", dest, err, got, tt.installed)
			case tt.installed != nil:
				if fi, err := os.Stat(filepath.Join(dest, "diffperf")); err != nil || fi.Mode().Perm()&0o111 == 0 {
					t.Errorf("%s/diffperf is not executable: %v", dest, err)
				}
			}
			if left, _ := filepath.Glob(filepath.Join(dest, ".install.*")); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
			if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
				t.Error("the ref was run by a shell")
			}
			mu.Lock()
			if planted[id] {
				t.Error("curl read the planted ~/.curlrc")
			}
			mu.Unlock()
			if tt.wantNoReq {
				mu.Lock()
				defer mu.Unlock()
				for _, p := range requests[id] {
					t.Errorf("downloaded %s", p)
				}
			}
		})
	}
}

// TestPublishScript runs .github/release/publish.sh with a stand-in gh
// (which records its arguments) in a clone of a local origin: the release
// gets the three assets, and the major tag moves only to the highest stable
// release of its major version.
func TestPublishScript(t *testing.T) {
	needTools(t, "bash", "git", "sha256sum")
	t.Parallel()
	work := t.TempDir()
	origin := filepath.Join(work, "origin.git")
	src := filepath.Join(work, "src")
	gitIn(t, work, "init", "-q", "-b", "main", src)
	tags := map[string]string{}
	for _, tag := range []string{"v1.2.0", "v1.3.0-rc.1", "v1.3.0", "v1.2.1", "v2.0.0"} {
		gitIn(t, src, "commit", "-q", "--allow-empty", "-m", tag)
		gitIn(t, src, "tag", tag)
		tags[tag] = strings.TrimSpace(gitIn(t, src, "rev-parse", "HEAD"))
	}
	// Tags reach origin one release at a time, as they would be pushed.
	gitIn(t, work, "init", "-q", "--bare", origin)
	gitIn(t, src, "push", "-q", origin, "main")

	// gh: "release view" finds nothing; everything else is logged.
	ghDir := filepath.Join(work, "bin")
	ghLog := filepath.Join(work, "gh.log")
	mkdirs(t, ghDir)
	write(t, filepath.Join(ghDir, "gh"), "#!/bin/sh\n[ \"$1 $2\" = \"release view\" ] && exit 1\necho \"$*\" >>\""+ghLog+"\"\n")
	if err := os.Chmod(filepath.Join(ghDir, "gh"), 0o755); err != nil {
		t.Fatal(err)
	}

	majorAt := func(clone, major string) string {
		out, err := exec.Command("git", "-C", clone, "ls-remote", origin, "refs/tags/"+major).Output()
		if err != nil {
			t.Fatal(err)
		}
		sha, _, _ := strings.Cut(string(out), "\t")
		return sha
	}
	// In order, as releases would happen; each in a fresh clone.
	steps := []struct {
		version   string
		wantGh    string
		wantMajor map[string]string // major tag -> release it points at ("" for none)
	}{
		{"v1.2.0", "release create v1.2.0 DIST/diffperf_linux_amd64 DIST/diffperf_linux_arm64 DIST/diffperf_v1.2.0_checksums.txt --verify-tag --title v1.2.0 --generate-notes",
			map[string]string{"v1": "v1.2.0"}},
		{"v1.3.0-rc.1", "--prerelease", map[string]string{"v1": "v1.2.0"}},
		{"v1.3.0", "release create v1.3.0 ", map[string]string{"v1": "v1.3.0"}},
		{"v1.2.1", "release create v1.2.1 ", map[string]string{"v1": "v1.3.0"}}, // a patch of an older minor
		{"v2.0.0", "release create v2.0.0 ", map[string]string{"v1": "v1.3.0", "v2": "v2.0.0"}},
	}
	for _, st := range steps {
		gitIn(t, src, "push", "-q", origin, "refs/tags/"+st.version)
		clone := filepath.Join(work, "clone-"+st.version)
		gitIn(t, work, "clone", "-q", origin, clone)
		dist := filepath.Join(work, "dist-"+st.version)
		mkdirs(t, dist)
		var sums bytes.Buffer
		for _, arch := range []string{"amd64", "arm64"} {
			b := []byte("binary " + st.version + " " + arch)
			write(t, filepath.Join(dist, "diffperf_linux_"+arch), string(b))
			s := sha256.Sum256(b)
			fmt.Fprintf(&sums, "%x  diffperf_linux_%s\n", s, arch)
		}
		write(t, filepath.Join(dist, "diffperf_"+st.version+"_checksums.txt"), sums.String())
		os.Remove(ghLog)
		cmd := exec.Command("bash", filepath.Join(must(os.Getwd()), ".github/release/publish.sh"), st.version, dist)
		cmd.Dir = clone
		cmd.Env = append(os.Environ(), "PATH="+ghDir+string(os.PathListSeparator)+os.Getenv("PATH"), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("publish.sh %s: %v\n%s", st.version, err, out)
		}
		log, _ := os.ReadFile(ghLog)
		if got := strings.ReplaceAll(string(log), dist, "DIST"); !strings.Contains(got, st.wantGh) {
			t.Errorf("publish.sh %s: gh %q, want %q", st.version, got, st.wantGh)
		}
		if strings.Contains(st.version, "-") != strings.Contains(string(log), "--prerelease") {
			t.Errorf("publish.sh %s: gh %q: --prerelease exactly for a pre-release", st.version, log)
		}
		for major, rel := range st.wantMajor {
			if got := majorAt(clone, major); got != tags[rel] {
				t.Errorf("after %s: %s at %q, want %s (%s)\n%s", st.version, major, got, rel, tags[rel], out)
			}
		}
	}

	// GitHub refusing the push of the major tag (as it does for the
	// workflow's token across changes of .github/workflows/): the job fails
	// and says how to move the tag.
	gitIn(t, src, "commit", "-q", "--allow-empty", "-m", "v1.4.0")
	gitIn(t, src, "tag", "v1.4.0")
	gitIn(t, src, "push", "-q", origin, "refs/tags/v1.4.0")
	hook := filepath.Join(origin, "hooks", "pre-receive")
	write(t, hook, "#!/bin/sh\necho 'refusing to allow a GitHub App to create or update workflow' >&2\nexit 1\n")
	if err := os.Chmod(hook, 0o755); err != nil {
		t.Fatal(err)
	}
	{
		clone := filepath.Join(work, "clone-refused")
		gitIn(t, work, "clone", "-q", origin, clone)
		dist := filepath.Join(work, "dist-refused")
		mkdirs(t, dist)
		b := []byte("binary")
		write(t, filepath.Join(dist, "diffperf_linux_amd64"), string(b))
		write(t, filepath.Join(dist, "diffperf_linux_arm64"), string(b))
		write(t, filepath.Join(dist, "diffperf_v1.4.0_checksums.txt"), fmt.Sprintf("%x  diffperf_linux_amd64\n%x  diffperf_linux_arm64\n", sha256.Sum256(b), sha256.Sum256(b)))
		cmd := exec.Command("bash", filepath.Join(must(os.Getwd()), ".github/release/publish.sh"), "v1.4.0", dist)
		cmd.Dir = clone
		cmd.Env = append(os.Environ(), "PATH="+ghDir+string(os.PathListSeparator)+os.Getenv("PATH"), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "::error::publish.sh: release v1.4.0 is published, but moving v1 to it was refused") ||
			!strings.Contains(string(out), "MAJOR_TAG_TOKEN") {
			t.Errorf("publish.sh with the tag push refused: %v\n%s", err, out)
		}
		if got := majorAt(clone, "v1"); got != tags["v1.3.0"] {
			t.Errorf("v1 at %s after a refused push, want v1.3.0's %s", got, tags["v1.3.0"])
		}
	}

	// Assets that changed after their checksums were made are not published.
	clone := filepath.Join(work, "clone-bad")
	gitIn(t, work, "clone", "-q", origin, clone)
	dist := filepath.Join(work, "dist-bad")
	mkdirs(t, dist)
	write(t, filepath.Join(dist, "diffperf_linux_amd64"), "x")
	write(t, filepath.Join(dist, "diffperf_linux_arm64"), "y")
	write(t, filepath.Join(dist, "diffperf_v1.2.0_checksums.txt"), fmt.Sprintf("%x  diffperf_linux_amd64\n%x  diffperf_linux_arm64\n", sha256.Sum256([]byte("z")), sha256.Sum256([]byte("y"))))
	os.Remove(ghLog)
	cmd := exec.Command("bash", filepath.Join(must(os.Getwd()), ".github/release/publish.sh"), "v1.2.0", dist)
	cmd.Dir = clone
	cmd.Env = append(os.Environ(), "PATH="+ghDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "FAILED") {
		t.Errorf("publish.sh with a changed binary: %v\n%s", err, out)
	}
	if _, err := os.Stat(ghLog); err == nil {
		t.Error("publish.sh called gh with a changed binary")
	}
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
}

func mkdirs(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func equalSets(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestActReleaseInstall runs action.yml with act (host mode) as a remote
// action pinned to a release, `uses: diffperf/diffperf@v1.2.3` (this
// repository's files standing in for it), with the release downloads served
// by httptest: the install step gets the action's own ref from
// github.action_ref, installs the release binary (a stand-in script), Go
// and the build from source are skipped, and the benchmark step runs that
// binary; with a tampered binary the job fails before the benchmark. It
// needs act, like TestActEndToEnd.
func TestActReleaseInstall(t *testing.T) {
	act := os.Getenv("DIFFPERF_ACT")
	if act == "" {
		t.Skip("DIFFPERF_ACT is not set (.ci/run sets it after installing act)")
	}
	needTools(t, "curl", "sha256sum")
	work := t.TempDir()
	action := filepath.Join(work, "action")
	copyTracked(t, ".", action)
	proj := filepath.Join(work, "proj")
	mkdirs(t, filepath.Join(proj, ".github", "workflows"))
	write(t, filepath.Join(proj, ".github", "workflows", "t.yml"), `name: t
on: workflow_dispatch
jobs:
  t:
    runs-on: self-hosted
    steps:
      - uses: diffperf/diffperf@v1.2.3
      - run: '"$RUNNER_TEMP/diffperf-bin/diffperf" --version'
`)
	gitIn(t, work, "init", "-q", "-b", "main", proj)
	gitIn(t, proj, "add", "-A")
	gitIn(t, proj, "commit", "-q", "-m", "workflow")

	// The action's repository, where install.sh finds the commit of tag
	// v1.2.3 that the release binary must name.
	src := filepath.Join(work, "src")
	gitIn(t, work, "init", "-q", "-b", "main", src)
	gitIn(t, src, "commit", "-q", "--allow-empty", "-m", "v1.2.3")
	gitIn(t, src, "tag", "v1.2.3")
	commit := strings.TrimSpace(gitIn(t, src, "rev-parse", "HEAD"))
	gitIn(t, work, "clone", "-q", "--bare", src, filepath.Join(work, "git", "diffperf", "diffperf.git"))

	standIn := []byte("#!/bin/sh\ncase \"$1\" in --version) echo 'diffperf v1.2.3 (commit " + commit[:12] + ", stand-in)';; esac\necho \"stand-in diffperf v1.2.3 ran with: $*\"\n")
	sum := sha256.Sum256(standIn)
	assets := map[string][]byte{
		"diffperf_linux_amd64": standIn, "diffperf_linux_arm64": standIn,
		"diffperf_v1.2.3_checksums.txt": []byte(fmt.Sprintf("%x  diffperf_linux_amd64\n%x  diffperf_linux_arm64\n", sum, sum)),
	}
	var tampered atomic.Bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := assets[strings.TrimPrefix(r.URL.Path, "/v1.2.3/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if tampered.Load() && strings.HasSuffix(r.URL.Path, "_amd64") {
			b = append(b, '#')
		}
		w.Write(b)
	}))
	defer srv.Close()
	caFile := filepath.Join(work, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}

	runAct := func(name string) actResult {
		t.Helper()
		cmd := exec.Command(act, "workflow_dispatch", "-W", ".github/workflows/t.yml", "-P", "self-hosted=-self-hosted",
			"--env", "DIFFPERF_RELEASES_URL="+srv.URL, "--env", "RUNNER_ARCH=X64", "--env", "CURL_CA_BUNDLE="+caFile,
			"--env", "DIFFPERF_TAGS_URL=file://"+filepath.Join(work, "git", "diffperf", "diffperf.git"),
			"--local-repository", "diffperf/diffperf@v1.2.3="+action,
			"--local-repository", "actions/setup-go@d35c59abb061a4a6fb18e82ac0862c26744d6ab5="+must(filepath.Abs("testdata/act/stub-action")),
			"--action-cache-path", filepath.Join(work, "act-cache-"+name), "--json")
		cmd.Dir = proj
		cmd.Env = withoutVars(os.Environ(), "GITHUB_TOKEN", "GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV")
		out, _ := cmd.CombinedOutput() // the job's result is in the JSON log
		res := parseAct(out)
		if res.jobResult == "" {
			t.Fatalf("%s: no job result in act's log; the job did not run:\n%s", name, tail(string(out), 4000))
		}
		return res
	}

	r := runAct("release")
	if r.jobResult != "success" {
		t.Errorf("release: job %s, want success\n%s", r.jobResult, tail(r.log, 4000))
	}
	for _, want := range []string{"installed diffperf_linux_amd64 of release v1.2.3", "stand-in diffperf v1.2.3 ran with: action", "stand-in diffperf v1.2.3 ran with: --version"} {
		if !strings.Contains(r.log, want) {
			t.Errorf("release: act's log lacks %q", want)
		}
	}
	for _, step := range []string{"Run Main Set up Go for diffperf", "Run Main Build diffperf"} {
		if strings.Contains(r.log, step) {
			t.Errorf("release: %q ran; want it skipped", step)
		}
	}
	if r.outputs["from-source"] != "false" {
		t.Errorf("release: install step output from-source = %q, want false", r.outputs["from-source"])
	}

	tampered.Store(true)
	r = runAct("tampered")
	if r.jobResult != "failure" {
		t.Errorf("tampered: job %s, want failure", r.jobResult)
	}
	if !strings.Contains(r.log, "checksum mismatch for diffperf_linux_amd64 of release v1.2.3") {
		t.Errorf("tampered: act's log lacks the checksum mismatch\n%s", tail(r.log, 4000))
	}
	if strings.Contains(r.log, "ran with: action") || strings.Contains(r.log, "Run Main Build diffperf") {
		t.Error("tampered: the benchmark or a build from source ran after a checksum mismatch")
	}
}
