package main

import (
	"net/http"
	"reflect"
	"testing"
)

func TestHeaderTokenPrecedenceAndNoCookie(t *testing.T) {
	cases := []struct {
		name   string
		header http.Header
		want   string
	}{
		{"header wins over legacy", http.Header{"X-Racetrack-Auth": {"main"}, "X-Racetrack-User-Auth": {"user"}}, "main"},
		{"legacy user before esc", http.Header{"X-Racetrack-User-Auth": {"user"}, "X-Racetrack-Esc-Auth": {"esc"}}, "user"},
		{"a cookie is no token", http.Header{"Cookie": {"a=1; X-Racetrack-Auth=tok; rt_session=s"}}, ""},
		{"nothing", http.Header{}, ""},
	}
	for _, c := range cases {
		if got := headerToken(c.header); got != c.want {
			t.Errorf("%s: headerToken = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestCookieValue(t *testing.T) {
	header := http.Header{"Cookie": {"a=1", `rt_job_session="s1"; b=2`, "rt_job_session-old=x"}}
	if got := cookieValue(header, "rt_job_session"); got != "s1" {
		t.Fatalf("cookieValue = %q", got)
	}
	if got := cookieValue(http.Header{"Cookie": {"rt_job_session-old=x"}}, "rt_job_session"); got != "" {
		t.Fatalf("a longer name is another cookie: %q", got)
	}
}

func TestStripCredentialsKeepsTheJobsOwnCookies(t *testing.T) {
	header := http.Header{
		"Cookie": {
			"a=1; X-Racetrack-Auth=tok; b=2", "X-Racetrack-Auth=only", "c=3",
			"__Host-rt_session=s; rt_csrf=c; __Host-rt_csrf=c; rt_flash=f; d=4",
			"rt_job_session=j; __Host-rt_job_session=j; __Host-X-Racetrack-Auth=t; rt_session=s; rt_theme=dark",
		},
		"X-Racetrack-Auth":          {"t"},
		"X-Racetrack-User-Auth":     {"u"},
		"X-Racetrack-Esc-Auth":      {"e"},
		"X-Racetrack-Internal-Auth": {"forged"},
		"X-Caller-Name":             {"forged"},
		"X-Request-Tracing-Id":      {"forged"},
		"X-Forwarded-For":           {"forged"},
		"Expect":                    {"100-continue"},
		"X-Custom":                  {"kept"},
	}
	stripCredentials(header)
	want := http.Header{"Cookie": {"a=1; b=2", "c=3", "d=4", "rt_theme=dark"}, "X-Custom": {"kept"}}
	if !reflect.DeepEqual(header, want) {
		t.Fatalf("after stripCredentials: %v, want %v", header, want)
	}
	untouched := http.Header{"Cookie": {"a=1;  b=2"}}
	stripCredentials(untouched)
	if got := untouched.Get("Cookie"); got != "a=1;  b=2" {
		t.Fatalf("a Cookie without the platform's cookies must pass as sent, got %q", got)
	}
}

func TestAJobCannotSetThePlatformsCookies(t *testing.T) {
	header := http.Header{"Set-Cookie": {
		"__Host-rt_session=x; Path=/; Secure", "job=1; Path=/", "rt_csrf=y", "X-Racetrack-Auth=z", "rt_job_session=w",
	}}
	dropPlatformSetCookies(header)
	if got := header["Set-Cookie"]; !reflect.DeepEqual(got, []string{"job=1; Path=/"}) {
		t.Fatalf("Set-Cookie kept: %q", got)
	}
}

func TestRewriteLocation(t *testing.T) {
	cases := map[string]string{
		"/pub/job/adder/1.2.0/docs":                        "/pub/job/adder/latest/docs",
		"/pub/job/adder/1.2.0":                             "/pub/job/adder/latest",
		"/pub/job/adder/1.2.0?x=1":                         "/pub/job/adder/latest?x=1",
		"http://10.0.0.5:7000/pub/job/adder/1.2.0/a?b=c#d": "/pub/job/adder/latest/a?b=c#d",
		"http://10.0.0.5:7000":                             "/pub/job/adder/latest/",
		"/docs":                                            "/pub/job/adder/latest/docs",
		"docs/page":                                        "docs/page",
		"/pub/job/adder/1.0.0/x":                           "/pub/job/adder/1.0.0/x",
		"/pub/fatman/adder/1.0.0/x":                        "/pub/fatman/adder/1.0.0/x",
		"https://other.example/x":                          "https://other.example/x",
		"//other.example/x":                                "//other.example/x",
		"/pub/job/adder/1.2.0.1/x":                         "/pub/job/adder/1.2.0.1/x", // another version of the job, on purpose
	}
	for location, want := range cases {
		got := rewriteLocation(location, "10.0.0.5:7000", "/pub/job/adder/1.2.0", "/pub/job/adder/latest", "adder")
		if got != want {
			t.Errorf("rewriteLocation(%q) = %q, want %q", location, got, want)
		}
	}
}
