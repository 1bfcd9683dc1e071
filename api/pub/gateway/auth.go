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
	InternalName string   // host:port to forward to; empty until the job is deployed
	Replicas     []string // every replica's host:port (InternalName is the first); may be empty
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

// Credential is what a caller shows: a token (X-Racetrack-Auth or a legacy header), or the browser
// session a job's own host gave it (jobhost.go). At most one is set; neither: an anonymous caller.
type Credential struct {
	Token   string
	Session string
}

// digest identifies a credential in the cache without keeping it.
func (c Credential) digest() string {
	switch {
	case c.Token != "":
		sum := sha256.Sum256([]byte("token\x00" + c.Token))
		return string(sum[:])
	case c.Session != "":
		sum := sha256.Sum256([]byte("session\x00" + c.Session))
		return string(sum[:])
	}
	return ""
}

// credentialState is what pub last learnt about one credential, whatever job or path it was for.
type credentialState struct {
	refusal   *Decision // the lifecycle's last 401 for it (revoked, expired, user deactivated, ...)
	refusedAt time.Time
	allowedAt time.Time // the last time the lifecycle let it call anything
}

const maxCacheEntries = 50_000

// Authorizer asks the lifecycle (GET /api/v1/auth/can-call-job/...) and caches its answers in memory.
// Concurrent misses for one key share one lifecycle request.
//
// Revocation: an allowing answer is reused for AuthCacheTTL, so a revoked token or a deactivated user
// is refused within that time. Once the lifecycle has answered 401 for a credential, no decision
// cached before that answer is used for it again, for any job or path, and while the lifecycle cannot
// be reached the credential stays refused; after a 403 on a job, no decision cached before it is used
// for that credential on that job. Stale reuse (up to AuthCacheTTLMax) is only for credentials and
// jobs that were not refused since.
type Authorizer struct {
	config      *Config
	client      *http.Client
	metrics     *Metrics
	base        string
	mu          sync.RWMutex
	cache       map[string]cacheEntry
	credentials map[string]*credentialState // by Credential.digest()
	forbidden   map[string]time.Time        // by digest and job name: when the lifecycle last answered 403
	flight      singleflight.Group
	now         func() time.Time
}

func NewAuthorizer(config *Config, metrics *Metrics) *Authorizer {
	transport := &http.Transport{
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     4 * time.Second, // under uvicorn's 5 s keep-alive
	}
	return &Authorizer{
		config:      config,
		client:      &http.Client{Transport: transport, Timeout: config.LifecycleTimeout},
		metrics:     metrics,
		base:        config.LifecycleURL + "/api/v1/auth/can-call-job/",
		cache:       make(map[string]cacheEntry),
		credentials: make(map[string]*credentialState),
		forbidden:   make(map[string]time.Time),
		now:         time.Now,
	}
}

func cacheKey(name, version, path, digest string) string {
	return name + "\x00" + version + "\x00" + path + "\x00" + digest
}

// Decide returns the lifecycle's decision, from the cache when it is fresh enough.
func (a *Authorizer) Decide(ctx context.Context, name, version, path string, credential Credential) (*Decision, error) {
	digest := credential.digest()
	key := cacheKey(name, version, path, digest)
	a.mu.RLock()
	entry, found := a.cache[key]
	refusedSince := found && a.refusedSinceLocked(digest, name, entry.received)
	a.mu.RUnlock()
	now := a.now()
	if found && !refusedSince {
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
		return a.ask(context.WithoutCancel(ctx), key, digest, name, version, path, credential)
	})
	if err == nil {
		return result.(*Decision), nil
	}
	var unreachable *ErrLifecycleUnreachable
	if !errors.As(err, &unreachable) {
		return nil, err
	}
	if found && !refusedSince && entry.decision.Allowed() && now.Sub(entry.received) < a.config.AuthCacheTTLMax {
		a.metrics.cacheRecovered.Inc()
		return entry.decision, nil
	}
	if refusal := a.lastRefusal(digest); refusal != nil {
		return refusal, nil // refusing needs no lifecycle: the credential stays refused while it is away
	}
	return nil, err
}

