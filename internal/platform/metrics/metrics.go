// Package metrics keeps the process's Prometheus metrics: one registry,
// built by cmd/microtask and handed through the wiring to what it measures
// (no package-level collectors, so tests can build as many as they like).
// The packages it measures do not import Prometheus: each declares the small
// observer it calls, which *Metrics implements.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.mongodb.org/mongo-driver/v2/event"
)

// Metrics is the registry and the collectors of one process.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.HistogramVec
	dbCommands   *prometheus.HistogramVec
	gateWait     prometheus.Histogram
	gateHeld     prometheus.Histogram
	commits      *prometheus.HistogramVec
	commitDocs   prometheus.Histogram
	operations   *prometheus.HistogramVec
	recoveries   *prometheus.HistogramVec
	recovered    prometheus.Counter
	streams      prometheus.Gauge
	jobs         *prometheus.HistogramVec
	outbound     *prometheus.HistogramVec
}

// New returns a registry with the Go runtime's and the process's
// collectors and Microtask's own.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg}
	// Latencies from a quarter of a millisecond (a read from the embedded
	// database's in-memory copy) to half a minute (an outbound call that
	// times out).
	buckets := prometheus.ExponentialBucketsRange(0.00025, 30, 16)

	m.httpRequests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "microtask_http_request_duration_seconds",
		Help:    "HTTP requests by route pattern (e.g. /api/tasks/{id}; \"unmatched\" for paths no route has), method (GET, POST...; OTHER for a method outside HTTP's standard ones) and status, and how long they took to answer. Notification streams count when they end.",
		Buckets: buckets,
	}, []string{"route", "method", "status"})
	m.dbCommands = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "microtask_db_command_duration_seconds",
		Help:    "Commands sent to the database by name (find, insert, update, aggregate...) and outcome (ok, error), and how long the server took.",
		Buckets: buckets,
	}, []string{"command", "outcome"})
	m.gateWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "microtask_db_write_gate_wait_seconds",
		Help:    "How long writes waited for the process-wide write gate (the embedded database and FerretDB: writes to them are serialized).",
		Buckets: buckets,
	})
	m.gateHeld = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "microtask_db_write_gate_held_seconds",
		Help: "How long each write held the process-wide write gate (the embedded database: planning a write on the copy in memory; FerretDB: the whole command).",
		// From ten microseconds: the embedded database holds it for a few.
		Buckets: prometheus.ExponentialBucketsRange(0.00001, 10, 16),
	})
	m.commits = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "microtask_db_commit_duration_seconds",
		Help:    "Batches of the embedded database's writes committed to its file (group commit) by outcome (ok, error), and how long each took.",
		Buckets: prometheus.ExponentialBucketsRange(0.00001, 10, 16),
	}, []string{"outcome"})
	m.commitDocs = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "microtask_db_commit_documents",
		Help:    "Documents written by each batch of the embedded database's writes.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 12),
	})
	m.operations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "microtask_operations_duration_seconds",
		Help:    "Ledger operations run by kind (task.create, submission.approve...) and outcome (posted, replayed, failed, cancelled, in_progress, reused, error), and how long they took.",
		Buckets: buckets,
	}, []string{"kind", "outcome"})
	m.recoveries = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "microtask_recovery_runs_duration_seconds",
		Help:    "Rounds of operation recovery by outcome (ok, error), and how long they took.",
		Buckets: buckets,
	}, []string{"outcome"})
	m.recovered = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "microtask_recovered_operations_total",
		Help: "Operations a crash or a lost lease left in flight that recovery finished.",
	})
	m.streams = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "microtask_notification_streams",
		Help: "Notification streams (server-sent events) open now.",
	})
	m.jobs = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "microtask_job_runs_duration_seconds",
		Help:    "Rounds of background jobs this instance ran (it held the job's lease) by job and outcome (ok, error), and how long they took.",
		Buckets: buckets,
	}, []string{"job", "outcome"})
	m.outbound = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "microtask_outbound_request_duration_seconds",
		Help:    "Calls to other services (stripe, imgbb, google, smtp) by service and status (the HTTP status; for smtp, sent; error when no answer came back or smtp refused), and how long they took.",
		Buckets: buckets,
	}, []string{"service", "status"})
	for _, c := range []prometheus.Collector{m.httpRequests, m.dbCommands, m.gateWait, m.gateHeld, m.commits, m.commitDocs, m.operations, m.recoveries,
		m.recovered, m.streams, m.jobs, m.outbound} {
		f(c)
	}
	return m
}

