package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func envOf(values map[string]string) func(string) string {
	return func(name string) string { return values[name] }
}

func TestConfigDefaults(t *testing.T) {
	c, err := configFromEnv(envOf(map[string]string{"RACETRACK_INTERNAL_TOKEN": "tok"}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Listen, []string{"127.0.0.1:7005"}) {
		t.Errorf("Listen = %v", c.Listen)
	}
	if c.LifecycleURL != "http://127.0.0.1:7002/lifecycle" || c.InternalToken != "tok" || c.AsyncUpstream != "" {
		t.Errorf("config = %+v", c)
	}
	if c.AuthCacheTTL != 10*time.Second || c.AuthNegativeTTL != time.Second || c.AuthCacheTTLMax != 600*time.Second ||
		c.LifecycleTimeout != 5*time.Second || c.JobTimeout != 600*time.Second || c.JobConnectTimeout != 5*time.Second {
		t.Errorf("durations = %+v", c)
	}
	if c.MaxIdlePerJob != 256 || c.Sidecar != nil {
		t.Errorf("config = %+v", c)
	}
}

func TestConfigFromTheLaunchersVariables(t *testing.T) {
	c, err := configFromEnv(envOf(map[string]string{
		"RACETRACK_INTERNAL_TOKEN":                "tok",
		"RACETRACK_PUB_LISTEN":                    "127.0.0.1:7005, 172.17.0.1:7005,",
		"RACETRACK_PUB_HOST":                      "0.0.0.0", // RACETRACK_PUB_LISTEN wins
		"RACETRACK_LIFECYCLE_URL":                 "http://lc:7002/lifecycle/",
		"RACETRACK_PUB_AUTH_CACHE_TTL":            "0.5",
		"RACETRACK_PUB_JOB_TIMEOUT":               "2.25",
		"RACETRACK_PUB_MAX_KEEPALIVE_CONNECTIONS": "8",
		"RACETRACK_PUB_ASYNC_UPSTREAM":            "http://127.0.0.1:4000/",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Listen, []string{"127.0.0.1:7005", "172.17.0.1:7005"}) {
		t.Errorf("Listen = %v", c.Listen)
	}
	if c.LifecycleURL != "http://lc:7002/lifecycle" || c.AsyncUpstream != "http://127.0.0.1:4000" {
		t.Errorf("URLs keep no trailing slash: %+v", c)
	}
	if c.AuthCacheTTL != 500*time.Millisecond || c.JobTimeout != 2250*time.Millisecond || c.MaxIdlePerJob != 8 {
		t.Errorf("config = %+v", c)
	}
}

func TestConfigListenFromHostAndPorts(t *testing.T) {
	c, _ := configFromEnv(envOf(map[string]string{
		"RACETRACK_INTERNAL_TOKEN": "t", "RACETRACK_PUB_HOST": "0.0.0.0", "RACETRACK_PUB_PORT": "7105",
	}))
	if !reflect.DeepEqual(c.Listen, []string{"0.0.0.0:7105"}) {
		t.Errorf("Listen = %v", c.Listen)
	}
	c, _ = configFromEnv(envOf(map[string]string{
		"RACETRACK_INTERNAL_TOKEN": "t", "RACETRACK_PUB_PORT": "7105", "RACETRACK_PUB_SIDECAR_PORT": "7006",
	}))
	if !reflect.DeepEqual(c.Listen, []string{"127.0.0.1:7006"}) {
		t.Errorf("the sidecar port wins: Listen = %v", c.Listen)
	}
}

func TestConfigTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := configFromEnv(envOf(map[string]string{"RACETRACK_INTERNAL_TOKEN_FILE": path}))
	if err != nil || c.InternalToken != "from-file" {
		t.Fatalf("token file: %v %+v", err, c)
	}
	c, _ = configFromEnv(envOf(map[string]string{"RACETRACK_INTERNAL_TOKEN_FILE": path, "RACETRACK_INTERNAL_TOKEN": "env"}))
	if c.InternalToken != "env" {
		t.Fatalf("the variable wins over the file, got %q", c.InternalToken)
	}
	_, err = configFromEnv(envOf(map[string]string{"RACETRACK_INTERNAL_TOKEN_FILE": path + ".missing"}))
	if err == nil || !strings.Contains(err.Error(), "RACETRACK_INTERNAL_TOKEN_FILE") {
		t.Fatalf("missing token file: %v", err)
	}
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	cases := map[string]map[string]string{
		"RACETRACK_INTERNAL_TOKEN":                {},
		"RACETRACK_PUB_JOB_TIMEOUT":               {"RACETRACK_INTERNAL_TOKEN": "t", "RACETRACK_PUB_JOB_TIMEOUT": "ten"},
		"RACETRACK_PUB_AUTH_CACHE_TTL":            {"RACETRACK_INTERNAL_TOKEN": "t", "RACETRACK_PUB_AUTH_CACHE_TTL": "-1"},
		"RACETRACK_PUB_MAX_KEEPALIVE_CONNECTIONS": {"RACETRACK_INTERNAL_TOKEN": "t", "RACETRACK_PUB_MAX_KEEPALIVE_CONNECTIONS": "0"},
		"RACETRACK_PUB_SIDECAR_JOB_NAME":          {"RACETRACK_INTERNAL_TOKEN": "t", "RACETRACK_PUB_SIDECAR_TARGET": "127.0.0.1:7000"},
	}
	for name, env := range cases {
		_, err := configFromEnv(envOf(env))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v should name it", name, err)
		}
	}
}

func TestConfigSidecar(t *testing.T) {
	c, err := configFromEnv(envOf(map[string]string{
		"RACETRACK_INTERNAL_TOKEN":       "t",
		"RACETRACK_PUB_SIDECAR_TARGET":   "127.0.0.1:7000",
		"RACETRACK_PUB_SIDECAR_JOB_NAME": "adder",
	}))
	if err != nil || c.Sidecar == nil || *c.Sidecar != (SidecarTarget{Address: "127.0.0.1:7000", JobName: "adder"}) {
		t.Fatalf("sidecar: %v %+v", err, c)
	}
}