// refusedSinceLocked: after `since` the lifecycle refused the credential (401), or refused it
// something on job `name` (403: a permission on the job may have been taken away). Caller holds a.mu.
func (a *Authorizer) refusedSinceLocked(digest, name string, since time.Time) bool {
	if digest == "" {
		return false
	}
	state := a.credentials[digest]
	if state != nil && state.refusal != nil && state.refusedAt.After(since) {
		return true
	}
	forbidden, found := a.forbidden[digest+"\x00"+name]
	return found && forbidden.After(since)
}

// lastRefusal is the lifecycle's 401 for the credential when that is the last thing it said about it.
func (a *Authorizer) lastRefusal(digest string) *Decision {
	a.mu.RLock()
	defer a.mu.RUnlock()
	state := a.credentials[digest]
	if digest == "" || state == nil || state.refusal == nil || state.allowedAt.After(state.refusedAt) {
		return nil
	}
	return state.refusal
}

func (a *Authorizer) ask(ctx context.Context, key, digest, name, version, path string, credential Credential) (*Decision, error) {
	target := a.base + url.PathEscape(name) + "/" + url.PathEscape(version) + "/" + (&url.URL{Path: path}).EscapedPath()
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, &ErrLifecycleUnreachable{fmt.Sprintf("cannot build the lifecycle request: %v", err)}
	}
	request.Header.Set("X-Racetrack-Internal-Auth", a.config.InternalToken)
	if credential.Token != "" {
		request.Header.Set(authHeader, credential.Token)
	} else if credential.Session != "" {
		request.Header.Set(jobSessionHeader, credential.Session)
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
	now := a.now()
	a.mu.Lock()
	if len(a.cache) >= maxCacheEntries || len(a.credentials) >= maxCacheEntries || len(a.forbidden) >= maxCacheEntries {
		a.evictLocked()
	}
	a.cache[key] = cacheEntry{decision, now}
	if digest != "" && decision.Status == http.StatusForbidden {
		a.forbidden[digest+"\x00"+name] = now
	}
	if digest != "" && (decision.Allowed() || decision.Status == http.StatusUnauthorized) {
		state := a.credentials[digest]
		if state == nil {
			state = &credentialState{}
			a.credentials[digest] = state
		}
		if decision.Allowed() {
			state.allowedAt = now
		} else {
			state.refusal, state.refusedAt = decision, now
		}
	}
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
	// A refusal is kept as long as any entry it could overrule might still be reused.
	for digest, state := range a.credentials {
		if now.Sub(state.allowedAt) >= a.config.AuthCacheTTLMax && now.Sub(state.refusedAt) >= a.config.AuthCacheTTLMax {
			delete(a.credentials, digest)
		}
	}
	for key, at := range a.forbidden {
		if now.Sub(at) >= a.config.AuthCacheTTLMax {
			delete(a.forbidden, key)
		}
	}
	if len(a.cache) >= maxCacheEntries {
		clear(a.cache) // nothing cached: nothing a refusal must overrule, so the refusals may stay
	}
	if len(a.credentials) >= maxCacheEntries || len(a.forbidden) >= maxCacheEntries {
		clear(a.credentials)
		clear(a.forbidden)
		clear(a.cache)
	}
}

// Forget drops one cached decision, e.g. when the address it gave stopped answering.
func (a *Authorizer) Forget(name, version, path string, credential Credential) {
	key := cacheKey(name, version, path, credential.digest())
	a.mu.Lock()
	delete(a.cache, key)
	a.mu.Unlock()
}

type lifecycleAnswer struct {
	Job *struct {
		Name         string   `json:"name"`
		Version      string   `json:"version"`
		Status       string   `json:"status"`
		InternalName string   `json:"internal_name"`
		Replicas     []string `json:"replica_internal_names"`
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
			Replicas:     answer.Job.Replicas,
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
