package handlers

import (
	"testing"
	"time"
)

func TestWebhookCounters(t *testing.T) {
	m := newMetrics()
	c := m.webhookCounters()
	c.Attempt(true, 20*time.Millisecond)
	c.Attempt(false, 2*time.Second)
	c.Attempt(false, 3*time.Second)
	c.GaveUp()
	families, err := m.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			name := f.GetName()
			for _, l := range metric.GetLabel() {
				name += "/" + l.GetValue()
			}
			switch {
			case metric.Counter != nil:
				got[name] = metric.GetCounter().GetValue()
			case metric.Histogram != nil:
				got[name] = float64(metric.GetHistogram().GetSampleCount())
			}
		}
	}
	for name, want := range map[string]float64{
		"clientele_webhook_attempts_total/ok":         1,
		"clientele_webhook_attempts_total/failed":     2,
		"clientele_webhook_deliveries_given_up_total": 1,
		"clientele_webhook_delivery_lag_seconds":      3,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
}
