package main

import (
	"net/http"
	"net/url"
	"strings"
)

const (
	authHeader     = "X-Racetrack-Auth"
	legacyUserAuth = "X-Racetrack-User-Auth"
	legacyEscAuth  = "X-Racetrack-Esc-Auth"
	internalAuth   = "X-Racetrack-Internal-Auth"
	tracingHeader  = "X-Request-Tracing-Id"
	callerHeader   = "X-Caller-Name"
	authCookie     = "X-Racetrack-Auth"
	// jobSessionHeader carries a job host's browser session to the lifecycle (jobhost.go).
	jobSessionHeader = "X-Racetrack-Job-Session"
)

// Headers a job must never receive from the caller: credentials stay in pub, and a caller must not
// choose its own caller name, tracing id or forwarding chain (pub sets those).
var notForwarded = []string{
	authHeader, legacyUserAuth, legacyEscAuth, internalAuth, callerHeader, tracingHeader,
	"X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-For", "Forwarded",
	"Expect", // the server already answered 100-continue; the job must not send another
}

// callerToken finds the call's token: the header, then the legacy headers, then the dashboard's cookie.
func callerToken(header http.Header) string {
	for _, name := range []string{authHeader, legacyUserAuth, legacyEscAuth} {
		if value := header.Get(name); value != "" {
			return value
		}
	}
	for _, line := range header.Values("Cookie") {
		if !strings.Contains(line, authCookie) {
			continue
		}
		for _, part := range strings.Split(line, ";") {
			key, value, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && key == authCookie {
				if unquoted, err := url.QueryUnescape(strings.Trim(strings.TrimSpace(value), `"`)); err == nil {
					return unquoted
				}
			}
		}
	}
	return ""
}

// stripCredentials removes what must not reach the job, the auth cookie cut out of Cookie included.
func stripCredentials(header http.Header) {
	for _, name := range notForwarded {
		delete(header, name) // already canonical: no need for Del's canonicalisation
	}
	lines := header.Values("Cookie")
	if len(lines) == 0 {
		return
	}
	var kept []string
	touched := false
	for _, line := range lines {
		if !strings.Contains(line, authCookie) {
			kept = append(kept, line)
			continue
		}
		touched = true
		var parts []string
		for _, part := range strings.Split(line, ";") {
			part = strings.TrimSpace(part)
			key, _, ok := strings.Cut(part, "=")
			if part == "" || (ok && key == authCookie) {
				continue
			}
			parts = append(parts, part)
		}
		if len(parts) > 0 {
			kept = append(kept, strings.Join(parts, "; "))
		}
	}
	if !touched {
		return
	}
	header.Del("Cookie")
	for _, line := range kept {
		header.Add("Cookie", line)
	}
}

// rewriteLocation keeps a redirect under the job's pub path: the job's own address is dropped, its
// exact-version prefix becomes the one the caller used, and a root-relative path goes under it.
func rewriteLocation(value, internalName, upstreamPrefix, publicPrefix, name string) string {
	if strings.HasPrefix(value, "http://") || strings.HasPrefix(value, "https://") || strings.HasPrefix(value, "//") {
		parsed, err := url.Parse(value)
		if err != nil || parsed.Host != internalName {
			return value // somewhere else on purpose
		}
		path := parsed.EscapedPath()
		if path == "" {
			path = "/"
		}
		value = path
		if parsed.RawQuery != "" || parsed.ForceQuery {
			value += "?" + parsed.RawQuery
		}
		if parsed.Fragment != "" {
			value += "#" + parsed.EscapedFragment()
		}
	}
	if !strings.HasPrefix(value, "/") {
		return value // relative to the current URL, which is already under the prefix
	}
	if value == upstreamPrefix || strings.HasPrefix(value, upstreamPrefix+"/") || strings.HasPrefix(value, upstreamPrefix+"?") {
		return publicPrefix + value[len(upstreamPrefix):]
	}
	if strings.HasPrefix(value, "/pub/job/"+name+"/") || strings.HasPrefix(value, "/pub/fatman/"+name+"/") {
		return value
	}
	return publicPrefix + value
}
