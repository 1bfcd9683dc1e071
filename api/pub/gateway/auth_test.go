package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeLifecycle answers can-call-job: 200 for token "good", 401 otherwise; down makes it unreachable.
type fakeLifecycle struct {
	server  *httptest.Server
	asked   atomic.Int32
	delay   time.Duration
	mu      sync.Mutex
	paths   []string
	revoked map[string]bool // tokens answered 401 although "good"
	forbid  map[string]bool // tokens answered 403 on job adder
	down    atomic.Bool     // answers a bare 502, as a proxy in front of a stopped lifecycle would
}

func tok(token string) Credential { return Credential{Token: token} }

func newFakeLifecycle(t *testing.T) *fakeLifecycle {
	f := &fakeLifecycle{}
	f.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.down.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		f.asked.Add(1)
		f.mu.Lock()
		f.paths = append(f.paths, r.URL.EscapedPath())
		revoked := f.revoked[r.Header.Get("X-Racetrack-Auth")]
		forbidden := f.forbid[r.Header.Get("X-Racetrack-Auth")] && strings.Contains(r.URL.Path, "/can-call-job/adder/")
		f.mu.Unlock()
		time.Sleep(f.delay)
		if r.Header.Get("X-Racetrack-Internal-Auth") != "internal" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if forbidden {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error": "no permission to do this operation"}`))
			return
		}
		if revoked {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error": "given access token has been revoked"}`))
			return
		}
		if r.Header.Get("X-Racetrack-Auth") != "good" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error": "wrong credentials"}`))
			return
		}
		_, _ = w.Write([]byte(`{"job": {"name": "adder", "version": "1.2.0", "status": "running",
			"internal_name": "10.0.0.5:7000"}, "caller": "User alice", "caller_id": 7}`))
	}))
	t.Cleanup(f.server.Close)
	return f
}

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newTestAuthorizer(url string) (*Authorizer, *clock) {
	config := &Config{
		LifecycleURL: url, InternalToken: "internal", LifecycleTimeout: 2 * time.Second,
		AuthCacheTTL: 10 * time.Second, AuthNegativeTTL: time.Second, AuthCacheTTLMax: 600 * time.Second,
	}
	a := NewAuthorizer(config, NewMetrics())
	c := &clock{now: time.Unix(1_000_000, 0)}
	a.now = c.Now
	return a, c
}

func TestAuthorizerCachesForTheTTL(t *testing.T) {
	lc := newFakeLifecycle(t)
	a, clock := newTestAuthorizer(lc.server.URL)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		d, err := a.Decide(ctx, "adder", "latest", "api/v1/perform", tok("good"))
		if err != nil || !d.Allowed() || d.JobVersion != "1.2.0" || d.Caller != "User alice" || d.InternalName != "10.0.0.5:7000" {
			t.Fatalf("decision %+v, %v", d, err)
		}
	}
	if lc.asked.Load() != 1 {
		t.Fatalf("asked %d times within the TTL, want 1", lc.asked.Load())
	}
	clock.now = clock.now.Add(11 * time.Second)
	_, _ = a.Decide(ctx, "adder", "latest", "api/v1/perform", tok("good"))
	if lc.asked.Load() != 2 {
		t.Fatalf("asked %d times after the TTL, want 2", lc.asked.Load())
	}
	// Another token, path or version is another question.
	_, _ = a.Decide(ctx, "adder", "latest", "api/v1/other", tok("good"))
	_, _ = a.Decide(ctx, "adder", "1.x", "api/v1/perform", tok("good"))
	if lc.asked.Load() != 4 {
		t.Fatalf("asked %d times, want 4", lc.asked.Load())
	}
	if !strings.HasSuffix(lc.paths[0], "/api/v1/auth/can-call-job/adder/latest/api/v1/perform") {
		t.Fatalf("asked at %q", lc.paths[0])
	}
}

