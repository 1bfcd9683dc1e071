package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const (
	asyncPrefix = "/pub/async/"
	asyncNew    = "/pub/async/new/"
	asyncTask   = "/pub/async/task/"
	// Headers only the gateway sets when it hands an authorised async call to the async service.
	asyncJobURL     = "X-Racetrack-Async-Job-Url"
	asyncJobVersion = "X-Racetrack-Async-Job-Version"
	// Who makes a new async call (can-call-job's caller_id): only they may read its result later.
	asyncCaller = "X-Racetrack-Async-Caller"
)

var jobKinds = []string{"job", "fatman"} // "fatman": the legacy name of a job

// Gateway routes by path prefix: job calls, async calls (handed to the async service), health, metrics.
type Gateway struct {
	config    *Config
	auth      *Authorizer
	metrics   *Metrics
	statuses  statusCounters
	transport *http.Transport        // streamed calls and websockets
	jobs      *jobPool               // calls whose body is in memory
	balance   *balancer              // which replica of a job takes the next call
	async     *httputil.ReverseProxy // nil when no async service is configured (the sidecar form)
	// Without compression: the async service records the headers it receives and replays them to the
	// job, so a transport-added Accept-Encoding would reach the job as if the caller had sent it.
	asyncTransport http.RoundTripper
	gatherer       prometheus.Gatherer
	metricsPage    http.Handler // the gateway's figures merged with the async service's
}

func NewGateway(config *Config) *Gateway {
	if config.JobsURL == nil {
		config.JobsURL = &url.URL{Scheme: "http", Host: "jobs.localhost"}
	}
	metrics := NewMetrics()
	g := &Gateway{
		config:   config,
		auth:     NewAuthorizer(config, metrics),
		balance:  newBalancer(),
		metrics:  metrics,
		statuses: metrics.statusCounters(),
		transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: config.JobConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   config.MaxIdlePerJob,
			IdleConnTimeout:       4 * time.Second, // dropped before a job's own keep-alive timeout (5 s) closes them under us
			ResponseHeaderTimeout: config.JobTimeout,
			DisableCompression:    true, // the caller's Accept-Encoding goes through untouched
		},
		jobs:     newJobPool(config.JobConnectTimeout, config.MaxIdlePerJob, 4*time.Second),
		gatherer: metrics.registry,
	}
	if config.AsyncUpstream != "" {
		upstream, err := url.Parse(config.AsyncUpstream)
		if err == nil {
			transport := http.DefaultTransport.(*http.Transport).Clone()
			transport.DisableCompression = true
			g.asyncTransport = transport
			g.async = &httputil.ReverseProxy{
				Transport: transport,
				Rewrite: func(p *httputil.ProxyRequest) {
					p.SetURL(upstream)
					p.Out.URL.Path, p.Out.URL.RawPath = p.In.URL.Path, p.In.URL.RawPath
				},
				ModifyResponse: sandboxed,
				ErrorHandler:   g.asyncUnavailable,
				ErrorLog:       quietLog,
			}
			g.gatherer = prometheus.Gatherers{metrics.registry, prometheus.GathererFunc(g.asyncMetrics)}
		}
	}
	g.metricsPage = promhttp.HandlerFor(g.gatherer, promhttp.HandlerOpts{})
	return g
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := r.Header.Get(tracingHeader)
	if requestID == "" {
		requestID = uuid.NewString()
	}
	w.Header().Set(tracingHeader, requestID)
	canon, invalid := canonicalise(requestPath(r))
	if invalid != nil {
		g.refuse(w, http.StatusBadRequest, proxyError{
			Error: "Proxy request error: Invalid request: " + invalid.Error(), RequestID: requestID,
		})
		return
	}
	// From here on every part of pub reads the one canonical form: what is checked is what is forwarded.
	r.URL.Path, r.URL.RawPath = "/"+canon.decoded(0), canon.String()
	if name := g.jobHostName(r); name != "" {
		g.serveJobHost(w, r, name, canon, requestID)
		return
	}
	segments := canon.segments
	if len(segments) >= 2 && segments[0] == "pub" {
		if isJobKind(segments[1]) {
			g.serveJob(w, r, canon, 2, false, requestID)
			return
		}
		if segments[1] == "async" {
			g.serveAsync(w, r, canon, requestID)
			return
		}
	}
	path := r.URL.Path
	if strings.HasPrefix(path, "/pub/") {
		path = path[len("/pub"):]
	}
	switch path {
	case "/live":
		writeJSON(w, http.StatusOK, map[string]bool{"live": true})
	case "/ready":
		writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
	case "/health":
		g.health(w)
	case "/metrics":
		g.metricsPage.ServeHTTP(w, r)
	default:
		writeError(w, http.StatusNotFound, proxyError{
			Error: "Proxy request error: no pub endpoint at " + r.URL.Path, RequestID: requestID,
		})
	}
}

func isJobKind(segment string) bool {
	for _, kind := range jobKinds {
		if segment == kind {
			return true
		}
	}
	return false
}

func (g *Gateway) invalid(w http.ResponseWriter, err *pathError, requestID string) {
	g.refuse(w, http.StatusBadRequest, proxyError{Error: "Proxy request error: Invalid request: " + err.Error(), RequestID: requestID})
}

