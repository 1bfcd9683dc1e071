package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bodies up to this size are read before forwarding, so a call can be re-sent to a job's new address.
const replayableBody = 1 << 20

var refusalLabels = map[int]string{
	http.StatusUnauthorized:       "Unauthenticated",
	http.StatusForbidden:          "Forbidden",
	http.StatusNotFound:           "Job was not found",
	http.StatusBadRequest:         "Invalid request",
	http.StatusServiceUnavailable: "Unavailable",
}

// jobCall is /pub/{kind}/{name}/{version}/{path} read from a canonical path: path is what the
// lifecycle checks (decoded), rest the same segments as the job receives them (encoded).
type jobCall struct {
	kind, name, version, path, rest string
	hasRest                         bool
}

func (c *jobCall) publicPrefix() string { return "/pub/" + c.kind + "/" + c.name + "/" + c.version }

// jobCallFrom reads the name at segment `from`, then the version and the path; nil (and no error)
// when the path stops before the version.
func jobCallFrom(kind string, canon *canonicalPath, from int) (*jobCall, *pathError) {
	segments := canon.segments
	if len(segments) < from+2 {
		return nil, nil
	}
	name, version := segments[from], segments[from+1]
	if !validNameOrVersion(name) {
		return nil, refusePath("the job name %s may hold only letters, digits and . _ + * -", name)
	}
	if !validNameOrVersion(version) {
		return nil, refusePath("the job version %s may hold only letters, digits and . _ + * -", version)
	}
	return &jobCall{
		kind: kind, name: name, version: version,
		path: canon.decoded(from + 2), rest: canon.encoded(from + 2),
		hasRest: len(segments) > from+2 || canon.trailingSlash,
	}, nil
}

func validNameOrVersion(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._+*-", c) >= 0) {
			return false
		}
	}
	return s != ""
}

func refusalMessage(d *Decision) string {
	label, ok := refusalLabels[d.Status]
	if !ok {
		label = "Refused"
	}
	if d.Error == "" {
		return "Proxy request error: " + label
	}
	return "Proxy request error: " + label + ": " + d.Error
}

// authorize returns the decision when the call may go on; otherwise it answers the caller and returns nil.
func (g *Gateway) authorize(w http.ResponseWriter, r *http.Request, call *jobCall, credential Credential, requestID string) *Decision {
	sidecar := g.config.Sidecar
	if sidecar != nil && call.name != sidecar.JobName {
		g.refuse(w, http.StatusNotFound, proxyError{
			Error:   fmt.Sprintf("Proxy request error: Job was not found: this pub guards only job '%s'", sidecar.JobName),
			JobName: call.name, RequestID: requestID,
		})
		return nil
	}
	decision, err := g.auth.Decide(r.Context(), call.name, call.version, call.path, credential)
	if err != nil {
		g.metrics.authFailed.Inc()
		g.refuse(w, http.StatusServiceUnavailable, proxyError{
			Error:   "Proxy request error: cannot check permission: " + err.Error(),
			JobName: call.name, RequestID: requestID,
		})
		return nil
	}
	if !decision.Allowed() {
		g.metrics.authFailed.Inc()
		g.refuse(w, decision.Status, proxyError{Error: refusalMessage(decision), JobName: call.name, RequestID: requestID})
		return nil
	}
	if sidecar != nil && sidecar.JobVersion != "" && decision.JobVersion != sidecar.JobVersion {
		g.refuse(w, http.StatusNotFound, proxyError{
			Error: fmt.Sprintf("Proxy request error: Job was not found: version %s of %s is not %s, the version this pub guards",
				call.version, call.name, sidecar.JobVersion),
			JobName: call.name, RequestID: requestID,
		})
		return nil
	}
	g.metrics.authSuccessful.Inc()
	if sidecar == nil && decision.InternalName == "" {
		g.refuse(w, http.StatusBadGateway, proxyError{
			Error: fmt.Sprintf("Reverse proxy error: job %s %s has no address yet (status %s)",
				call.name, decision.JobVersion, decision.JobStatus),
			JobName: call.name, JobVersion: decision.JobVersion, JobStatus: decision.JobStatus, RequestID: requestID,
		})
		return nil
	}
	return decision
}

func (g *Gateway) refuse(w http.ResponseWriter, status int, body proxyError) {
	g.metrics.countStatus(g.statuses, status)
	writeError(w, status, body)
}

// address is where the decided call goes: the sidecar's job, or the next of the job's replicas.
func (g *Gateway) address(decision *Decision) string {
	if g.config.Sidecar != nil {
		return g.config.Sidecar.Address
	}
	return g.balance.pick(decision.JobName+" "+decision.JobVersion, decision.addresses(), "")
}

