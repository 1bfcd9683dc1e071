package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// A job's own host.
//
// Pub serves each job's pages to browsers from an origin of its own, <name>.<jobs domain>, so that a
// job's HTML and scripts share an origin with nothing else: not with the dashboard, not with the
// lifecycle, not with another job. There a browser authenticates with a session cookie bound to
// that host only, which it gets without a token in any URL: the dashboard asks the lifecycle for a
// one-time ticket (valid 60 s, for this job and this user), sends the browser to
// /.racetrack/open?ticket=... on the job's host, and pub trades the ticket with the lifecycle for the
// session and sets it as a cookie. The cookie carries no token either: the lifecycle checks at every
// call that the token behind it is still valid. The path form (/pub/job/<name>/<version>/... on pub's
// own host) stays for callers that send X-Racetrack-Auth; it takes no cookie, sends browsers'
// page loads to the job's host, and marks what it serves as sandboxed content.
const (
	jobSessionCookie = "rt_job_session"
	openPath         = "/.racetrack/open"
)

// jobHostName is the job a request's Host names, "" when it is not a job's host.
func (g *Gateway) jobHostName(r *http.Request) string {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	label, found := strings.CutSuffix(host, "."+g.config.JobsDomain())
	if !found || !validJobLabel(label) {
		return ""
	}
	return label
}

// validJobLabel: a job name as manifests allow them, which is also one DNS label.
func validJobLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// jobOrigin is where browsers see a job's pages, e.g. http://adder.jobs.localhost:7005.
func (g *Gateway) jobOrigin(name string) string {
	origin := g.config.JobsURL.Scheme + "://" + name + "." + g.config.JobsDomain()
	if port := g.config.JobsURL.Port(); port != "" {
		origin += ":" + port
	}
	return origin
}

func (g *Gateway) sessionCookieName() string {
	if g.config.SecureCookies {
		return "__Host-" + jobSessionCookie
	}
	return jobSessionCookie
}

// serveJobHost answers a request to <name>.<jobs domain>: the job's own paths, the ticket exchange,
// and a redirect from "/" to the job's latest version.
func (g *Gateway) serveJobHost(w http.ResponseWriter, r *http.Request, name string, canon *canonicalPath, requestID string) {
	segments := canon.segments
	switch {
	case len(segments) == 0:
		w.Header().Set("Location", "/pub/job/"+name+"/latest/")
		w.WriteHeader(http.StatusSeeOther)
	case r.URL.Path == openPath:
		g.openSession(w, r, name, requestID)
	case len(segments) >= 3 && segments[0] == "pub" && isJobKind(segments[1]) && segments[2] == name:
		g.serveJob(w, r, canon, 2, true, requestID)
	default:
		g.refuse(w, http.StatusNotFound, proxyError{
			Error:     fmt.Sprintf("Proxy request error: no such page on job %s's host: its pages are under /pub/job/%s/<version>/", name, name),
			JobName:   name,
			RequestID: requestID,
		})
	}
}

// credential is what the caller authenticates with. On a job's host the browser's session for that
// host counts; anywhere a token in a header wins.
func (g *Gateway) credential(r *http.Request, onJobHost bool) Credential {
	if token := headerToken(r.Header); token != "" {
		return Credential{Token: token}
	}
	if onJobHost {
		if session := cookieValue(r.Header, g.sessionCookieName()); session != "" {
			return Credential{Session: session}
		}
	}
	return Credential{}
}

// sessionRefusal says why a request may not use the job host's session cookie, "" when it may.
// The cookie goes with every request the browser makes to the host, also those a page of another
// job (same site, another origin) or another site starts: an unsafe method must come from the job's
// own pages (its Origin), and a read from elsewhere is taken only as a page load.
func (g *Gateway) sessionRefusal(r *http.Request) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		site := r.Header.Get("Sec-Fetch-Site")
		if site != "cross-site" && site != "same-site" {
			return "" // the job's own pages, the address bar, or a client that does not say
		}
		if r.Header.Get("Sec-Fetch-Mode") == "navigate" && r.Header.Get("Sec-Fetch-Dest") == "document" {
			return ""
		}
		return fmt.Sprintf("a request another page started (Sec-Fetch-Site: %s) cannot use the browser session of this job's pages; send X-Racetrack-Auth", site)
	}
	origin := r.Header.Get("Origin")
	if parsed, err := url.Parse(origin); err == nil && strings.EqualFold(parsed.Host, r.Host) &&
		(parsed.Scheme == "https" || (parsed.Scheme == "http" && !g.config.SecureCookies)) {
		return ""
	}
	if origin == "" {
		origin = "none"
	}
	return fmt.Sprintf("the browser session of this job's pages authenticates a %s only from the job's own pages (Origin %s); send X-Racetrack-Auth", r.Method, origin)
}

