package main

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of one gateway process, named after upstream pub's.
type Metrics struct {
	registry        *prometheus.Registry
	requestsStarted prometheus.Counter
	requestsDone    prometheus.Counter
	responseCodes   *prometheus.CounterVec
	responseTime    prometheus.Histogram
	authSuccessful  prometheus.Counter
	authFailed      prometheus.Counter
	lifecycleCalls  prometheus.Counter
	lifecycleErrors prometheus.Counter
	cacheHits       prometheus.Counter
	cacheRecovered  prometheus.Counter
	proxyErrors     *prometheus.CounterVec
}

func NewMetrics() *Metrics {
	// client_golang does not add the _total suffix counters are exposed with (upstream pub's names,
	// docs/pub.md, and the async service's): it is part of each name here.
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name + "_total", Help: help})
	}
	m := &Metrics{
		registry:        prometheus.NewRegistry(),
		requestsStarted: counter("pub_job_proxy_requests_started", "Job calls received"),
		requestsDone:    counter("pub_job_proxy_requests_done", "Job calls answered"),
		responseCodes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pub_job_proxy_response_codes_total", Help: "Job calls by response status",
		}, []string{"status"}),
		responseTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pub_job_call_response_time",
			Help:    "Seconds from receiving a call to the end of its response",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}),
		authSuccessful:  counter("pub_auth_successful", "Calls let through"),
		authFailed:      counter("pub_auth_failed", "Calls refused (by the lifecycle, or for want of an answer)"),
		lifecycleCalls:  counter("pub_lifecycle_calls", "Requests pub made to the lifecycle"),
		lifecycleErrors: counter("pub_lifecycle_errors", "Lifecycle requests that failed (unreachable or broken)"),
		cacheHits:       counter("pub_lifecycle_cache_retrieved_responses", "Auth decisions served from the cache"),
		cacheRecovered: counter("pub_lifecycle_cache_recovered_failed_responses",
			"Stale auth decisions reused because the lifecycle could not be reached"),
		proxyErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pub_job_proxy_errors_total", Help: "Calls a job did not answer, by kind",
		}, []string{"kind"}),
	}
	m.registry.MustRegister(m.requestsStarted, m.requestsDone, m.responseCodes, m.responseTime,
		m.authSuccessful, m.authFailed, m.lifecycleCalls, m.lifecycleErrors, m.cacheHits,
		m.cacheRecovered, m.proxyErrors)
	return m
}

// Common statuses get their counter once, not a label lookup per call.
var countedStatuses = []int{200, 201, 202, 204, 301, 302, 304, 307, 308, 400, 401, 403, 404, 422, 500, 502, 503, 504}

type statusCounters map[int]prometheus.Counter

func (m *Metrics) statusCounters() statusCounters {
	counters := make(statusCounters, len(countedStatuses))
	for _, status := range countedStatuses {
		counters[status] = m.responseCodes.WithLabelValues(strconv.Itoa(status))
	}
	return counters
}

func (m *Metrics) countStatus(known statusCounters, status int) {
	if counter, ok := known[status]; ok {
		counter.Inc()
		return
	}
	m.responseCodes.WithLabelValues(strconv.Itoa(status)).Inc()
}
