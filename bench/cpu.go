package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Server CPU per request: on two cores shared with the load generator and
// other work, requests per second swing with the machine's load, while
// the server's CPU seconds per request (user and system, from
// /proc/PID/stat) are disturbed much less. bench reports both, and the
// system part apart: on a virtual machine where a system call is dear, it
// says how much of a request is the kernel's (its reads and writes of the
// connection, the WAL and the checkpoints). With it go the server's read
// and write system calls and the bytes it wrote, per request, from
// /proc/PID/io: the connection's and the files' together.

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on Linux
// everywhere Go runs.
const clockTicks = 100

// cpuTime is a process's CPU time so far, in seconds, with its I/O so far:
// read and write system calls, and bytes written (syscr, syscw and wchar
// of /proc/PID/io).
type cpuTime struct {
	user, sys     float64
	reads, writes float64
	written       float64
}

// cpuSeconds is the server's user and system CPU time so far, zero when
// /proc cannot tell.
func (s *server) cpuSeconds() cpuTime {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return cpuTime{}
	}
	// The command name, in parentheses, may hold spaces: count the fields
	// after its closing parenthesis (utime and stime are fields 14 and 15).
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return cpuTime{}
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return cpuTime{}
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	t := cpuTime{user: utime / clockTicks, sys: stime / clockTicks}
	io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", s.cmd.Process.Pid))
	if err != nil {
		return t
	}
	for _, line := range strings.Split(string(io), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		n, _ := strconv.ParseFloat(v, 64)
		switch k {
		case "syscr":
			t.reads = n
		case "syscw":
			t.writes = n
		case "wchar":
			t.written = n
		}
	}
	return t
}

// measured runs sc with load and records the server's CPU time it took.
func measured(o options, srv *server, sc scenario) result {
	before := srv.cpuSeconds()
	r := load(o, sc)
	after := srv.cpuSeconds()
	r.serverCPU = after.user + after.sys - before.user - before.sys
	r.serverSys = after.sys - before.sys
	r.reads = after.reads - before.reads
	r.writes = after.writes - before.writes
	r.written = after.written - before.written
	return r
}

// cpuPerRequest is the server's CPU time per request of r, in µs, and the
// system part of it.
func (r result) cpuPerRequest() string {
	if r.requests == 0 || r.serverCPU == 0 {
		return "–"
	}
	n := float64(r.requests)
	return fmt.Sprintf("%.0f µs (sys %.0f)", 1e6*r.serverCPU/n, 1e6*r.serverSys/n)
}

// ioPerRequest is the server's read and write system calls per request of
// r, and the kilobytes it wrote per request.
func (r result) ioPerRequest() string {
	if r.requests == 0 || r.reads+r.writes == 0 {
		return "–"
	}
	n := float64(r.requests)
	return fmt.Sprintf("%.1f / %.1f, %.1f KB", r.reads/n, r.writes/n, r.written/n/1000)
}

// selected reports whether the scenario named name runs under -only: the
// ceiling always does, since every ratio needs it.
func selected(o options, name string, ceiling bool) bool {
	if o.only == nil || ceiling {
		return true
	}
	return o.only.MatchString(name)
}

func parseOnly(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	return regexp.Compile(expr)
}
