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
// /proc/PID/stat) are disturbed much less. bench reports both.

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on Linux
// everywhere Go runs.
const clockTicks = 100

// cpuSeconds is the server's user and system CPU time so far, 0 when
// /proc cannot tell.
func (s *server) cpuSeconds() float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count the fields
	// after its closing parenthesis (utime and stime are fields 14 and 15).
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / clockTicks
}

// measured runs sc with load and records the server's CPU time it took.
func measured(o options, srv *server, sc scenario) result {
	before := srv.cpuSeconds()
	r := load(o, sc)
	r.serverCPU = srv.cpuSeconds() - before
	return r
}

// cpuPerRequest is the server's CPU time per request of r, in µs.
func (r result) cpuPerRequest() string {
	if r.requests == 0 || r.serverCPU == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f µs", 1e6*r.serverCPU/float64(r.requests))
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
