package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// asyncWorld is a gateway in front of a fake lifecycle and a recording stand-in for the async service.
type asyncWorld struct {
	gateway  *httptest.Server
	received chan *http.Request
}

func newAsyncWorld(t *testing.T) *asyncWorld {
	lc := newFakeLifecycle(t)
	w := &asyncWorld{received: make(chan *http.Request, 4)}
	upstream := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.received <- r
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusCreated)
		_, _ = rw.Write([]byte(`{"task_id": "t1", "status": "ongoing"}`))
	}))
	t.Cleanup(upstream.Close)
	config := &Config{
		LifecycleURL: lc.server.URL, InternalToken: "internal", LifecycleTimeout: 2 * time.Second,
		AuthCacheTTL: time.Second, AuthNegativeTTL: time.Second, AuthCacheTTLMax: time.Minute,
		JobTimeout: 5 * time.Second, JobConnectTimeout: time.Second, MaxIdlePerJob: 4,
		AsyncUpstream: upstream.URL,
	}
	w.gateway = httptest.NewServer(NewGateway(config))
	t.Cleanup(w.gateway.Close)
	return w
}

func (w *asyncWorld) do(t *testing.T, method, path string, header http.Header) *http.Response {
	t.Helper()
	request, _ := http.NewRequest(method, w.gateway.URL+path, strings.NewReader("payload"))
	for name, values := range header {
		request.Header[name] = values
	}
	// A caller that sends no Accept-Encoding (Go's own client would add one).
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	response, err := client.Do(request)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { response.Body.Close() })
	return response
}

func TestAsyncNewIsAuthorisedThenHandedOverWithTheJobsAddress(t *testing.T) {
	w := newAsyncWorld(t)
	response := w.do(t, http.MethodPost, "/pub/async/new/job/adder/latest/api/v1/perform?x=1", http.Header{
		"X-Racetrack-Auth":              {"good"},
		"Cookie":                        {"X-Racetrack-Auth=good; theme=dark"},
		"X-Racetrack-Internal-Auth":     {"forged"},
		"X-Racetrack-Async-Job-Url":     {"http://elsewhere/"},
		"X-Racetrack-Async-Job-Version": {"6.6.6"},
		"X-Caller-Name":                 {"forged"},
		"X-Racetrack-Async-Caller":      {"1"},
		"X-Request-Tracing-Id":          {"trace-1"},
	})
	if response.StatusCode != http.StatusCreated || response.Header.Get("X-Request-Tracing-Id") != "trace-1" {
		t.Fatalf("status %d, headers %v", response.StatusCode, response.Header)
	}
	if got := response.Header.Values("X-Request-Tracing-Id"); len(got) != 1 {
		t.Fatalf("one tracing id on the answer, got %v", got)
	}
	r := <-w.received
	want := map[string]string{
		"X-Racetrack-Internal-Auth":     "internal",
		"X-Racetrack-Async-Job-Url":     "http://10.0.0.5:7000/pub/job/adder/1.2.0/api/v1/perform?x=1",
		"X-Racetrack-Async-Job-Version": "1.2.0",
		"X-Caller-Name":                 "User alice",
		"X-Racetrack-Async-Caller":      "7",
		"X-Request-Tracing-Id":          "trace-1",
		"X-Forwarded-Proto":             "http",
		"X-Forwarded-For":               "127.0.0.1",
		"Cookie":                        "theme=dark",
		"X-Racetrack-Auth":              "",
		"Accept-Encoding":               "",
	}
	for name, value := range want {
		if got := strings.Join(r.Header.Values(name), ", "); got != value {
			t.Errorf("%s = %q, want %q", name, got, value)
		}
	}
	if r.URL.Path != "/pub/async/new/job/adder/latest/api/v1/perform" || r.URL.RawQuery != "x=1" {
		t.Errorf("forwarded to %s", r.URL)
	}
}

func TestAsyncNewWithoutPermissionNeverReachesTheService(t *testing.T) {
	w := newAsyncWorld(t)
	response := w.do(t, http.MethodPost, "/pub/async/new/job/adder/latest/x", http.Header{"X-Racetrack-Auth": {"bad"}})
	if response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d", response.StatusCode)
	}
	var body proxyError
	_ = json.NewDecoder(response.Body).Decode(&body)
	if body.Error != "Proxy request error: Unauthenticated: wrong credentials" || body.RequestID == "" {
		t.Fatalf("body %+v", body)
	}
	select {
	case r := <-w.received:
		t.Fatalf("the async service got %s", r.URL)
	default:
	}
}

func TestAsyncTaskLookupsCarryOnlyTheCallersToken(t *testing.T) {
	w := newAsyncWorld(t)
	w.do(t, http.MethodGet, "/pub/async/task/t1/poll", http.Header{
		"X-Racetrack-User-Auth":     {"good"},
		"X-Racetrack-Internal-Auth": {"forged"},
		"X-Racetrack-Async-Job-Url": {"http://elsewhere/"},
		"X-Racetrack-Async-Caller":  {"1"},
	})
	r := <-w.received
	for _, name := range []string{
		"X-Racetrack-User-Auth", "X-Racetrack-Internal-Auth", "X-Racetrack-Async-Job-Url", "X-Racetrack-Async-Caller",
	} {
		if r.Header.Get(name) != "" {
			t.Errorf("%s reached the async service", name)
		}
	}
	if r.Header.Get("X-Racetrack-Auth") != "good" {
		t.Errorf("the caller's token did not reach the async service, which checks it with the lifecycle")
	}
	if r.URL.Path != "/pub/async/task/t1/poll" || r.Header.Get("X-Request-Tracing-Id") == "" {
		t.Errorf("forwarded %s with tracing id %q", r.URL, r.Header.Get("X-Request-Tracing-Id"))
	}
}

func TestAsyncServiceDownIs502(t *testing.T) {
	w := newAsyncWorld(t)
	gateway := w.gateway.Config.Handler.(*Gateway)
	gateway.config.AsyncUpstream = "http://127.0.0.1:1"
	down := httptest.NewServer(NewGateway(gateway.config))
	defer down.Close()
	response, err := http.Get(down.URL + "/pub/async/task/t1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d", response.StatusCode)
	}
}

func TestSidecarServesNoAsyncCalls(t *testing.T) {
	config := &Config{InternalToken: "t", Sidecar: &SidecarTarget{Address: "127.0.0.1:1", JobName: "solo"}}
	server := httptest.NewServer(NewGateway(config))
	defer server.Close()
	response, err := http.Post(server.URL+"/pub/async/new/job/solo/1.0.0/x", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d", response.StatusCode)
	}
}

func TestClassifyJobError(t *testing.T) {
	deadline := &timeoutError{}
	status, kind, message := classifyJobError(deadline, 600*time.Second)
	if status != http.StatusGatewayTimeout || kind != "deadline" || !strings.Contains(message, "no answer within 600 s (504 Gateway Timeout)") {
		t.Errorf("a passed deadline: %d %s %s", status, kind, message)
	}
}

type timeoutError struct{}

func (*timeoutError) Error() string   { return "i/o timeout" }
func (*timeoutError) Timeout() bool   { return true }
func (*timeoutError) Temporary() bool { return true }