// forwarding is one call on its way to a job.
type forwarding struct {
	gateway    *Gateway
	in         *http.Request // as the caller sent it (the error handler only sees the outgoing copy)
	call       *jobCall
	decision   *Decision
	requestID  string
	credential Credential
	onJobHost  bool // served on the job's own host; else the path form on pub's host
	address    string
	body       []byte // the whole request body when it was small enough to keep; nil when streamed
	buffered   bool
	retried    bool // sent again after asking the lifecycle where the job is now
	rerouted   bool // sent again to another replica after one refused
	status     int
}

func (g *Gateway) serveJob(w http.ResponseWriter, r *http.Request, canon *canonicalPath, from int, onJobHost bool, requestID string) {
	kind := canon.segments[from-1]
	call, invalid := jobCallFrom(kind, canon, from)
	if invalid != nil {
		g.invalid(w, invalid, requestID)
		return
	}
	if call == nil {
		g.refuse(w, http.StatusNotFound, proxyError{
			Error:     "Proxy request error: Job was not found: give /pub/" + kind + "/<name>/<version>/<path>",
			RequestID: requestID,
		})
		return
	}
	credential := g.credential(r, onJobHost)
	if !onJobHost && credential.Token == "" && isPageLoad(r) {
		g.toJobHost(w, r, call) // a browser's page: shown from the job's own origin
		return
	}
	if credential.Session != "" {
		if refusal := g.sessionRefusal(r); refusal != "" {
			g.refuse(w, http.StatusForbidden, proxyError{Error: "Proxy request error: Forbidden: " + refusal, JobName: call.name, RequestID: requestID})
			return
		}
	}
	if onJobHost && credential.Token == "" && isPageLoad(r) && g.config.DashboardURL != "" {
		decision, err := g.auth.Decide(r.Context(), call.name, call.version, call.path, credential)
		if err == nil && decision.Status == http.StatusUnauthorized && g.toDashboard(w, r, call) {
			return // no session yet, or an expired one: the dashboard opens the job for its user
		}
	}
	started := time.Now()
	g.metrics.requestsStarted.Inc()
	defer g.metrics.requestsDone.Inc()
	decision := g.authorize(w, r, call, credential, requestID)
	if decision == nil {
		return
	}
	f := &forwarding{
		gateway: g, in: r, call: call, decision: decision, requestID: requestID, credential: credential,
		address: g.address(decision), onJobHost: onJobHost,
	}
	if r.ContentLength >= 0 && r.ContentLength <= replayableBody {
		body := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			g.metrics.proxyErrors.WithLabelValues("context_canceled").Inc()
			return // the caller went away while sending
		}
		f.body, f.buffered = body, true
	}
	f.forward(w, r)
	if f.status != 0 {
		g.metrics.countStatus(g.statuses, f.status)
		g.metrics.responseTime.Observe(time.Since(started).Seconds())
	}
}

func (f *forwarding) forward(w http.ResponseWriter, r *http.Request) {
	if f.buffered && r.Header.Get("Upgrade") == "" {
		f.forwardBuffered(w, r)
		return
	}
	if f.buffered { // serveJob has read it; each attempt sends it again
		r.Body = io.NopCloser(bytes.NewReader(f.body))
	}
	proxy := &httputil.ReverseProxy{
		Rewrite:        f.rewrite,
		Transport:      f.gateway.transport,
		ModifyResponse: f.modifyResponse,
		ErrorHandler:   func(w http.ResponseWriter, _ *http.Request, err error) { f.fail(w, err) },
		ErrorLog:       quietLog,
	}
	proxy.ServeHTTP(w, r)
}

func (f *forwarding) upstreamPrefix() string {
	return "/pub/job/" + f.call.name + "/" + f.decision.JobVersion
}

// jobPath is the path on the job: its exact-version prefix and the rest as the caller sent it.
func (f *forwarding) jobPath() string {
	if f.call.hasRest {
		return f.upstreamPrefix() + "/" + f.call.rest
	}
	return f.upstreamPrefix()
}

// rewrite prepares a streamed call or a websocket for httputil.ReverseProxy.
func (f *forwarding) rewrite(p *httputil.ProxyRequest) {
	target := f.jobPath()
	p.Out.URL.Scheme = "http"
	p.Out.URL.Host = f.address
	p.Out.URL.Opaque = target // sent as is: the job gets the path bytes the caller sent
	p.Out.URL.Path, p.Out.URL.RawPath = "", ""
	p.Out.Host = f.address
	setForwardingHeaders(p.Out.Header, p.In, f.requestID, f.decision.Caller)
}