func TestAuthorizerRefusalsAreCachedBriefly(t *testing.T) {
	lc := newFakeLifecycle(t)
	a, clock := newTestAuthorizer(lc.server.URL)
	ctx := context.Background()
	d, err := a.Decide(ctx, "adder", "1.0.0", "x", tok("bad"))
	if err != nil || d.Allowed() || d.Status != http.StatusUnauthorized || d.Error != "wrong credentials" {
		t.Fatalf("decision %+v, %v", d, err)
	}
	_, _ = a.Decide(ctx, "adder", "1.0.0", "x", tok("bad"))
	clock.now = clock.now.Add(1500 * time.Millisecond)
	_, _ = a.Decide(ctx, "adder", "1.0.0", "x", tok("bad"))
	if lc.asked.Load() != 2 {
		t.Fatalf("asked %d times, want 2 (negative TTL 1 s)", lc.asked.Load())
	}
	if refusalMessage(d) != "Proxy request error: Unauthenticated: wrong credentials" {
		t.Fatalf("message %q", refusalMessage(d))
	}
}

func TestAuthorizerReusesPermissionOnlyWhileTheLifecycleIsDown(t *testing.T) {
	lc := newFakeLifecycle(t)
	a, clock := newTestAuthorizer(lc.server.URL)
	ctx := context.Background()
	if _, err := a.Decide(ctx, "adder", "1.0.0", "x", tok("good")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Decide(ctx, "adder", "1.0.0", "x", tok("bad")); err != nil {
		t.Fatal(err)
	}
	lc.server.Close()
	clock.now = clock.now.Add(30 * time.Second)
	d, err := a.Decide(ctx, "adder", "1.0.0", "x", tok("good"))
	if err != nil || !d.Allowed() {
		t.Fatalf("a stale permission stands in while the lifecycle is down: %+v, %v", d, err)
	}
	if d, err := a.Decide(ctx, "adder", "1.0.0", "x", tok("bad")); err != nil || d.Status != http.StatusUnauthorized {
		t.Fatalf("a token the lifecycle refused stays refused while it is down: %+v, %v", d, err)
	}
	if _, err := a.Decide(ctx, "adder", "1.0.0", "x", tok("never-seen")); err == nil {
		t.Fatal("nothing cached: want an error")
	}
	clock.now = clock.now.Add(600 * time.Second)
	if _, err := a.Decide(ctx, "adder", "1.0.0", "x", tok("good")); err == nil {
		t.Fatal("past the maximum TTL the permission must not stand in")
	}
}

func TestAuthorizerForgetsEveryPermissionOfARefusedTokenAndKeepsRefusingItWhileTheLifecycleIsDown(t *testing.T) {
	lc := newFakeLifecycle(t)
	a, clock := newTestAuthorizer(lc.server.URL)
	ctx := context.Background()
	for _, path := range []string{"x", "y", "z"} {
		if d, err := a.Decide(ctx, "adder", "1.0.0", path, tok("good")); err != nil || !d.Allowed() {
			t.Fatalf("%s: %+v, %v", path, d, err)
		}
	}
	_, _ = a.Decide(ctx, "adder", "1.0.0", "x", tok("other"))
	lc.mu.Lock()
	lc.revoked = map[string]bool{"good": true}
	lc.mu.Unlock()
	// Within the TTL pub still answers from its cache; once that ends the lifecycle says no.
	clock.now = clock.now.Add(11 * time.Second)
	if d, _ := a.Decide(ctx, "adder", "1.0.0", "x", tok("good")); d == nil || d.Status != http.StatusUnauthorized {
		t.Fatalf("after the TTL the revocation counts: %+v", d)
	}
	// The permissions cached for other paths predate the refusal: not used even while still fresh.
	clock.now = clock.now.Add(-5 * time.Second)
	asked := lc.asked.Load()
	if d, _ := a.Decide(ctx, "adder", "1.0.0", "y", tok("good")); d == nil || d.Allowed() {
		t.Fatalf("a permission cached before the refusal was used: %+v", d)
	}
	if lc.asked.Load() != asked+1 {
		t.Fatal("the lifecycle was not asked again")
	}
	lc.down.Store(true)
	clock.now = clock.now.Add(30 * time.Second)
	d, err := a.Decide(ctx, "adder", "1.0.0", "z", tok("good"))
	if err != nil || d.Status != http.StatusUnauthorized || !strings.Contains(d.Error, "revoked") {
		t.Fatalf("while the lifecycle is down a refused token stays refused: %+v, %v", d, err)
	}
	if d, err := a.Decide(ctx, "adder", "1.0.0", "x", tok("other")); err != nil || d.Status != http.StatusUnauthorized {
		t.Fatalf("other tokens are what they were: %+v, %v", d, err)
	}
	// Once the lifecycle allows the token again (say the user was activated again), it counts again.
	lc.down.Store(false)
	lc.mu.Lock()
	lc.revoked = nil
	lc.mu.Unlock()
	clock.now = clock.now.Add(2 * time.Second)
	if d, _ := a.Decide(ctx, "adder", "1.0.0", "z", tok("good")); d == nil || !d.Allowed() {
		t.Fatalf("allowed again: %+v", d)
	}
	lc.down.Store(true)
	clock.now = clock.now.Add(30 * time.Second)
	if d, err := a.Decide(ctx, "adder", "1.0.0", "z", tok("good")); err != nil || !d.Allowed() {
		t.Fatalf("the permission received after the refusal stands in: %+v, %v", d, err)
	}
}

func TestAuthorizerReusesNothingCachedForAJobOnceACallerWasForbiddenThere(t *testing.T) {
	lc := newFakeLifecycle(t)
	a, clock := newTestAuthorizer(lc.server.URL)
	ctx := context.Background()
	for _, job := range []string{"adder", "other"} {
		for _, path := range []string{"x", "y"} {
			if d, err := a.Decide(ctx, job, "1.0.0", path, tok("good")); err != nil || !d.Allowed() {
				t.Fatalf("%s %s: %+v, %v", job, path, d, err)
			}
		}
	}
	lc.mu.Lock()
	lc.forbid = map[string]bool{"good": true} // say a staff member took away call_job on adder
	lc.mu.Unlock()
	clock.now = clock.now.Add(11 * time.Second)
	if d, _ := a.Decide(ctx, "adder", "1.0.0", "x", tok("good")); d == nil || d.Status != http.StatusForbidden {
		t.Fatalf("after the TTL the lifecycle's 403 counts: %+v", d)
	}
	lc.down.Store(true)
	clock.now = clock.now.Add(30 * time.Second)
	if d, err := a.Decide(ctx, "adder", "1.0.0", "y", tok("good")); err == nil && d.Allowed() {
		t.Fatal("a permission on adder cached before the 403 stood in while the lifecycle was down")
	}
	if d, err := a.Decide(ctx, "other", "1.0.0", "y", tok("good")); err != nil || !d.Allowed() {
		t.Fatalf("another job's cached permission still stands in: %+v, %v", d, err)
	}
}

func TestAuthorizerSharesOneQuestionAmongConcurrentMisses(t *testing.T) {
	lc := newFakeLifecycle(t)
	lc.delay = 100 * time.Millisecond
	a, _ := newTestAuthorizer(lc.server.URL)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d, err := a.Decide(context.Background(), "adder", "latest", "x", tok("good")); err != nil || !d.Allowed() {
				t.Errorf("decision %+v, %v", d, err)
			}
		}()
	}
	wg.Wait()
	if lc.asked.Load() != 1 {
		t.Fatalf("asked %d times, want 1", lc.asked.Load())
	}
}

func TestParseDecision(t *testing.T) {
	if parseDecision(http.StatusOK, []byte(`{"job": {"name": "a"}}`)) != nil {
		t.Error("an allowing answer without a version is not a decision")
	}
	if parseDecision(http.StatusForbidden, []byte(`{"detail": "x"}`)) != nil {
		t.Error("a refusal without an error message is not a decision")
	}
	if parseDecision(http.StatusInternalServerError, []byte(`{"error": "x"}`)) != nil {
		t.Error("a 500 is the lifecycle broken, not a refusal")
	}
	if parseDecision(http.StatusOK, []byte(`<html>`)) != nil {
		t.Error("not JSON is not a decision")
	}
	d := parseDecision(http.StatusServiceUnavailable, []byte(`{"error": "maintenance"}`))
	if d == nil || d.Status != http.StatusServiceUnavailable || refusalMessage(d) != "Proxy request error: Unavailable: maintenance" {
		t.Errorf("maintenance: %+v", d)
	}
}
