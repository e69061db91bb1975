//go:build unix

// Package cputime measures the CPU time the process has used, for the
// benchmarks: on a shared machine a fairer measure of a request's or a
// body's cost than the wall clock.
package cputime

import (
	"syscall"
	"time"
)

// Process is the CPU time the process has used, user and system.
func Process() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