// forwardBuffered sends a call whose body is in memory over a pooled connection of our own (jobconn.go).
func (f *forwarding) forwardBuffered(w http.ResponseWriter, r *http.Request) {
	// The caller's headers become the job's in place: a retry to a moved job sends them as they are.
	out := r.Header
	if !f.retried && !f.rerouted {
		removeHopByHop(out)
		out.Del("Content-Length") // written from the body we hold
		setForwardingHeaders(out, r, f.requestID, f.decision.Caller)
	}
	response, conn, release, err := f.exchange(r, out)
	if err != nil {
		f.fail(w, err)
		return
	}
	f.modifyResponse(response)
	header := w.Header()
	for name, values := range response.Header {
		header[name] = values
	}
	removeHopByHop(header)
	header.Del("Content-Length")
	if response.ContentLength >= 0 && bodyAllowed(response.StatusCode) {
		header.Set("Content-Length", strconv.FormatInt(response.ContentLength, 10))
	}
	w.WriteHeader(response.StatusCode)
	copied := f.copyBody(w, response, conn.conn)
	response.Body.Close()
	if release() && copied && !response.Close {
		f.gateway.jobs.put(f.address, conn)
	} else {
		conn.conn.Close()
	}
}

var copyBuffers = sync.Pool{New: func() any { buffer := make([]byte, 32*1024); return &buffer }}

// bodyAllowed: 1xx, 204 and 304 answers carry no body and must not declare a length.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// copyBody passes the job's answer on: at once when sized, chunk by chunk otherwise (a stream,
// which may last as long as the job keeps sending: the job timeout applies between chunks).
func (f *forwarding) copyBody(w http.ResponseWriter, response *http.Response, conn net.Conn) bool {
	buffer := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buffer)
	if response.ContentLength >= 0 {
		_, err := io.CopyBuffer(w, response.Body, *buffer)
		return err == nil
	}
	controller := http.NewResponseController(w)
	timeout := f.gateway.config.JobTimeout
	for {
		if f.in.Context().Err() != nil { // the caller went away between two chunks
			f.gateway.metrics.proxyErrors.WithLabelValues("context_canceled").Inc()
			return false
		}
		_ = conn.SetReadDeadline(time.Now().Add(timeout))
		n, err := response.Body.Read(*buffer)
		if n > 0 {
			if _, werr := w.Write((*buffer)[:n]); werr != nil {
				f.gateway.metrics.proxyErrors.WithLabelValues("context_canceled").Inc()
				return false
			}
			_ = controller.Flush()
		}
		if err == io.EOF {
			return true
		}
		if err != nil {
			f.gateway.metrics.proxyErrors.WithLabelValues("connection_broken").Inc()
			return false
		}
	}
}

// hopByHop are connection-level headers, never passed on (RFC 9110 section 7.6.1).
var hopByHop = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func removeHopByHop(header http.Header) {
	for _, line := range header["Connection"] {
		for _, name := range strings.Split(line, ",") {
			if name = textproto.TrimString(name); name != "" {
				header.Del(name)
			}
		}
	}
	for _, name := range hopByHop {
		delete(header, name) // already canonical: no need for Del's canonicalisation
	}
}

func (f *forwarding) modifyResponse(response *http.Response) error {
	f.status = response.StatusCode
	header := response.Header
	header.Del(tracingHeader) // pub's own is already on the response
	if f.onJobHost {
		dropPlatformSetCookies(header)
	} else {
		// Pub's own host is shared (with the dashboard on Kubernetes, with every job): whatever a
		// browser gets here runs as a sandboxed page of an origin of its own, never as pub's.
		_ = sandboxed(response)
	}
	if location := header.Get("Location"); location != "" {
		header.Set("Location", rewriteLocation(location, f.address, f.upstreamPrefix(), f.call.publicPrefix(), f.call.name))
	}
	return nil
}

