package main

import "runtime/debug"

// defaultGCPercent is the garbage collector's GOGC when the environment
// sets none. At Go's own 100 a collection starts once the heap has grown
// by as much as is live; Clientele's live heap is small (its caches are
// bounded), so under load the collector ran many times a second and its
// share of a request's CPU was larger than the handler's. Measured with
// `go run ./bench` (wrk, 16 connections, SQLite, 1 000 clients), 400
// against 100 in alternate runs: PATCH on one hot client 5 341-5 415 →
// 7 467-7 893 requests/s (server CPU 249-252 → 159-165 µs each), spread
// over 1 000 clients 4 138-4 192 → 5 167-5 228/s, GET of a client
// 12 250-12 310 → 15 225-15 250/s; peak RSS 44 → 55 MiB.
const defaultGCPercent = 400

// tuneGC sets defaultGCPercent unless GOGC is set: an operator's GOGC, or
// GOGC=off with a GOMEMLIMIT, keeps its meaning.
func tuneGC(lookupEnv func(string) (string, bool)) {
	if _, set := lookupEnv("GOGC"); set {
		return
	}
	debug.SetGCPercent(defaultGCPercent)
}
