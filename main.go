// Command clientele serves the Clientele OAuth client registry: the
// management API of SPEC §3–§5, the token endpoints of §6 and the
// operational endpoints of §7. With a subcommand of package cli (clients,
// export, apply) it is instead the command line of §11.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/clientele/clientele/cli"
	"github.com/clientele/clientele/db"
	"github.com/clientele/clientele/handlers"
	"github.com/clientele/clientele/ratelimit"
	"github.com/clientele/clientele/token"
)

//go:embed openapi.yaml
var openapiSpec []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && cli.IsCommand(os.Args[1]) {
		code := cli.Main(ctx, os.Args[1:], cli.Env{Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
		stop()
		os.Exit(code)
	}
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "clientele:", err)
		stop()
		os.Exit(1)
	}
}

// Timeouts of the HTTP server and of start-up.
const (
	shutdownTimeout   = 10 * time.Second
	startupTimeout    = 30 * time.Second
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	// maxHeaderBytes admits a long query string, so that the API refuses it
	// in its own envelope; beyond it the server answers 431 itself.
	maxHeaderBytes = 256 << 10
	// authFailureRate limits failed client authentications per address.
	authFailureRate = "20/1m"
)

// config is the parsed configuration of SPEC §1.
type config struct {
	addr, db, issuer, rateLimit, logLevel, logFormat string
	corsOrigins, pprofAddr                           string
	metrics                                          bool
	adminID, adminSecret                             string
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var cfg config
	fs := flag.NewFlagSet("clientele", flag.ContinueOnError)
	// A bad flag is one line on standard error (from main); -h prints the
	// usage.
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.addr, "addr", env("CLIENTELE_ADDR", "localhost:8080"), "listen address")
	fs.StringVar(&cfg.db, "db", env("CLIENTELE_DB", "sqlite://clientele.db"), "database: sqlite://PATH, sqlite://:memory: or a postgres:// URL")
	fs.StringVar(&cfg.issuer, "issuer", env("CLIENTELE_ISSUER", ""), "token issuer (iss); default http:// + the listen address")
	fs.StringVar(&cfg.rateLimit, "rate-limit", env("CLIENTELE_RATE_LIMIT", "100/10s"), "management requests per client, as N/DURATION; 0 turns it off")
	fs.StringVar(&cfg.logLevel, "log-level", env("CLIENTELE_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	fs.StringVar(&cfg.logFormat, "log-format", env("CLIENTELE_LOG_FORMAT", "json"), "log format: json or text")
	fs.StringVar(&cfg.corsOrigins, "cors-origins", env("CLIENTELE_CORS_ORIGINS", ""), "comma-separated origins allowed by CORS, or *; empty turns CORS off")
	fs.StringVar(&cfg.pprofAddr, "pprof-addr", env("CLIENTELE_PPROF_ADDR", ""), "serve Go's pprof profiles on this separate address (off when empty; keep it on loopback)")
	metricsDefault := true
	if v := getenv("CLIENTELE_METRICS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, fmt.Errorf("CLIENTELE_METRICS %q: want true or false", v)
		}
		metricsDefault = b
	}
	fs.BoolVar(&cfg.metrics, "metrics", metricsDefault, "serve Prometheus metrics at /metrics")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintln(stderr, "Usage: clientele [flags]")
			fs.PrintDefaults()
		}
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.adminID, cfg.adminSecret = getenv("CLIENTELE_ADMIN_CLIENT_ID"), getenv("CLIENTELE_ADMIN_CLIENT_SECRET")
	return cfg, nil
}

func newLogger(cfg config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", cfg.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch cfg.logFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want json or text", cfg.logFormat)
}

// run starts Clientele and serves until ctx ends, then drains in-flight
// requests and closes the store last. Logs go to stdout; start-up messages
// and the first admin's credentials to stderr. args may start with
// "serve", the explicit name of what no subcommand does (SPEC §11).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	logger, err := newLogger(cfg, stdout)
	if err != nil {
		return err
	}
	rate, err := ratelimit.ParseRate(cfg.rateLimit)
	if err != nil {
		return fmt.Errorf("--rate-limit: %w", err)
	}
	authRate, err := ratelimit.ParseRate(authFailureRate)
	if err != nil {
		return err
	}
	if (cfg.adminID == "") != (cfg.adminSecret == "") {
		return errors.New("set both CLIENTELE_ADMIN_CLIENT_ID and CLIENTELE_ADMIN_CLIENT_SECRET, or neither")
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	if cfg.issuer == "" {
		cfg.issuer = "http://" + issuerHost(cfg.addr, addr)
	}

	startCtx, cancelStart := context.WithTimeout(ctx, startupTimeout)
	defer cancelStart()
	store, err := db.Open(startCtx, cfg.db)
	if err != nil {
		return err
	}
	defer store.Close()

	if err := bootstrapAdmin(startCtx, store, cfg, stderr); err != nil {
		return err
	}
	keys, err := token.LoadKeys(startCtx, store)
	if err != nil {
		return fmt.Errorf("loading signing keys: %w", err)
	}
	cancelStart()

	trackerCtx, stopTracker := context.WithCancel(context.WithoutCancel(ctx))
	defer stopTracker()
	tracker := token.NewTracker(store, token.TrackerOptions{})
	trackerDone := make(chan struct{})
	go func() {
		defer close(trackerDone)
		if err := tracker.Run(trackerCtx); err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("token state refresh stopped", "error", err.Error())
		}
	}()

	hcfg := handlers.Config{
		Store:   store,
		Tokens:  token.NewIssuer(cfg.issuer, keys),
		Keys:    keys,
		Tracker: tracker,
		Issuer:  cfg.issuer,
		Spec:    openapiSpec,
		Logger:  logger,
		Metrics: cfg.metrics,
	}
	for _, o := range strings.Split(cfg.corsOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			hcfg.CORSOrigins = append(hcfg.CORSOrigins, o)
		}
	}
	if !rate.Off() {
		hcfg.RateLimit = ratelimit.New(rate, time.Now)
	}
	hcfg.AuthFailures = ratelimit.New(authRate, time.Now)

	srv := &http.Server{
		Handler:           handlers.New(hcfg),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if cfg.pprofAddr != "" {
		stopProfiles, err := serveProfiles(cfg.pprofAddr)
		if err != nil {
			return err
		}
		defer stopProfiles()
		fmt.Fprintf(stderr, "clientele: pprof on http://%s/debug/pprof/\n", cfg.pprofAddr)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Fprintf(stderr, "clientele: listening on http://%s (store %s, issuer %s)\n", addr, store.Dialect(), cfg.issuer)

	select {
	case err := <-serveErr:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	fmt.Fprintln(stderr, "clientele: shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(shutdownCtx)
	stopTracker()
	<-trackerDone
	if err := store.Close(); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	if shutdownErr != nil {
		return fmt.Errorf("draining requests: %w", shutdownErr)
	}
	return nil
}

// issuerHost is the host:port of the default issuer: the configured address,
// with the real port when it was 0 and localhost when the host was empty.
func issuerHost(configured, actual string) string {
	host, _, err := net.SplitHostPort(configured)
	_, port, err2 := net.SplitHostPort(actual)
	if err != nil || err2 != nil {
		return actual
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + port
}
