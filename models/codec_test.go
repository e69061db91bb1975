package models

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendTimeIsTimeLayout holds the hand-written date-time to what
// AppendFormat writes for TimeLayout, over years, zones and fractions.
func TestAppendTimeIsTimeLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	zones := []*time.Location{time.UTC, time.FixedZone("east", 5*3600+1800), time.FixedZone("west", -11*3600)}
	times := []time.Time{{}, time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 5, 4, 3, 2_000_000, time.UTC)}
	for range 100000 {
		sec := rng.Int64N(400000000000) - 70000000000
		times = append(times, time.Unix(sec, rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))]))
	}
	for _, tt := range times {
		want := `"` + tt.UTC().Format(TimeLayout) + `"`
		if got := string(appendTime(nil, tt)); got != want {
			t.Fatalf("%v: %s, want %s", tt, got, want)
		}
	}
}
