package main

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

var buckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// metrics holds the job's Prometheus counters, rendered in the text exposition format.
type metrics struct {
	mu             sync.Mutex
	started_       int64
	done_          int64
	internalErrors int64
	errorsByStatus map[int]int64
	bucketCounts   []int64
	durationSum    float64
	lastCall       float64
}

func newMetrics() *metrics {
	return &metrics{errorsByStatus: map[int]int64{}, bucketCounts: make([]int64, len(buckets)+1)}
}

func (m *metrics) started() {
	m.mu.Lock()
	m.started_++
	m.lastCall = float64(time.Now().UnixNano()) / 1e9
	m.mu.Unlock()
}

func (m *metrics) done(status int, seconds float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done_++
	i := sort.SearchFloat64s(buckets, seconds)
	m.bucketCounts[i]++
	m.durationSum += seconds
	if status >= 400 {
		m.errorsByStatus[status]++
		if status >= 500 {
			m.internalErrors++
		}
	}
}

func (m *metrics) render() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	counter := func(name, help string, value int64) {
		fmt.Fprintf(&b, "# HELP %s_total %s\n# TYPE %s_total counter\n%s_total %d\n", name, help, name, name, value)
	}
	counter("requests_started", "Requests started by the job", m.started_)
	counter("requests_done", "Requests finished by the job", m.done_)
	fmt.Fprintf(&b, "# HELP endpoint_requests_started_total Requests started, by endpoint\n")
	fmt.Fprintf(&b, "# TYPE endpoint_requests_started_total counter\n")
	fmt.Fprintf(&b, "endpoint_requests_started_total{endpoint=\"/api/v1/perform\"} %d\n", m.started_)
	counter("request_internal_errors", "Requests answered with a 5xx status", m.internalErrors)
	fmt.Fprintf(&b, "# HELP request_errors_total Requests answered with an error status, by status\n")
	fmt.Fprintf(&b, "# TYPE request_errors_total counter\n")
	statuses := make([]int, 0, len(m.errorsByStatus))
	for status := range m.errorsByStatus {
		statuses = append(statuses, status)
	}
	sort.Ints(statuses)
	for _, status := range statuses {
		fmt.Fprintf(&b, "request_errors_total{status=\"%d\"} %d\n", status, m.errorsByStatus[status])
	}
	fmt.Fprintf(&b, "# HELP request_duration Duration of calls to job endpoints in seconds\n")
	fmt.Fprintf(&b, "# TYPE request_duration histogram\n")
	var cumulative int64
	for i, bound := range buckets {
		cumulative += m.bucketCounts[i]
		fmt.Fprintf(&b, "request_duration_bucket{le=\"%g\"} %d\n", bound, cumulative)
	}
	cumulative += m.bucketCounts[len(buckets)]
	fmt.Fprintf(&b, "request_duration_bucket{le=\"+Inf\"} %d\nrequest_duration_count %d\n", cumulative, cumulative)
	fmt.Fprintf(&b, "request_duration_sum %g\n", m.durationSum)
	fmt.Fprintf(&b, "# HELP last_call_timestamp Unix time of the last call to a job endpoint\n")
	fmt.Fprintf(&b, "# TYPE last_call_timestamp gauge\nlast_call_timestamp %f\n", m.lastCall)
	return b.String()
}
