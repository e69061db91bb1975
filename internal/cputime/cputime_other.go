//go:build !unix

// Package cputime measures the CPU time the process has used, for the
// benchmarks: on a shared machine a fairer measure of a request's or a
// body's cost than the wall clock.
package cputime

import "time"

// Process is not measured here: benchmarks report 0.
func Process() time.Duration { return 0 }
