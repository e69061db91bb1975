package main

import (
	"runtime"
	"runtime/debug"
	"strings"
)

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

// procsPerCPU is how many Ps (the threads running Go code at once) the
// runtime gets for each CPU it would use by default, on a SQLite store
// unless GOMAXPROCS is set. Every SQLite call runs in C on its caller's
// thread and keeps that thread's P meanwhile: only after 20 µs and more
// does the runtime hand the P to another thread, at the cost of a thread
// wake-up, and a COMMIT takes 100-300 µs. With twice the Ps the other
// requests' Go code goes on during those calls, and the kernel shares the
// CPUs among the threads. Measured with `go run ./bench` (wrk, 16
// connections, SQLite, 1 000 clients, 2 CPUs, alternated four times),
// GOMAXPROCS=4 against the default 2: PATCH on one hot client 7 247-7 493
// → 8 323-8 780 requests/s in three runs of four (the fourth ran at a
// lower ceiling), p99 8.5-9.7 → 6.4-7.1 ms; spread over 1 000 clients
// p99 12.0-13.6 → 10.7-11.5 ms; GET of a client 15 082-16 198 →
// 16 101-17 713/s; /healthz itself no faster (no SQLite); peak RSS 62 →
// 74 MiB. On PostgreSQL (pure Go) it made no difference, so it is left at
// the default there; GOMAXPROCS=8 was no better than 4.
const procsPerCPU = 2

// tuneProcs sets procsPerCPU times the default GOMAXPROCS for a store at
// dbURL, unless GOMAXPROCS is set. Setting it stops the runtime from
// following a later change of the container's CPU limit; an operator who
// needs that sets GOMAXPROCS.
func tuneProcs(lookupEnv func(string) (string, bool), dbURL string) {
	if _, set := lookupEnv("GOMAXPROCS"); set || !strings.HasPrefix(dbURL, "sqlite://") {
		return
	}
	runtime.GOMAXPROCS(procsPerCPU * runtime.GOMAXPROCS(0))
}
