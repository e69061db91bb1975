package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The load generator. bench drives wrk (https://github.com/wg/wrk, in
// Debian as "wrk") when it is installed, as issue 10 asks: Go's own HTTP
// client costs more CPU per request than wrk, and on two shared cores that
// lowers every figure, the /healthz ceiling most. Without wrk (or with
// -loadgen go) it falls back to the Go client and says so.
//
// wrk replays the scenario's requests: bench asks the scenario for
// wrkSamples of them and hands them to wrk as a Lua table, from which each
// wrk thread picks at random. A JSON body value "rev N" is replaced by one
// unique to the thread and the request, so that no PATCH repeats the value
// the client already holds (which would be a cheaper no-op).

const wrkSamples = 4096

var wrkBin = func() string {
	p, _ := exec.LookPath("wrk")
	return p
}()

func loadGenerator(o options) string {
	if o.loadgen == "wrk" {
		return "wrk (" + wrkBin + ", 2 threads)"
	}
	return "Go net/http client, one goroutine per connection"
}

// load drives sc with the chosen load generator.
func load(o options, sc scenario) result {
	if o.loadgen != "wrk" || sc.fresh {
		return drive(o, sc)
	}
	r, err := driveWrk(o, sc)
	if err != nil {
		return result{name: sc.name, errors: 1, firstError: err.Error(), elapsed: time.Second}
	}
	return r
}

func luaString(s string) string {
	level := "="
	for strings.Contains(s, "]"+level+"]") {
		level += "="
	}
	return "[" + level + "[" + s + "]" + level + "]"
}

func wrkScript(sc scenario) (base, script string, err error) {
	var b strings.Builder
	b.WriteString("local reqs = {\n")
	for i := 0; i < wrkSamples; i++ {
		req := sc.make(i%16, i)
		if i == 0 {
			base = req.URL.Scheme + "://" + req.URL.Host
		}
		fmt.Fprintf(&b, "{m=%s, p=%s, h={", luaString(req.Method), luaString(req.URL.RequestURI()))
		for k, v := range req.Header {
			fmt.Fprintf(&b, "[ %s ]=%s, ", luaString(k), luaString(v[0]))
		}
		b.WriteString("}")
		if req.Body != nil {
			body, err := io.ReadAll(req.Body)
			if err != nil {
				return "", "", err
			}
			fmt.Fprintf(&b, ", b=%s", luaString(string(body)))
		}
		b.WriteString("},\n")
	}
	b.WriteString(`}
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local counter = 0
function init(args)
  math.randomseed(tid * 7919 + os.time())
end
function request()
  counter = counter + 1
  local r = reqs[math.random(#reqs)]
  local b = r.b
  if b then
    b = string.gsub(b, '"rev %d+"', '"rev ' .. tid .. '-' .. counter .. '"')
  end
  return wrk.format(r.m, r.p, r.h, b)
end
`)
	return base, b.String(), nil
}

var (
	wrkLatency = regexp.MustCompile(`^\s*(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
	wrkTotal   = regexp.MustCompile(`^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSocket  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func wrkDuration(v, unit string) time.Duration {
	f, _ := strconv.ParseFloat(v, 64)
	switch unit {
	case "us":
		return time.Duration(f * float64(time.Microsecond))
	case "ms":
		return time.Duration(f * float64(time.Millisecond))
	case "m":
		return time.Duration(f * float64(time.Minute))
	}
	return time.Duration(f * float64(time.Second))
}

func driveWrk(o options, sc scenario) (result, error) {
	base, script, err := wrkScript(sc)
	if err != nil {
		return result{}, err
	}
	f, err := os.CreateTemp("", "clientele-bench-*.lua")
	if err != nil {
		return result{}, err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(script); err != nil {
		f.Close()
		return result{}, err
	}
	f.Close()
	cmd := exec.Command(wrkBin, "-t", "2", "-c", strconv.Itoa(o.conns), "-d", fmt.Sprintf("%ds", int(o.duration.Seconds())),
		"--latency", "--timeout", "10s", "-s", filepath.Clean(f.Name()), base)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	r := result{name: sc.name}
	sc2 := bufio.NewScanner(bytes.NewReader(out))
	for sc2.Scan() {
		line := sc2.Text()
		if m := wrkLatency.FindStringSubmatch(line); m != nil {
			if m[1] == "50" {
				r.p50 = wrkDuration(m[2], m[3])
			} else {
				r.p99 = wrkDuration(m[2], m[3])
			}
		}
		if m := wrkTotal.FindStringSubmatch(line); m != nil {
			r.requests, _ = strconv.Atoi(m[1])
			r.elapsed = wrkDuration(m[2], m[3])
		}
		if m := wrkNon2xx.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			r.errors += n
			r.firstError = fmt.Sprintf("%d responses not 2xx or 3xx", n)
		}
		if m := wrkSocket.FindStringSubmatch(line); m != nil {
			for _, v := range m[1:] {
				n, _ := strconv.Atoi(v)
				r.errors += n
			}
			r.firstError = strings.TrimSpace(line)
		}
	}
	if r.requests == 0 || r.elapsed == 0 {
		return result{}, fmt.Errorf("wrk: no result in %s", out)
	}
	return r, nil
}