// Handler serves the metrics in Prometheus's text format (or
// OpenMetrics when asked).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Registry returns the registry, for tests that read it directly.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Request records an answered HTTP request (httpapi's observer).
func (m *Metrics) Request(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched" // not the path: unbounded label values
	}
	m.httpRequests.WithLabelValues(route, methodLabel(method), strconv.Itoa(status)).Observe(d.Seconds())
}

// methodLabel is method when it is one of HTTP's standard methods, and
// OTHER for anything else a client sends: the label's values stay bounded
// as route's do.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// StreamOpened counts an open notification stream; the function it returns
// counts it closed.
func (m *Metrics) StreamOpened() (closed func()) {
	m.streams.Inc()
	return m.streams.Dec
}

// CommandMonitor is the database driver's command monitor that records
// every command (docdb.WithCommandMonitor).
func (m *Metrics) CommandMonitor() *event.CommandMonitor {
	return &event.CommandMonitor{
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			m.dbCommands.WithLabelValues(e.CommandName, "ok").Observe(e.Duration.Seconds())
		},
		Failed: func(_ context.Context, e *event.CommandFailedEvent) {
			m.dbCommands.WithLabelValues(e.CommandName, "error").Observe(e.Duration.Seconds())
		},
	}
}

// WriteGateWaited records how long a write waited for the write gate
// (docdb.Observer).
func (m *Metrics) WriteGateWaited(d time.Duration) { m.gateWait.Observe(d.Seconds()) }

// WriteGateHeld records how long a write held the write gate
// (docdb.Observer).
func (m *Metrics) WriteGateHeld(d time.Duration) { m.gateHeld.Observe(d.Seconds()) }

// Committed records a batch of the embedded database's writes
// (docdb.Observer).
func (m *Metrics) Committed(docs int, err error, d time.Duration) {
	m.commits.WithLabelValues(outcome(err)).Observe(d.Seconds())
	m.commitDocs.Observe(float64(docs))
}

// OperationRan records a ledger operation (operation.Observer).
func (m *Metrics) OperationRan(kind, outcome string, d time.Duration) {
	m.operations.WithLabelValues(kind, outcome).Observe(d.Seconds())
}

// RecoveryRan records a round of operation recovery (operation.Observer).
func (m *Metrics) RecoveryRan(recovered int, err error, d time.Duration) {
	m.recoveries.WithLabelValues(outcome(err)).Observe(d.Seconds())
	m.recovered.Add(float64(recovered))
}

// JobRan records a round of a background job.
func (m *Metrics) JobRan(job string, err error, d time.Duration) {
	m.jobs.WithLabelValues(job, outcome(err)).Observe(d.Seconds())
}

// Called records a call to a service spoken to over something other than
// HTTP (smtp: a message handed to the mail server), as sent or error
// (mail.Observer).
func (m *Metrics) Called(service string, err error, d time.Duration) {
	status := "sent"
	if err != nil {
		status = "error"
	}
	m.outbound.WithLabelValues(service, status).Observe(d.Seconds())
}

// Transport returns base (http.DefaultTransport if nil) recording every
// call as one to service.
func (m *Metrics) Transport(service string, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper{m: m, service: service, base: base}
}

type roundTripper struct {
	m       *Metrics
	service string
	base    http.RoundTripper
}

func (t roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(r)
	status := "error"
	if err == nil {
		status = strconv.Itoa(resp.StatusCode)
	}
	t.m.outbound.WithLabelValues(t.service, status).Observe(time.Since(start).Seconds())
	return resp, err
}

func outcome(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}
