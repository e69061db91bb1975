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

// tuneProcs gives the runtime one P (a thread running Go code) more than
// its default GOMAXPROCS on a SQLite store, unless GOMAXPROCS is set.
// Every SQLite call runs in C on its caller's thread and keeps that
// thread's P meanwhile; the runtime hands the P to another thread only
// after 20 µs and more, at the cost of a thread wake-up, and the writer's
// COMMIT takes 100-300 µs, one at a time. With one P more, the other
// requests' Go code goes on during the writer's turn, and the kernel
// shares the CPUs among the threads. Measured with `go run ./bench` (wrk,
// 16 connections, SQLite, 1 000 clients, 2 CPUs, alternated twice),
// GOMAXPROCS 3 against the default 2: PATCH on one hot client 7 345-7 896
// → 8 557-8 848 requests/s, p99 8.2-8.9 → 5.6-7.1 ms; spread over 1 000
// clients 4 853-5 559 → 5 768-5 938/s, p99 11.5-12.5 → 10.1 ms; GET of a
// client 15 014-15 889 → 15 666-16 463/s; token issuance 10 337-10 727 →
// 10 850-10 858/s; the `name sw` list of 250 clients 1 015-1 074 →
// 964-966/s (its p99 83 → 62 ms). GOMAXPROCS 4 did no better for PATCH
// and cost every request more CPU (token issuance 127-136 → 144-169 µs,
// the list 752-909/s). On PostgreSQL (pure Go) it made no difference, so
// it keeps the default. Setting GOMAXPROCS stops the runtime from
// following a later change of the container's CPU limit; an operator who
// needs that sets GOMAXPROCS.
func tuneProcs(lookupEnv func(string) (string, bool), dbURL string) {
	if _, set := lookupEnv("GOMAXPROCS"); set || !strings.HasPrefix(dbURL, "sqlite://") {
		return
	}
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
}
