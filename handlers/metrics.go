package handlers

import (
	"context"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/query"
)

// metrics are the server's Prometheus series, in a registry of its own.
type metrics struct {
	registry      *prometheus.Registry
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	tokensIssued  prometheus.Counter
	storeLatency  *prometheus.HistogramVec
	storeOutcomes *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clientele_http_requests_total",
			Help: "HTTP requests by method, route template and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "clientele_http_request_duration_seconds",
			Help:    "HTTP request latency by method and route template.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
		tokensIssued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "clientele_tokens_issued_total",
			Help: "Access tokens issued.",
		}),
		storeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "clientele_store_operation_duration_seconds",
			Help:    "Store operation latency by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"operation"}),
		storeOutcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clientele_store_operations_total",
			Help: "Store operations by operation and outcome (ok or error).",
		}, []string{"operation", "outcome"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.tokensIssued, m.storeLatency, m.storeOutcomes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe records one finished request.
func (m *metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(d.Seconds())
}

// getMetrics answers GET /metrics in Prometheus' text format.
func (m *metrics) handler() echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
}

// timedStore measures every store operation the HTTP layer calls.
type timedStore struct {
	Store
	m *metrics
}

func (t timedStore) time(op string, start time.Time, err error) {
	t.m.storeLatency.WithLabelValues(op).Observe(time.Since(start).Seconds())
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	t.m.storeOutcomes.WithLabelValues(op, outcome).Inc()
}

func (t timedStore) CreateClient(ctx context.Context, c models.OAuthClient, opts models.WriteOptions) (out models.OAuthClient, err error) {
	defer func(start time.Time) { t.time("create_client", start, err) }(time.Now())
	return t.Store.CreateClient(ctx, c, opts)
}

func (t timedStore) CreateClients(ctx context.Context, cs []models.OAuthClient, opts models.WriteOptions) (out []models.OAuthClient, err error) {
	defer func(start time.Time) { t.time("create_clients", start, err) }(time.Now())
	return t.Store.CreateClients(ctx, cs, opts)
}

func (t timedStore) GetClient(ctx context.Context, id string) (out models.OAuthClient, err error) {
	defer func(start time.Time) { t.time("get_client", start, err) }(time.Now())
	return t.Store.GetClient(ctx, id)
}

func (t timedStore) ListClients(ctx context.Context, q query.List) (out []models.OAuthClient, total int64, err error) {
	defer func(start time.Time) { t.time("list_clients", start, err) }(time.Now())
	return t.Store.ListClients(ctx, q)
}

func (t timedStore) UpdateClient(ctx context.Context, id string, fn func(*models.OAuthClient) error, opts models.WriteOptions) (out models.OAuthClient, err error) {
	defer func(start time.Time) { t.time("update_client", start, err) }(time.Now())
	return t.Store.UpdateClient(ctx, id, fn, opts)
}

func (t timedStore) DeleteClient(ctx context.Context, id string, check func(*models.OAuthClient) error) (err error) {
	defer func(start time.Time) { t.time("delete_client", start, err) }(time.Now())
	return t.Store.DeleteClient(ctx, id, check)
}

func (t timedStore) TouchLastUsed(ctx context.Context, id string, now time.Time) (err error) {
	defer func(start time.Time) { t.time("touch_last_used", start, err) }(time.Now())
	return t.Store.TouchLastUsed(ctx, id, now)
}

func (t timedStore) RevokeToken(ctx context.Context, ev models.TokenEvent) (err error) {
	defer func(start time.Time) { t.time("revoke_token", start, err) }(time.Now())
	return t.Store.RevokeToken(ctx, ev)
}
