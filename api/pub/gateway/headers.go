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

// headerToken is the call's token: X-Racetrack-Auth, then the legacy headers. No cookie counts here:
// a browser sends cookies with requests any page starts, so only a job's own host takes one, its
// session cookie (jobhost.go), and on its own terms.
func headerToken(header http.Header) string {
	for _, name := range []string{authHeader, legacyUserAuth, legacyEscAuth} {
		if value := header.Get(name); value != "" {
			return value
		}
	}
	return ""
}

// platformCookies are the cookies of the platform's own components (the dashboard's session, CSRF
// secret and messages, the lifecycle's login, a job host's session), with and without the __Host-
// prefix they get over HTTPS. A job never receives them and never sets them: on Kubernetes the path
// form shares the dashboard's host, so a job's answer could otherwise plant one there. Keep the
// list in step with api/dashboard/cookies.py, api/lifecycle/deps.py and jobSessionCookie.
var platformCookies = map[string]bool{}

func init() {
	for _, name := range []string{authCookie, "rt_session", "rt_csrf", "rt_flash", "rt_job_session"} {
		platformCookies[name] = true
		platformCookies["__Host-"+name] = true
	}
}

// cookieValue is the value of the cookie `name` in the request, "" when absent.
func cookieValue(header http.Header, name string) string {
	for _, line := range header.Values("Cookie") {
		if !strings.Contains(line, name) {
			continue
		}
		for _, part := range strings.Split(line, ";") {
			key, value, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && key == name {
				return strings.Trim(strings.TrimSpace(value), `"`)
			}
		}
	}
	return ""
}

// stripCredentials removes what must not reach the job: credential headers, headers only pub sets,
// and the platform's cookies cut out of Cookie (the job's own cookies stay).
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
		var parts []string
		dropped := false
		for _, part := range strings.Split(line, ";") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if key, _, _ := strings.Cut(part, "="); platformCookies[key] {
				dropped = true
				continue
			}
			parts = append(parts, part)
		}
		if !dropped {
			kept = append(kept, line)
			continue
		}
		touched = true
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

// dropPlatformSetCookies removes a job's Set-Cookie lines that would plant one of the platform's cookies.
func dropPlatformSetCookies(header http.Header) {
	lines := header["Set-Cookie"]
	if len(lines) == 0 {
		return
	}
	kept := lines[:0:0]
	for _, line := range lines {
		name, _, _ := strings.Cut(line, "=")
		if !platformCookies[strings.TrimSpace(name)] {
			kept = append(kept, line)
		}
	}
	if len(kept) == 0 {
		delete(header, "Set-Cookie")
	} else {
		header["Set-Cookie"] = kept
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
