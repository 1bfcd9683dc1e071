package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Decision is what the lifecycle said about one (job, version as asked, path, token).
type Decision struct {
	Status       int // 200 allows; 400, 401, 403, 404, 503 refuse
	JobName      string
	JobVersion   string // the exact version `latest` or a wildcard resolved to
	JobStatus    string
	InternalName string // host:port to forward to; empty until the job is deployed
	Caller       string
	CallerID     string // the caller's auth subject id; empty for anonymous calls (owner of async calls)
	Error        string // the lifecycle's message when refused
}

func (d *Decision) Allowed() bool { return d.Status == http.StatusOK }

// ErrLifecycleUnreachable: no usable answer from the lifecycle, and no cached permission may stand in.
type ErrLifecycleUnreachable struct{ Reason string }

func (e *ErrLifecycleUnreachable) Error() string { return e.Reason }

type cacheEntry struct {
	decision *Decision
	received time.Time
}

const maxCacheEntries = 50_000

// Authorizer asks the lifecycle (GET /api/v1/auth/can-call-job/...) and caches its answers in memory.
// Concurrent misses for one key share one lifecycle request.
type Authorizer struct {
	config  *Config
	client  *http.Client
	metrics *Metrics
	base    string
	mu      sync.RWMutex
	cache   map[string]cacheEntry
	flight  singleflight.Group
	now     func() time.Time
}

func NewAuthorizer(config *Config, metrics *Metrics) *Authorizer {
	transport := &http.Transport{
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     4 * time.Second, // under uvicorn's 5 s keep-alive
	}
	return &Authorizer{
		config:  config,
		client:  &http.Client{Transport: transport, Timeout: config.LifecycleTimeout},
		metrics: metrics,
		base:    config.LifecycleURL + "/api/v1/auth/can-call-job/",
		cache:   make(map[string]cacheEntry),
		now:     time.Now,
	}
}

func cacheKey(name, version, path, token string) string {
	digest := ""
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		digest = string(sum[:])
	}
	return name + "\x00" + version + "\x00" + path + "\x00" + digest
}

// Decide returns the lifecycle's decision, from the cache when it is fresh enough.
func (a *Authorizer) Decide(ctx context.Context, name, version, path, token string) (*Decision, error) {
	key := cacheKey(name, version, path, token)
	a.mu.RLock()
	entry, found := a.cache[key]
	a.mu.RUnlock()
	now := a.now()
	if found {
		ttl := a.config.AuthCacheTTL
		if !entry.decision.Allowed() {
			ttl = a.config.AuthNegativeTTL
		}
		if now.Sub(entry.received) < ttl {
			a.metrics.cacheHits.Inc()
			return entry.decision, nil
		}
	}
	// The shared request must not die with the first caller's context: others wait on it too.
	result, err, _ := a.flight.Do(key, func() (any, error) {
		return a.ask(context.WithoutCancel(ctx), key, name, version, path, token)
	})
	if err != nil {
		var unreachable *ErrLifecycleUnreachable
		if errors.As(err, &unreachable) && found && entry.decision.Allowed() &&
			now.Sub(entry.received) < a.config.AuthCacheTTLMax {
			a.metrics.cacheRecovered.Inc()
			return entry.decision, nil
		}
		return nil, err
	}
	return result.(*Decision), nil
}

func (a *Authorizer) ask(ctx context.Context, key, name, version, path, token string) (*Decision, error) {
	target := a.base + url.PathEscape(name) + "/" + url.PathEscape(version) + "/" + (&url.URL{Path: path}).EscapedPath()
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, &ErrLifecycleUnreachable{fmt.Sprintf("cannot build the lifecycle request: %v", err)}
	}
	request.Header.Set("X-Racetrack-Internal-Auth", a.config.InternalToken)
	if token != "" {
		request.Header.Set("X-Racetrack-Auth", token)
	}
	a.metrics.lifecycleCalls.Inc()
	response, err := a.client.Do(request)
	if err != nil {
		a.metrics.lifecycleErrors.Inc()
		var timeout interface{ Timeout() bool }
		if errors.As(err, &timeout) && timeout.Timeout() {
			return nil, &ErrLifecycleUnreachable{"the lifecycle did not answer in time"}
		}
		return nil, &ErrLifecycleUnreachable{"cannot reach the lifecycle: " + describeNetError(err)}
	}
	defer response.Body.Close()
	body, err := io.ReadAll(io.LimitReader(response.Body, 1<<20))
	decision := parseDecision(response.StatusCode, body)
	if err != nil || decision == nil {
		a.metrics.lifecycleErrors.Inc()
		return nil, &ErrLifecycleUnreachable{fmt.Sprintf("the lifecycle answered %d", response.StatusCode)}
	}
	a.mu.Lock()
	if len(a.cache) >= maxCacheEntries {
		a.evictLocked()
	}
	a.cache[key] = cacheEntry{decision, a.now()}
	a.mu.Unlock()
	return decision, nil
}

func (a *Authorizer) evictLocked() {
	now := a.now()
	for key, entry := range a.cache {
		if now.Sub(entry.received) >= a.config.AuthCacheTTLMax {
			delete(a.cache, key)
		}
	}
	if len(a.cache) >= maxCacheEntries {
		clear(a.cache)
	}
}

// Forget drops one cached decision, e.g. when the address it gave stopped answering.
func (a *Authorizer) Forget(name, version, path, token string) {
	key := cacheKey(name, version, path, token)
	a.mu.Lock()
	delete(a.cache, key)
	a.mu.Unlock()
}

type lifecycleAnswer struct {
	Job *struct {
		Name         string `json:"name"`
		Version      string `json:"version"`
		Status       string `json:"status"`
		InternalName string `json:"internal_name"`
	} `json:"job"`
	Caller   *string `json:"caller"`
	CallerID *int64  `json:"caller_id"`
	Error    *string `json:"error"`
}

// parseDecision turns a lifecycle answer into a decision; nil when it is not one (lifecycle broken).
func parseDecision(status int, body []byte) *Decision {
	var answer lifecycleAnswer
	if json.Unmarshal(body, &answer) != nil {
		return nil
	}
	switch status {
	case http.StatusOK:
		if answer.Job == nil || answer.Job.Version == "" {
			return nil
		}
		decision := &Decision{
			Status:       http.StatusOK,
			JobName:      answer.Job.Name,
			JobVersion:   answer.Job.Version,
			JobStatus:    answer.Job.Status,
			InternalName: answer.Job.InternalName,
		}
		if answer.Caller != nil {
			decision.Caller = *answer.Caller
		}
		if answer.CallerID != nil {
			decision.CallerID = strconv.FormatInt(*answer.CallerID, 10)
		}
		return decision
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusServiceUnavailable:
		if answer.Error == nil {
			return nil
		}
		return &Decision{Status: status, Error: *answer.Error}
	}
	return nil
}