func isPageLoad(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.Header.Get("Sec-Fetch-Mode") == "navigate"
}

// toJobHost sends a browser's page load on the path form to the same path on the job's host.
func (g *Gateway) toJobHost(w http.ResponseWriter, r *http.Request, call *jobCall) {
	target := g.jobOrigin(call.name) + r.URL.RawPath
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusSeeOther)
}

// toDashboard sends a browser that has no session on a job's host to the dashboard, which opens the
// job for its user (after a login when needed) and comes back with a ticket.
func (g *Gateway) toDashboard(w http.ResponseWriter, r *http.Request, call *jobCall) bool {
	if g.config.DashboardURL == "" || !isPageLoad(r) {
		return false
	}
	path := r.URL.RawPath
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", g.config.DashboardURL+"/open/"+call.name+"?path="+url.QueryEscape(path))
	w.WriteHeader(http.StatusSeeOther)
	return true
}

type redeemed struct {
	Session string `json:"session"`
	MaxAge  int    `json:"max_age"`
	Next    string `json:"next"`
}

// openSession trades a ticket from the dashboard for the job host's session cookie.
func (g *Gateway) openSession(w http.ResponseWriter, r *http.Request, name, requestID string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	ticket := r.URL.Query().Get("ticket")
	if r.Method != http.MethodGet || ticket == "" {
		g.refuse(w, http.StatusBadRequest, proxyError{
			Error: "Proxy request error: Invalid request: open a job's pages from the dashboard (GET " + openPath + "?ticket=...)", JobName: name, RequestID: requestID,
		})
		return
	}
	payload, _ := json.Marshal(map[string]string{"ticket": ticket, "job_name": name})
	request, err := http.NewRequestWithContext(r.Context(), http.MethodPost,
		g.config.LifecycleURL+"/api/v1/auth/job-session/redeem", bytes.NewReader(payload))
	if err != nil {
		g.refuse(w, http.StatusServiceUnavailable, proxyError{Error: "Proxy request error: cannot open a session: " + err.Error(), RequestID: requestID})
		return
	}
	request.Header.Set("Content-Type", "application/json")
	request.Header.Set(internalAuth, g.config.InternalToken)
	response, err := g.auth.client.Do(request)
	if err != nil {
		g.refuse(w, http.StatusServiceUnavailable, proxyError{
			Error: "Proxy request error: cannot open a session: cannot reach the lifecycle: " + describeNetError(err), JobName: name, RequestID: requestID,
		})
		return
	}
	defer response.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(response.Body, 64<<10))
	if response.StatusCode != http.StatusOK {
		var refusal struct {
			Error string `json:"error"`
		}
		status := response.StatusCode
		if json.Unmarshal(body, &refusal) != nil || refusal.Error == "" || status < 400 || status >= 500 {
			g.refuse(w, http.StatusServiceUnavailable, proxyError{
				Error: fmt.Sprintf("Proxy request error: cannot open a session: the lifecycle answered %d", status), JobName: name, RequestID: requestID,
			})
			return
		}
		g.refuse(w, status, proxyError{Error: refusalMessage(&Decision{Status: status, Error: refusal.Error}), JobName: name, RequestID: requestID})
		return
	}
	var answer redeemed
	if json.Unmarshal(body, &answer) != nil || answer.Session == "" || strings.ContainsAny(answer.Session, ";, \t\r\n\"") {
		g.refuse(w, http.StatusServiceUnavailable, proxyError{Error: "Proxy request error: cannot open a session: the lifecycle's answer is not one", RequestID: requestID})
		return
	}
	cookie := g.sessionCookieName() + "=" + answer.Session + "; Path=/; HttpOnly; SameSite=Lax"
	if answer.MaxAge > 0 {
		cookie += "; Max-Age=" + strconv.Itoa(answer.MaxAge)
	}
	if g.config.SecureCookies {
		cookie += "; Secure"
	}
	w.Header().Add("Set-Cookie", cookie)
	w.Header().Set("Location", nextPage(answer.Next, name))
	w.WriteHeader(http.StatusSeeOther)
}

// nextPage is where a new session goes: the page the ticket names when it is one of this job's
// (in canonical form, so never another host or another job), else the job's latest version.
func nextPage(next, name string) string {
	path, query, _ := strings.Cut(next, "?")
	canon, err := canonicalise(path)
	if err != nil || canon.String() != path || hasControl(query) || strings.ContainsAny(query, " #") ||
		len(canon.segments) < 3 || canon.segments[0] != "pub" || !isJobKind(canon.segments[1]) || canon.segments[2] != name {
		return "/pub/job/" + name + "/latest/"
	}
	return next
}
