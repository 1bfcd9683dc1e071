package main

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCanonicalPathRefusesWhatDecodersReadDifferently(t *testing.T) {
	refused := map[string]string{
		"/pub/job/foo/latest%2Fpublic/admin":   "encoded '/'",
		"/pub/job/foo/1/public%2f..%2fadmin":   "encoded '/'",
		"/pub/job/foo/1/public%5Cadmin":        "encoded '/' or '\\'",
		"/pub/job/foo/1/public\\..\\admin":     "'\\'",
		"/pub/job/foo/1/public/../admin":       "dot-segment '..'",
		"/pub/job/foo/1/public/./admin":        "dot-segment '.'",
		"/pub/job/foo/1/public/%2e%2E/admin":   "dot-segment '%2e%2E'",
		"/pub/job/foo/1/public/..;x/admin":     "dot-segment",
		"/pub/job/foo/1/public/%252F/admin":    "double percent-encoding",
		"/pub/job/foo/1/public/%zz/admin":      "malformed percent-encoding",
		"/pub/job/foo/1/public/%2/admin":       "malformed percent-encoding",
		"/pub/job/foo/1/public/%00/admin":      "control character",
		"/pub/job/foo/1/public/%0d%0aX:1/":     "control character",
		"/pub/job/foo/1/public/%ff/admin":      "not UTF-8",
		"pub/job/foo/1/public":                 "must start with '/'",
		"/pub/job/foo/1/public//../admin":      "dot-segment",
		"/pub/job/foo/1/public/%2e%2e%2fadmin": "encoded '/'",
	}
	for raw, want := range refused {
		_, err := canonicalise(raw)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("canonicalise(%q) = %v, want an error mentioning %q", raw, err, want)
		}
	}
}

func TestCanonicalPathForwardsOneEncodingOfWhatWasChecked(t *testing.T) {
	cases := map[string][2]string{ // raw -> decoded, encoded
		"/":                          {"", "/"},
		"/pub/job/a/1/":              {"pub/job/a/1/", "/pub/job/a/1/"},
		"/pub/job/a/1/x%20y/%41;b":   {"pub/job/a/1/x y/A;b", "/pub/job/a/1/x%20y/A%3Bb"},
		"/pub//job/a/1//x":           {"pub/job/a/1/x", "/pub/job/a/1/x"},
		"/pub/job/a/1/%7Eu/~v/a+b":   {"pub/job/a/1/~u/~v/a+b", "/pub/job/a/1/~u/~v/a+b"},
		"/pub/job/a/1/caf%C3%A9/%25": {"pub/job/a/1/café/%", "/pub/job/a/1/caf%C3%A9/%25"},
		"/pub/job/a/1/...":           {"pub/job/a/1/...", "/pub/job/a/1/..."},
	}
	for raw, want := range cases {
		p, err := canonicalise(raw)
		if err != nil {
			t.Fatalf("canonicalise(%q): %v", raw, err)
		}
		if p.decoded(0) != want[0] || p.String() != want[1] {
			t.Errorf("canonicalise(%q) = %q / %q, want %q / %q", raw, p.decoded(0), p.String(), want[0], want[1])
		}
	}
}

func TestJobCallFrom(t *testing.T) {
	p, _ := canonicalise("/pub/job/adder/latest/echo/a%20b/c")
	call, err := jobCallFrom("job", p, 2)
	if err != nil || call == nil || call.name != "adder" || call.version != "latest" || call.path != "echo/a b/c" ||
		call.rest != "echo/a%20b/c" || !call.hasRest {
		t.Fatalf("jobCallFrom: %+v %v", call, err)
	}
	if call.publicPrefix() != "/pub/job/adder/latest" {
		t.Fatalf("publicPrefix = %q", call.publicPrefix())
	}
	p, _ = canonicalise("/pub/fatman/adder/1.0.0")
	if bare, _ := jobCallFrom("fatman", p, 2); bare == nil || bare.hasRest || bare.path != "" {
		t.Fatalf("no path after the version: %+v", bare)
	}
	p, _ = canonicalise("/pub/job/adder/1.0.0/")
	if trailing, _ := jobCallFrom("job", p, 2); trailing == nil || !trailing.hasRest || trailing.rest != "" {
		t.Fatalf("a trailing slash is kept: %+v", trailing)
	}
	for _, short := range []string{"/pub/job", "/pub/job/adder", "/pub/job/adder/"} {
		p, _ = canonicalise(short)
		if call, err := jobCallFrom("job", p, 2); call != nil || err != nil {
			t.Errorf("jobCallFrom(%q) = %+v, %v; want nothing", short, call, err)
		}
	}
	p, _ = canonicalise("/pub/job/ad%3Fder/1.0.0/x")
	if _, err := jobCallFrom("job", p, 2); err == nil || !strings.Contains(err.Error(), "job name") {
		t.Fatalf("a name with '?' is refused: %v", err)
	}
}

// pathWorld is a gateway between a lifecycle that allows every call and records the path it was
// asked about, and a job that records the path it received.
type pathWorld struct {
	gateway *Gateway
	mu      sync.Mutex
	checked []string // "name version path" as the lifecycle decoded them
	got     []string // raw paths as the job received them
}

