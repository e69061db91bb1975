package main

import (
	"runtime"
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

func TestTuneProcsAddsOneForSQLiteUnlessSet(t *testing.T) {
	def := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(def)
	unset := func(string) (string, bool) { return "", false }
	for _, tc := range []struct {
		name   string
		lookup func(string) (string, bool)
		db     string
		want   int
	}{
		{"SQLite", unset, "sqlite://clientele.db", def + 1},
		{"PostgreSQL", unset, "postgres://db/clientele", def},
		{"GOMAXPROCS set", func(k string) (string, bool) { return "3", k == "GOMAXPROCS" }, "sqlite://clientele.db", def},
	} {
		runtime.GOMAXPROCS(def)
		tuneProcs(tc.lookup, tc.db)
		if got := runtime.GOMAXPROCS(0); got != tc.want {
			t.Errorf("%s: GOMAXPROCS %d, want %d", tc.name, got, tc.want)
		}
	}
}