func (g *Gateway) health(w http.ResponseWriter) {
	mode, job := "gateway", any(nil)
	if s := g.config.Sidecar; s != nil {
		mode = "sidecar"
		version := any(nil)
		if s.JobVersion != "" {
			version = s.JobVersion
		}
		job = map[string]any{"name": s.JobName, "version": version, "address": s.Address}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"service": "pub", "live": true, "ready": true, "mode": mode, "sidecar_job": job,
		"async": g.async != nil,
	})
}

// serveAsync authorises a new async call like a job call, then hands it (or a task lookup) to the
// async service, which keeps tasks in the lifecycle's database.
func (g *Gateway) serveAsync(w http.ResponseWriter, r *http.Request, canon *canonicalPath, requestID string) {
	if g.async == nil {
		writeError(w, http.StatusNotFound, proxyError{
			Error:     "Proxy request error: async calls are not served by a sidecar; send them to the pub gateway",
			RequestID: requestID,
		})
		return
	}
	segments := canon.segments // pub, async, ...
	if len(segments) > 2 && segments[2] == "task" {
		g.async.ServeHTTP(w, withRequestID(r, requestID, headerToken(r.Header)))
		return
	}
	if len(segments) > 3 && segments[2] == "new" && isJobKind(segments[3]) {
		call, invalid := jobCallFrom(segments[3], canon, 4)
		if invalid != nil {
			g.invalid(w, invalid, requestID)
			return
		}
		if call != nil {
			g.handAsync(w, r, call, requestID)
			return
		}
	}
	writeError(w, http.StatusNotFound, proxyError{
		Error: "Proxy request error: no pub endpoint at " + r.URL.Path + "; give /pub/async/new/job/<name>/<version>/<path>", RequestID: requestID,
	})
}

// handAsync authorises a new async call like a job call and hands it to the async service with the
// job's address.
func (g *Gateway) handAsync(w http.ResponseWriter, r *http.Request, call *jobCall, requestID string) {
	decision := g.authorize(w, r, call, g.credential(r, false), requestID)
	if decision == nil {
		return
	}
	target := "http://" + g.address(decision) + "/pub/job/" + call.name + "/" + decision.JobVersion
	if call.hasRest {
		target += "/" + call.rest
	}
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(p *httputil.ProxyRequest) {
			g.async.Rewrite(p)
			setForwardingHeaders(p.Out.Header, p.In, requestID, decision.Caller)
			p.Out.Header.Set(internalAuth, g.config.InternalToken)
			p.Out.Header.Set(asyncJobURL, target)
			p.Out.Header.Set(asyncJobVersion, decision.JobVersion)
			p.Out.Header.Del(asyncCaller)
			if decision.CallerID != "" {
				p.Out.Header.Set(asyncCaller, decision.CallerID)
			}
		},
		Transport:      g.asyncTransport,
		ModifyResponse: sandboxed,
		ErrorHandler:   g.asyncUnavailable,
		ErrorLog:       quietLog,
	}
	proxy.ServeHTTP(w, r)
}

// sandboxed prepares an answer that carries a job's response on pub's own host (an async call's
// result replays the job's headers and body): a browser shows it as a sandboxed page of an origin of
// its own, and the job cannot set the platform's cookies through it.
func sandboxed(response *http.Response) error {
	dropPlatformSetCookies(response.Header)
	response.Header.Add("Content-Security-Policy", "sandbox")
	return nil
}

// withRequestID prepares a task lookup: it carries the request id and the caller's token (in
// X-Racetrack-Auth only: the async service asks the lifecycle whether this caller may read the task),
// no other credential and no header only the gateway may set.
func withRequestID(r *http.Request, requestID, token string) *http.Request {
	stripCredentials(r.Header)
	r.Header.Del(asyncJobURL)
	r.Header.Del(asyncJobVersion)
	r.Header.Del(asyncCaller)
	if token != "" {
		r.Header.Set(authHeader, token)
	}
	r.Header.Set(tracingHeader, requestID)
	return r
}

func (g *Gateway) asyncUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return
	}
	writeError(w, http.StatusBadGateway, proxyError{
		Error:     "Reverse proxy error: the async call service is not answering (" + describeNetError(err) + "; 502 Bad Gateway)",
		RequestID: r.Header.Get(tracingHeader),
	})
}

// asyncMetrics reads the async service's metrics, so /metrics shows the whole of pub.
func (g *Gateway) asyncMetrics() ([]*dto.MetricFamily, error) {
	client := http.Client{Timeout: 2 * time.Second}
	response, err := client.Get(g.config.AsyncUpstream + "/metrics")
	if err != nil {
		return nil, nil // the gateway's own figures still count
	}
	defer response.Body.Close()
	body, err := io.ReadAll(io.LimitReader(response.Body, 4<<20))
	if err != nil || response.StatusCode != http.StatusOK {
		return nil, nil
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, nil
	}
	out := make([]*dto.MetricFamily, 0, len(families))
	for _, family := range families {
		out = append(out, family)
	}
	return out, nil
}