func newPathWorld(tb testing.TB) *pathWorld {
	w := &pathWorld{}
	job := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.got = append(w.got, strings.SplitN(r.RequestURI, "?", 2)[0])
		w.mu.Unlock()
		rw.WriteHeader(http.StatusOK)
	}))
	tb.Cleanup(job.Close)
	jobAddress := strings.TrimPrefix(job.URL, "http://")
	const prefix = "/api/v1/auth/can-call-job/"
	lifecycle := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, prefix), "/", 3)
		for len(parts) < 3 {
			parts = append(parts, "")
		}
		w.mu.Lock()
		w.checked = append(w.checked, strings.Join(parts, " "))
		w.mu.Unlock()
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write([]byte(`{"job": {"name": "` + parts[0] + `", "version": "1.0.0", "status": "running",
			"internal_name": "` + jobAddress + `"}, "caller": null}`))
	}))
	tb.Cleanup(lifecycle.Close)
	w.gateway = NewGateway(&Config{
		LifecycleURL: lifecycle.URL, InternalToken: "internal", LifecycleTimeout: 5 * time.Second,
		AuthCacheTTL: 0, AuthNegativeTTL: 0, AuthCacheTTLMax: 0, // every call asks: each one is checked
		JobTimeout: 5 * time.Second, JobConnectTimeout: 2 * time.Second, MaxIdlePerJob: 4,
	})
	return w
}

// call sends `target` as a request line would carry it; false when no HTTP server would take it.
func (w *pathWorld) call(target string) (*httptest.ResponseRecorder, bool) {
	request, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: pub\r\n\r\n")))
	if err != nil {
		return nil, false
	}
	request.RemoteAddr = "127.0.0.1:1"
	recorder := httptest.NewRecorder()
	w.gateway.ServeHTTP(recorder, request)
	return recorder, true
}

func (w *pathWorld) take() (checked, got []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	checked, got = w.checked, w.got
	w.checked, w.got = nil, nil
	return checked, got
}

// checkForwardedIsChecked is the property: a call either is refused before anything is forwarded,
// or the job receives exactly the canonical encoding of the path the lifecycle checked, which no
// decoder can read as another path (no encoded separator, no dot-segment).
func checkForwardedIsChecked(t *testing.T, w *pathWorld, input string) {
	target := "/pub/job/" + input
	if strings.ContainsAny(target, " \r\n#") {
		return // not a request line any server would parse
	}
	recorder, parsed := w.call(target)
	checked, got := w.take()
	if !parsed {
		return
	}
	if recorder.Code == http.StatusBadRequest || recorder.Code == http.StatusNotFound {
		if len(got) != 0 {
			t.Fatalf("%q: refused with %d, yet the job received %q", target, recorder.Code, got)
		}
		return
	}
	if len(got) != 1 || len(checked) != 1 {
		t.Fatalf("%q: status %d, lifecycle asked %q, job received %q", target, recorder.Code, checked, got)
	}
	parts := strings.SplitN(checked[0], " ", 3)
	name, path := parts[0], parts[2]
	forwarded := got[0]
	decoded, err := url.PathUnescape(forwarded)
	if err != nil {
		t.Fatalf("%q: the job received %q, which does not decode: %v", target, forwarded, err)
	}
	prefix := "/pub/job/" + name + "/1.0.0"
	if decoded != prefix+"/"+path && !(path == "" && decoded == prefix) {
		t.Fatalf("%q: the lifecycle checked %q (job %s), the job received %q = %q", target, path, name, forwarded, decoded)
	}
	again, perr := canonicalise(forwarded)
	if perr != nil || again.String() != forwarded {
		t.Fatalf("%q: the job received %q, which is not canonical (%v)", target, forwarded, perr)
	}
	for _, segment := range again.segments {
		if segment == "." || segment == ".." || strings.ContainsAny(segment, "/\\") {
			t.Fatalf("%q: the job received the segment %q", target, segment)
		}
	}
}

var pathSeeds = []string{
	"foo/latest/public/admin",
	"foo/latest%2Fpublic/admin",
	"foo/1.0.0/public/../admin",
	"foo/1.0.0/public/%2e%2e/admin",
	"foo/1.0.0/public%5C..%5Cadmin",
	"foo/1.0.0/public%252F..%252Fadmin",
	"foo/1.0.0/public/..;/admin",
	"foo/1.0.0/public//x/",
	"foo/1.0.0/a%20b/c;d/%7E/%41",
	"foo/1.0.0",
	"foo/1.0.0/",
	"%66oo/1.x/x?y=%2F..",
	"foo/1.0.0/caf%C3%A9",
	"foo/1.0.0/%ff",
	"foo/1.0.0/.../x",
	"../foo/1.0.0/x",
}

func TestForwardedPathIsTheCheckedPath(t *testing.T) {
	w := newPathWorld(t)
	for _, seed := range pathSeeds {
		checkForwardedIsChecked(t, w, seed)
	}
}

// FuzzForwardedPathIsTheCheckedPath runs the property over generated paths: `go test -fuzz
// FuzzForwardedPathIsTheCheckedPath`. Its seeds (above and in testdata/fuzz) run with every `go test`.
func FuzzForwardedPathIsTheCheckedPath(f *testing.F) {
	for _, seed := range pathSeeds {
		f.Add(seed)
	}
	w := newPathWorld(f)
	f.Fuzz(func(t *testing.T, input string) {
		checkForwardedIsChecked(t, w, input)
	})
}
