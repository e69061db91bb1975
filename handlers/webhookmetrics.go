package handlers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clientele/clientele/webhooks"
)

// webhookCounters registers the delivery series in m and returns the
// hooks that feed them: attempts by outcome, deliveries given up, and the
// lag from an event to each attempt's end.
func (m *metrics) webhookCounters() webhooks.Counters {
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "clientele_webhook_attempts_total",
		Help: "Webhook delivery attempts by outcome (ok or failed).",
	}, []string{"outcome"})
	gaveUp := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "clientele_webhook_deliveries_given_up_total",
		Help: "Webhook deliveries dropped after 24 hours of failed attempts.",
	})
	lag := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "clientele_webhook_delivery_lag_seconds",
		Help:    "Time from an event to the end of each attempt to deliver it.",
		Buckets: []float64{.01, .05, .1, .5, 1, 5, 30, 60, 300, 3600, 86400},
	})
	m.registry.MustRegister(attempts, gaveUp, lag)
	return webhooks.Counters{
		Attempt: func(ok bool, d time.Duration) {
			outcome := "ok"
			if !ok {
				outcome = "failed"
			}
			attempts.WithLabelValues(outcome).Inc()
			lag.Observe(d.Seconds())
		},
		GaveUp: gaveUp.Inc,
	}
}