// fail answers a call the job did not answer, after one retry when the job moved to a new address.
func (f *forwarding) fail(w http.ResponseWriter, err error) {
	g, r := f.gateway, f.in
	if r.Context().Err() != nil {
		g.metrics.proxyErrors.WithLabelValues("context_canceled").Inc()
		return // the caller went away; nobody to answer
	}
	if notConnected(err) && f.buffered && g.config.Sidecar == nil {
		// A replica that takes no connection (killed, restarting) is passed over for a while; the call,
		// of which nothing was sent, goes to another replica.
		g.balance.refusedBy(f.address)
		job := f.decision.JobName + " " + f.decision.JobVersion
		if other := g.balance.pick(job, f.decision.addresses(), f.address); !f.rerouted && other != "" && other != f.address {
			f.rerouted, f.address = true, other
			f.forward(w, r)
			return
		}
	}
	if notConnected(err) && f.buffered && !f.retried && g.config.Sidecar == nil {
		// A redeploy replaces the job's container, and a restart of the Docker engine can give it
		// another address: a cached address can point at a container that is gone. Ask the lifecycle
		// again and send once more if the job moved; nothing was sent.
		if moved := f.moved(r.Context()); moved != "" {
			f.retried, f.address = true, moved
			f.forward(w, r)
			return
		}
	}
	status, kind, message := classifyJobError(err, g.config.JobTimeout)
	g.metrics.proxyErrors.WithLabelValues(kind).Inc()
	f.status = status
	log.Printf("job %s %s: %s (request %s)", f.call.name, f.decision.JobVersion, message, f.requestID)
	writeError(w, status, proxyError{
		Error: "Reverse proxy error: " + message, RequestID: f.requestID,
		JobName: f.call.name, JobVersion: f.decision.JobVersion, JobStatus: f.decision.JobStatus,
	})
}

func (f *forwarding) moved(ctx context.Context) string {
	auth, call := f.gateway.auth, f.call
	auth.Forget(call.name, call.version, call.path, f.credential)
	fresh, err := auth.Decide(ctx, call.name, call.version, call.path, f.credential)
	if err != nil || !fresh.Allowed() || fresh.InternalName == "" {
		return ""
	}
	address := f.gateway.address(fresh)
	if address == f.address {
		return ""
	}
	f.decision = fresh
	return address
}

// notConnected says the job's address took no connection (refused, or nobody holds it any more), so
// nothing of the request reached a job.
func notConnected(err error) bool {
	var netErr *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		(errors.As(err, &netErr) && netErr.Op == "dial")
}

// classifyJobError maps a failed exchange to (status, metric kind, message). Timeouts are 504;
// upstream pub answers 502 for them, so the message names the status explicitly.
func classifyJobError(err error, timeout time.Duration) (int, string, string) {
	var netErr *net.OpError
	isDial := errors.As(err, &netErr) && netErr.Op == "dial"
	switch {
	case isDial && netErr.Timeout():
		return http.StatusBadGateway, "deadline", "connection refused: the job did not accept a connection in time (502 Bad Gateway)"
	case errors.Is(err, syscall.ECONNREFUSED) || isDial:
		return http.StatusBadGateway, "refused", "connection refused: the job is not listening (502 Bad Gateway)"
	case isTimeout(err):
		return http.StatusGatewayTimeout, "deadline", fmt.Sprintf(
			"request to a job timed out: no answer within %g s (504 Gateway Timeout)", timeout.Seconds())
	}
	return http.StatusBadGateway, "connection_broken", fmt.Sprintf(
		"connection broken: the job closed the connection before answering (%s; 502 Bad Gateway)", describeNetError(err))
}

// isTimeout: a deadline passed, the one jobconn.go sets on an exchange or http.Transport's wait for
// response headers (both JobTimeout).
func isTimeout(err error) bool {
	var timeout interface{ Timeout() bool }
	return (errors.As(err, &timeout) && timeout.Timeout()) || strings.Contains(err.Error(), "timeout awaiting response headers")
}

// describeNetError is the innermost, address-free part of a network error (e.g. "EOF", "connection reset by peer").
func describeNetError(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

var quietLog = log.New(io.Discard, "", 0)

// setForwardingHeaders removes the caller's credentials from out and sets what pub vouches for:
// the forwarding chain, the caller's host and scheme, the tracing id and the caller's name.
func setForwardingHeaders(out http.Header, r *http.Request, requestID, caller string) {
	chain := strings.Join(r.Header.Values("X-Forwarded-For"), ", ")
	proto := r.Header.Get("X-Forwarded-Proto")
	stripCredentials(out)
	clientIP, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		clientIP = r.RemoteAddr
	}
	switch {
	case chain != "" && clientIP != "":
		chain += ", " + clientIP
	case chain == "":
		chain = clientIP
	}
	if chain != "" {
		out.Set("X-Forwarded-For", chain)
	}
	if r.Host != "" {
		out.Set("X-Forwarded-Host", r.Host)
	}
	if proto == "" {
		proto = "http"
		if r.TLS != nil {
			proto = "https"
		}
	}
	out.Set("X-Forwarded-Proto", proto)
	out.Set(tracingHeader, requestID)
	if caller != "" {
		out.Set(callerHeader, caller)
	}
}
