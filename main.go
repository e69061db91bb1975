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
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/clientele/clientele/cli"
	"github.com/clientele/clientele/clientkeys"
	"github.com/clientele/clientele/db"
	"github.com/clientele/clientele/handlers"
	"github.com/clientele/clientele/ratelimit"
	"github.com/clientele/clientele/registration"
	"github.com/clientele/clientele/token"
	"github.com/clientele/clientele/webhooks"
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
	tuneGC(os.LookupEnv)
	if cfg, err := parseConfig(serveArgs(os.Args[1:]), os.Getenv); err == nil {
		tuneProcs(os.LookupEnv, cfg.db)
	}
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
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
	// keyMaintenanceEvery is how often the signing keys are read and moved
	// along their life, the fallback when a change is not announced.
	keyMaintenanceEvery = time.Second
)

// serveArgs are args without "serve", the explicit name of what no
// subcommand does (SPEC §11).
func serveArgs(args []string) []string {
	if len(args) > 0 && args[0] == "serve" {
		return args[1:]
	}
	return args
}

// run starts Clientele and serves until ctx ends, then drains in-flight
// requests and closes the store last. Logs go to stdout; start-up messages
// and the first admin's credentials to stderr. --help and --version print
// on stdout and return nil without serving. args may start with "serve",
// the explicit name of what no subcommand does (SPEC §11).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	args = serveArgs(args)
	cfg, err := parseConfig(args, getenv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return nil
	case errors.Is(err, errVersion):
		fmt.Fprint(stdout, versionText(debug.ReadBuildInfo()))
		return nil
	case err != nil:
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
	authRate, err := ratelimit.ParseRate(cfg.authFailureLimit)
	if err != nil {
		return fmt.Errorf("--auth-failure-limit: %w", err)
	}
	proxies, err := parseCIDRs(cfg.trustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	if (cfg.adminID == "") != (cfg.adminSecret == "") {
		return errors.New("set both CLIENTELE_ADMIN_CLIENT_ID and CLIENTELE_ADMIN_CLIENT_SECRET, or neither")
	}
	keyOpts, err := keyOptions(cfg)
	if err != nil {
		return err
	}
	retention, err := historyRetention(cfg)
	if err != nil {
		return err
	}
	registrationMode, err := registration.ParseMode(cfg.registration)
	if err != nil {
		return fmt.Errorf("--registration %w", err)
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	// base is where this server can be reached: the listen address with the
	// real port; the start-up banner's curl line uses it whatever the issuer.
	base := "http://" + issuerHost(cfg.addr, addr)
	if cfg.issuer == "" {
		cfg.issuer = base
	}

	startCtx, cancelStart := context.WithTimeout(ctx, startupTimeout)
	defer cancelStart()
	store, err := db.Open(startCtx, cfg.db)
	if err != nil {
		return err
	}
	defer store.Close()

	if err := bootstrapAdmin(startCtx, store, cfg, base, stderr); err != nil {
		return err
	}
	keys, err := token.LoadKeys(startCtx, store, keyOpts)
	if err != nil {
		return fmt.Errorf("loading signing keys: %w", err)
	}
	if keyOpts.EncryptionKey == "" {
		fmt.Fprintln(stderr, "clientele: CLIENTELE_KEY_ENCRYPTION_KEY is not set: signing keys are stored unencrypted")
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

	// Other servers' changes arrive by PostgreSQL notification within
	// milliseconds; the tracker's and the keys' polling remain the fallback
	// for a notification missed while the listening connection was down.
	keysWake := make(chan struct{}, 1)
	listenDone := make(chan struct{})
	go func() {
		defer close(listenDone)
		store.Listen(trackerCtx, func(payload string) {
			if payload == db.NotifyTokens || payload == db.NotifyReconnected {
				tracker.Wake()
			}
			if payload == db.NotifyKeys || payload == db.NotifyReconnected {
				select {
				case keysWake <- struct{}{}:
				default:
				}
			}
		}, func(err error) {
			logger.Warn("change notifications interrupted; polling meanwhile", "error", err.Error())
		})
	}()
	keysDone := make(chan struct{})
	go func() {
		defer close(keysDone)
		keys.Run(trackerCtx, keyMaintenanceEvery, keysWake, func(err error) {
			logger.Error("signing key maintenance failed", "error", err.Error())
		})
	}()

	pruneDone := make(chan struct{})
	go func() {
		defer close(pruneDone)
		pruneHistory(trackerCtx, store, retention, time.Now, logger)
	}()

	stopStreams := make(chan struct{})
	hcfg := handlers.Config{
		Store:   store,
		Tokens:  token.NewIssuer(cfg.issuer, keys),
		Keys:    keys,
		Tracker: tracker,
		Issuer:  cfg.issuer,
		Spec:    openapiSpec,
		Logger:  logger,
		Metrics: cfg.metrics,
		Stop:    stopStreams,

		AllowPrivateWebhooks: cfg.allowPrivateWebhooks,
		// Failures are limited per client id and address: without the
		// proxies' word on the address, one caller behind a proxy could
		// lock a client out for every other caller behind it.
		TrustedProxies: proxies,
		JWKSFetcher:    clientkeys.NewFetcher(cfg.allowPrivateJWKSURI, time.Now),
		Registration:   registrationMode,
	}
	for _, o := range strings.Split(cfg.corsOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			hcfg.CORSOrigins = append(hcfg.CORSOrigins, o)
		}
	}
	if !rate.Off() {
		hcfg.RateLimit = ratelimit.New(rate, time.Now)
	}
	if !authRate.Off() {
		hcfg.AuthFailures = ratelimit.New(authRate, time.Now)
	}

	var deliveryCounters webhooks.Counters
	hcfg.WebhookCounters = &deliveryCounters
	// One rendering of each event for the feed and every webhook.
	renders := handlers.NewEventRenders()
	hcfg.Renders = renders
	handler := handlers.New(hcfg)
	// Deliveries to webhooks, from the outbox every write fills.
	dispatchDone := make(chan struct{})
	go func() {
		defer close(dispatchDone)
		(&webhooks.Dispatcher{Store: store, Issuer: cfg.issuer, Render: renders.JSON,
			AllowPrivate: cfg.allowPrivateWebhooks, Log: logger, Counters: deliveryCounters}).Run(trackerCtx)
	}()

	srv := &http.Server{
		Handler:           handler,
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
	// Event streams never go idle: they end when shutdown begins.
	srv.RegisterOnShutdown(func() { close(stopStreams) })
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
	<-keysDone
	<-listenDone
	<-pruneDone
	<-dispatchDone
	if err := store.Close(); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	if shutdownErr != nil {
		return fmt.Errorf("draining requests: %w", shutdownErr)
	}
	return nil
}

// parseCIDRs parses a comma-separated list of CIDRs; a bare address is
// its own /32 or /128.
func parseCIDRs(list string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !strings.Contains(item, "/") {
			ip := net.ParseIP(item)
			if ip == nil {
				return nil, fmt.Errorf("%q is neither an address nor a CIDR such as 10.0.0.0/8", item)
			}
			bits := 128
			if ip4 := ip.To4(); ip4 != nil {
				ip, bits = ip4, 32
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(item)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", item)
		}
		out = append(out, n)
	}
	return out, nil
}

// issuerHost is the host:port of the default issuer and of the banner's curl
// line: the configured address, with the real port when it was 0 and
// localhost when the host was empty or unspecified.
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
