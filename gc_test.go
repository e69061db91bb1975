package main

import (
	"runtime/debug"
	"testing"
)

func TestTuneGCKeepsAnOperatorsGOGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	tuneGC(func(string) (string, bool) { return "", false })
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("without GOGC the collector's percent is %d, want %d", got, defaultGCPercent)
	}
	tuneGC(func(k string) (string, bool) { return "150", k == "GOGC" })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set the collector's percent is %d, want it left alone (100)", got)
	}
}
