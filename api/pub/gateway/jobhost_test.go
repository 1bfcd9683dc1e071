package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func jobHostGateway(jobsURL string) *Gateway {
	parsed, _ := url.Parse(jobsURL)
	return NewGateway(&Config{LifecycleURL: "http://127.0.0.1:1", InternalToken: "internal", JobsURL: parsed,
		SecureCookies: parsed.Scheme == "https", MaxIdlePerJob: 1})
}

func TestJobHostName(t *testing.T) {
	g := jobHostGateway("http://jobs.localhost:7005")
	cases := map[string]string{
		"adder.jobs.localhost:7005":  "adder",
		"ADDER.Jobs.LocalHost":       "adder",
		"py-chain.jobs.localhost.":   "py-chain",
		"jobs.localhost:7005":        "",
		"a.b.jobs.localhost":         "",
		"-x.jobs.localhost":          "",
		"adder.jobs.localhost.evil":  "",
		"adderjobs.localhost":        "",
		"127.0.0.1:7005":             "",
		"adder_x.jobs.localhost:700": "",
	}
	for host, want := range cases {
		if got := g.jobHostName(&http.Request{Host: host}); got != want {
			t.Errorf("jobHostName(%q) = %q, want %q", host, got, want)
		}
	}
	if origin := g.jobOrigin("adder"); origin != "http://adder.jobs.localhost:7005" {
		t.Fatalf("jobOrigin = %q", origin)
	}
	if origin := jobHostGateway("https://jobs.example.com").jobOrigin("adder"); origin != "https://adder.jobs.example.com" {
		t.Fatalf("jobOrigin = %q", origin)
	}
}

func TestNextPageStaysOnTheJobsOwnPages(t *testing.T) {
	cases := map[string]string{
		"/pub/job/adder/0.0.1/docs":          "/pub/job/adder/0.0.1/docs",
		"/pub/job/adder/0.0.1/docs?x=1":      "/pub/job/adder/0.0.1/docs?x=1",
		"/pub/job/other/0.0.1/docs":          "/pub/job/adder/latest/",
		"//evil.example/x":                   "/pub/job/adder/latest/",
		"https://evil.example/":              "/pub/job/adder/latest/",
		"/pub/job/adder/0.0.1/../../other/1": "/pub/job/adder/latest/",
		"/pub/job/adder/0.0.1/a%2Fb":         "/pub/job/adder/latest/",
		"":                                   "/pub/job/adder/latest/",
	}
	for next, want := range cases {
		if got := nextPage(next, "adder"); got != want {
			t.Errorf("nextPage(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestTheSessionCookieCountsOnlyForTheJobsOwnPages(t *testing.T) {
	g := jobHostGateway("http://jobs.localhost:7005")
	request := func(method string, header http.Header) *http.Request {
		r := httptest.NewRequest(method, "http://adder.jobs.localhost:7005/pub/job/adder/1/x", nil)
		for name, values := range header {
			r.Header[name] = values
		}
		return r
	}
	allowed := []*http.Request{
		request("GET", nil),
		request("GET", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Sec-Fetch-Mode": {"cors"}}),
		request("GET", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Sec-Fetch-Mode": {"navigate"}, "Sec-Fetch-Dest": {"document"}}),
		request("POST", http.Header{"Origin": {"http://adder.jobs.localhost:7005"}}),
	}
	for _, r := range allowed {
		if refusal := g.sessionRefusal(r); refusal != "" {
			t.Errorf("%s %v refused: %s", r.Method, r.Header, refusal)
		}
	}
	refused := []*http.Request{
		request("POST", nil),
		request("POST", http.Header{"Origin": {"http://evil.jobs.localhost:7005"}}),
		request("DELETE", http.Header{"Origin": {"null"}}),
		request("GET", http.Header{"Sec-Fetch-Site": {"same-site"}, "Sec-Fetch-Mode": {"cors"}}),
		request("GET", http.Header{"Sec-Fetch-Site": {"same-site"}, "Sec-Fetch-Mode": {"navigate"}, "Sec-Fetch-Dest": {"iframe"}}),
		request("GET", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Sec-Fetch-Mode": {"websocket"}}),
	}
	for _, r := range refused {
		if g.sessionRefusal(r) == "" {
			t.Errorf("%s %v was let through", r.Method, r.Header)
		}
	}
	secure := jobHostGateway("https://jobs.example.com")
	r := httptest.NewRequest("POST", "https://adder.jobs.example.com/pub/job/adder/1/x", nil)
	r.Header.Set("Origin", "http://adder.jobs.example.com")
	if secure.sessionRefusal(r) == "" {
		t.Error("over HTTPS a plain-HTTP page of the same host is another origin")
	}
	if secure.sessionCookieName() != "__Host-rt_job_session" || g.sessionCookieName() != "rt_job_session" {
		t.Error("cookie names")
	}
}

// redeemingLifecycle answers pub's ticket redemption: "good" opens /pub/job/adder/1/docs once.
func redeemingLifecycle(t *testing.T) *httptest.Server {
	used := false
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Ticket  string `json:"ticket"`
			JobName string `json:"job_name"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path != "/api/v1/auth/job-session/redeem" || r.Header.Get("X-Racetrack-Internal-Auth") != "internal":
			w.WriteHeader(http.StatusNotFound)
		case body.Ticket != "good" || body.JobName != "adder" || used:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error": "the link that opens the job's pages was used already"}`))
		default:
			used = true
			_, _ = w.Write([]byte(`{"session": "s.e.ss", "max_age": 3600, "next": "/pub/job/adder/1/docs?x=1"}`))
		}
	}))
	t.Cleanup(server.Close)
	return server
}

func TestTheTicketBecomesAHostCookieSecureOverHTTPS(t *testing.T) {
	for _, c := range []struct{ jobsURL, cookie string }{
		{"http://jobs.localhost:7005", "rt_job_session=s.e.ss; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600"},
		{"https://jobs.example.com", "__Host-rt_job_session=s.e.ss; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600; Secure"},
	} {
		g := jobHostGateway(c.jobsURL)
		g.config.LifecycleURL = redeemingLifecycle(t).URL
		host := "adder." + g.config.JobsURL.Host
		open := func(ticket string) *httptest.ResponseRecorder {
			r := httptest.NewRequest("GET", "http://"+host+"/.racetrack/open?ticket="+ticket, nil)
			w := httptest.NewRecorder()
			g.ServeHTTP(w, r)
			return w
		}
		w := open("good")
		if w.Code != http.StatusSeeOther || w.Header().Get("Set-Cookie") != c.cookie ||
			w.Header().Get("Location") != "/pub/job/adder/1/docs?x=1" || w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: %d %v", c.jobsURL, w.Code, w.Header())
		}
		if again := open("good"); again.Code != http.StatusUnauthorized || again.Header().Get("Set-Cookie") != "" {
			t.Fatalf("%s: a used ticket: %d %v", c.jobsURL, again.Code, again.Header())
		}
	}
}
