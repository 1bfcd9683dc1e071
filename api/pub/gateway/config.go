package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// SidecarTarget is the one job a sidecar guards: calls go to Address whatever the lifecycle reports.
type SidecarTarget struct {
	Address    string // host:port
	JobName    string
	JobVersion string // empty: whatever exact version the lifecycle resolves
}

// Config is everything the gateway reads, resolved once at startup from RACETRACK_* variables.
type Config struct {
	Listen            []string // host:port, one server each
	LifecycleURL      string   // ends without a slash, e.g. http://127.0.0.1:7002/lifecycle
	InternalToken     string
	AuthCacheTTL      time.Duration // an allowing decision is reused this long
	AuthNegativeTTL   time.Duration // a refusal is reused this long
	AuthCacheTTLMax   time.Duration // an allowing decision may stand in this long while the lifecycle is unreachable
	LifecycleTimeout  time.Duration
	JobTimeout        time.Duration // waiting for a job's response headers
	JobConnectTimeout time.Duration
	MaxIdlePerJob     int
	AsyncUpstream     string // base URL of the async-call service; empty: async calls are not served here
	Sidecar           *SidecarTarget
	// JobsURL is scheme://<jobs domain>[:port]: a job's pages are served to browsers from an origin of
	// their own, scheme://<name>.<jobs domain>[:port] (jobhost.go).
	JobsURL *url.URL
	// SecureCookies: browsers reach pub over HTTPS, so its cookies are Secure and __Host- named.
	SecureCookies bool
	// DashboardURL is where a browser without a session on a job's host is sent to open the job;
	// empty: it gets the 401.
	DashboardURL string
}

// JobsDomain is the host name under which each job has its own host, e.g. jobs.localhost.
func (c *Config) JobsDomain() string { return strings.ToLower(c.JobsURL.Hostname()) }

// ConfigError names the setting that is wrong and how to fix it.
type ConfigError struct{ Message string }

func (e *ConfigError) Error() string { return e.Message }

func configFromEnv(getenv func(string) string) (*Config, error) {
	c := &Config{
		LifecycleURL:  strings.TrimRight(getenv("RACETRACK_LIFECYCLE_URL"), "/"),
		InternalToken: getenv("RACETRACK_INTERNAL_TOKEN"),
		AsyncUpstream: strings.TrimRight(getenv("RACETRACK_PUB_ASYNC_UPSTREAM"), "/"),
	}
	listen := getenv("RACETRACK_PUB_LISTEN")
	if listen == "" {
		host, port := getenv("RACETRACK_PUB_HOST"), getenv("RACETRACK_PUB_SIDECAR_PORT")
		if port == "" {
			port = getenv("RACETRACK_PUB_PORT")
		}
		if host == "" {
			host = "127.0.0.1"
		}
		if port == "" {
			port = "7005"
		}
		listen = host + ":" + port
	}
	for _, address := range strings.Split(listen, ",") {
		if address = strings.TrimSpace(address); address != "" {
			c.Listen = append(c.Listen, address)
		}
	}
	if len(c.Listen) == 0 {
		return nil, &ConfigError{fmt.Sprintf("RACETRACK_PUB_LISTEN=%q names no host:port", listen)}
	}
	if c.LifecycleURL == "" {
		c.LifecycleURL = "http://127.0.0.1:7002/lifecycle"
	}
	if c.InternalToken == "" {
		if path := getenv("RACETRACK_INTERNAL_TOKEN_FILE"); path != "" {
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, &ConfigError{fmt.Sprintf("cannot read RACETRACK_INTERNAL_TOKEN_FILE %s: %v", path, err)}
			}
			c.InternalToken = strings.TrimSpace(string(data))
		}
	}
	if c.InternalToken == "" {
		return nil, &ConfigError{"set RACETRACK_INTERNAL_TOKEN (or RACETRACK_INTERNAL_TOKEN_FILE): the token pub shows the lifecycle"}
	}
	durations := []struct {
		name  string
		into  *time.Duration
		value float64
	}{
		{"RACETRACK_PUB_AUTH_CACHE_TTL", &c.AuthCacheTTL, 10},
		{"RACETRACK_PUB_AUTH_NEGATIVE_CACHE_TTL", &c.AuthNegativeTTL, 1},
		{"RACETRACK_PUB_AUTH_CACHE_TTL_MAX", &c.AuthCacheTTLMax, 600},
		{"RACETRACK_PUB_LIFECYCLE_TIMEOUT", &c.LifecycleTimeout, 5},
		{"RACETRACK_PUB_JOB_TIMEOUT", &c.JobTimeout, 600},
		{"RACETRACK_PUB_JOB_CONNECT_TIMEOUT", &c.JobConnectTimeout, 5},
	}
	for _, d := range durations {
		seconds := d.value
		if text := getenv(d.name); text != "" {
			parsed, err := strconv.ParseFloat(text, 64)
			if err != nil || parsed < 0 {
				return nil, &ConfigError{fmt.Sprintf("%s=%q is not a number of seconds (e.g. 2.5)", d.name, text)}
			}
			seconds = parsed
		}
		*d.into = time.Duration(seconds * float64(time.Second))
	}
	c.MaxIdlePerJob = 256
	if text := getenv("RACETRACK_PUB_MAX_KEEPALIVE_CONNECTIONS"); text != "" {
		n, err := strconv.Atoi(text)
		if err != nil || n < 1 {
			return nil, &ConfigError{fmt.Sprintf("RACETRACK_PUB_MAX_KEEPALIVE_CONNECTIONS=%q is not a positive whole number", text)}
		}
		c.MaxIdlePerJob = n
	}
	jobsURL := getenv("RACETRACK_PUB_JOBS_URL")
	if jobsURL == "" {
		_, port, _ := net.SplitHostPort(c.Listen[0])
		jobsURL = "http://jobs.localhost:" + port
	}
	parsed, err := url.Parse(jobsURL)
	if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Hostname() == "" ||
		strings.Trim(parsed.Path, "/") != "" || parsed.RawQuery != "" || parsed.User != nil {
		return nil, &ConfigError{fmt.Sprintf("RACETRACK_PUB_JOBS_URL=%q is not scheme://<jobs domain>[:port], e.g. http://jobs.localhost:7005", jobsURL)}
	}
	c.JobsURL = parsed
	switch secure := strings.ToLower(getenv("RACETRACK_PUB_SECURE_COOKIE")); secure {
	case "", "0", "false", "no":
		c.SecureCookies = parsed.Scheme == "https"
	case "1", "true", "yes":
		c.SecureCookies = true
	default:
		return nil, &ConfigError{fmt.Sprintf("RACETRACK_PUB_SECURE_COOKIE=%q is not true or false", secure)}
	}
	c.DashboardURL = strings.TrimRight(getenv("RACETRACK_PUB_DASHBOARD_URL"), "/")
	target, name := getenv("RACETRACK_PUB_SIDECAR_TARGET"), getenv("RACETRACK_PUB_SIDECAR_JOB_NAME")
	if target != "" || name != "" {
		if target == "" || name == "" {
			return nil, &ConfigError{"the sidecar form needs RACETRACK_PUB_SIDECAR_TARGET (host:port of the job) and RACETRACK_PUB_SIDECAR_JOB_NAME; RACETRACK_PUB_SIDECAR_JOB_VERSION is optional"}
		}
		c.Sidecar = &SidecarTarget{Address: target, JobName: name, JobVersion: getenv("RACETRACK_PUB_SIDECAR_JOB_VERSION")}
	}
	return c, nil
}
