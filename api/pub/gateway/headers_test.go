package main

import (
	"net/http"
	"reflect"
	"testing"
)

func TestCallerTokenPrecedenceAndCookie(t *testing.T) {
	cases := []struct {
		name   string
		header http.Header
		want   string
	}{
		{"header wins over legacy", http.Header{"X-Racetrack-Auth": {"main"}, "X-Racetrack-User-Auth": {"user"}}, "main"},
		{"legacy user before esc", http.Header{"X-Racetrack-User-Auth": {"user"}, "X-Racetrack-Esc-Auth": {"esc"}}, "user"},
		{"legacy header before cookie", http.Header{"Cookie": {"a=1; X-Racetrack-Auth=%22tok%20c%22; b=2"}, "X-Racetrack-Esc-Auth": {"esc"}}, "esc"},
		{"cookie, quoted and unquoted", http.Header{"Cookie": {`a=1; X-Racetrack-Auth="tok%20c"; b=2`}}, "tok c"},
		{"cookie, URL-encoded", http.Header{"Cookie": {"X-Racetrack-Auth=tok%2Fc"}}, "tok/c"},
		{"cookie in a second line", http.Header{"Cookie": {"a=1", "X-Racetrack-Auth=t2"}}, "t2"},
		{"a longer cookie name is not the token", http.Header{"Cookie": {"X-Racetrack-Auth-Old=x"}}, ""},
		{"nothing", http.Header{}, ""},
	}
	for _, c := range cases {
		if got := callerToken(c.header); got != c.want {
			t.Errorf("%s: callerToken = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestStripCredentialsKeepsOtherCookies(t *testing.T) {
	header := http.Header{
		"Cookie":                    {"a=1; X-Racetrack-Auth=tok; b=2", "X-Racetrack-Auth=only", "c=3"},
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
	want := http.Header{"Cookie": {"a=1; b=2", "c=3"}, "X-Custom": {"kept"}}
	if !reflect.DeepEqual(header, want) {
		t.Fatalf("after stripCredentials: %v, want %v", header, want)
	}
	untouched := http.Header{"Cookie": {"a=1;  b=2"}}
	stripCredentials(untouched)
	if got := untouched.Get("Cookie"); got != "a=1;  b=2" {
		t.Fatalf("a Cookie without the auth cookie must pass as sent, got %q", got)
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
