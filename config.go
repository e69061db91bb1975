package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clientele/clientele/registration"
	"github.com/clientele/clientele/token"
)

// config is the parsed configuration of SPEC §1.
type config struct {
	addr, db, issuer, rateLimit, logLevel, logFormat string
	corsOrigins, pprofAddr                           string
	authFailureLimit, trustedProxies                 string
	metrics, allowPrivateJWKSURI                     bool
	adminID, adminSecret                             string
	signingAlg, keyPublishLead, keyRotationInterval  string
	keyEncryptionKey                                 string
	historyRetention                                 string
	allowPrivateWebhooks                             bool
	registration                                     string
}

// envName is the environment variable of a flag: CLIENTELE_ and the flag's
// name in upper case with - as _ (--rate-limit is CLIENTELE_RATE_LIMIT).
func envName(flagName string) string {
	return "CLIENTELE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// envOnly are the settings that have no flag, so that a secret never shows
// in a process listing.
var envOnly = []struct{ name, usage string }{
	{"CLIENTELE_ADMIN_CLIENT_ID", "bootstrap admin id (1-64 of A-Z a-z 0-9 _ -); set both or neither"},
	{"CLIENTELE_ADMIN_CLIENT_SECRET", "bootstrap admin secret, at least 32 characters; with both set, start-up makes that client an enabled admin with this secret"},
	{"CLIENTELE_KEY_ENCRYPTION_KEY", "encrypts private signing keys at rest (AES-256-GCM, key derived by HKDF-SHA-256), at least 16 bytes, the same on every server; unset, keys are stored unencrypted"},
}

// versionFlag is the one flag that is not a setting and has no variable.
const versionFlag = "version"

// errVersion is parseConfig's answer to --version, as flag.ErrHelp is its
// answer to -h and --help.
var errVersion = errors.New("version requested")

// newFlagSet defines every flag setting on cfg with its built-in default.
func newFlagSet(cfg *config) *flag.FlagSet {
	fs := flag.NewFlagSet("clientele", flag.ContinueOnError)
	// A bad flag is one line on standard error (from main); run prints the
	// usage on standard output for --help.
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.addr, "addr", "localhost:8080", "listen `address`")
	fs.StringVar(&cfg.db, "db", "sqlite://clientele.db", "database: sqlite://PATH, sqlite://:memory: or a postgres:// `URL`")
	fs.StringVar(&cfg.issuer, "issuer", "", "token issuer (iss) `URL`; default http:// + the listen address")
	fs.StringVar(&cfg.rateLimit, "rate-limit", "100/10s", "management requests per client, as `N/DURATION`; 0 turns it off")
	fs.StringVar(&cfg.authFailureLimit, "auth-failure-limit", "20/1m", "failed client authentications per client id and remote address, as `N/DURATION`; 0 turns it off")
	fs.StringVar(&cfg.trustedProxies, "trusted-proxies", "", "comma-separated `CIDRs` (or addresses) of proxies whose X-Forwarded-For is believed; empty: none")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.StringVar(&cfg.logFormat, "log-format", "json", "log `format`: json or text")
	fs.StringVar(&cfg.corsOrigins, "cors-origins", "", "comma-separated `origins` allowed by CORS, or *; empty turns CORS off")
	fs.StringVar(&cfg.pprofAddr, "pprof-addr", "", "serve Go's pprof profiles on this separate `address` (off when empty; keep it on loopback)")
	fs.BoolVar(&cfg.metrics, "metrics", true, "serve Prometheus metrics at /metrics")
	fs.BoolVar(&cfg.allowPrivateJWKSURI, "allow-private-jwks-uri", false, "let clients' jwksUri resolve to loopback, private, link-local or other non-public addresses (for tests; off keeps the server from being used to reach internal hosts)")
	fs.StringVar(&cfg.signingAlg, "signing-alg", token.Algorithms[0], "`algorithm` of new signing keys: "+strings.Join(token.Algorithms, ", ")+"; older keys keep theirs")
	fs.StringVar(&cfg.keyPublishLead, "key-publish-lead", "10m", "how long a new signing key is published before it signs, a `duration`")
	fs.StringVar(&cfg.keyRotationInterval, "key-rotation-interval", "720h", "rotate the signing key this often, a `duration`; 0 turns it off")
	fs.BoolVar(&cfg.allowPrivateWebhooks, "allow-private-webhooks", false, "accept webhooks on loopback, private, link-local and other non-public addresses")
	fs.StringVar(&cfg.historyRetention, "history-retention", "2160h", "keep the events of clients (history, feed, restore) this long, a `duration`")
	fs.StringVar(&cfg.registration, "registration", string(registration.Off), "dynamic client registration (RFC 7591/7592) at /oauth/register, a `mode`: off (404), token (needs an access token with sp:oauth-client:manage) or open (anyone; sp:scopes:default only)")
	return fs
}

// parseConfig reads the settings of SPEC §1: a flag on the command line wins
// over its environment variable, which wins over the built-in default. It
// returns flag.ErrHelp for -h or --help and errVersion for --version.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	var cfg config
	var version bool
	fs := newFlagSet(&cfg)
	fs.BoolVar(&version, versionFlag, false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if version {
		return cfg, errVersion
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		v := getenv(envName(f.Name))
		if err != nil || v == "" || given[f.Name] || f.Name == versionFlag {
			return
		}
		if fs.Set(f.Name, v) != nil {
			// Only a boolean refuses a value.
			err = fmt.Errorf("%s %q: want true or false", envName(f.Name), v)
		}
	})
	cfg.adminID, cfg.adminSecret = getenv(envOnly[0].name), getenv(envOnly[1].name)
	cfg.keyEncryptionKey = getenv(envOnly[2].name)
	return cfg, err
}

// historyRetention checks --history-retention.
func historyRetention(cfg config) (time.Duration, error) {
	d, err := time.ParseDuration(cfg.historyRetention)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--history-retention %q: want a positive duration, such as 2160h", cfg.historyRetention)
	}
	return d, nil
}

// keyOptions checks the signing-key settings of cfg.
func keyOptions(cfg config) (token.KeyOptions, error) {
	opts := token.KeyOptions{Algorithm: cfg.signingAlg, EncryptionKey: cfg.keyEncryptionKey}
	if !slices.Contains(token.Algorithms, cfg.signingAlg) {
		return opts, fmt.Errorf("--signing-alg %q: want one of %s", cfg.signingAlg, strings.Join(token.Algorithms, ", "))
	}
	var err error
	if opts.PublishLead, err = time.ParseDuration(cfg.keyPublishLead); err != nil || opts.PublishLead < 0 {
		return opts, fmt.Errorf("--key-publish-lead %q: want a duration of 0 or more, such as 10m", cfg.keyPublishLead)
	}
	opts.RotationInterval, err = time.ParseDuration(cfg.keyRotationInterval)
	if err != nil || opts.RotationInterval < 0 || (opts.RotationInterval > 0 && opts.RotationInterval <= opts.PublishLead) {
		return opts, fmt.Errorf("--key-rotation-interval %q: want 0 (off) or a duration longer than --key-publish-lead, such as 720h", cfg.keyRotationInterval)
	}
	if opts.EncryptionKey != "" && len(opts.EncryptionKey) < token.MinEncryptionKeyBytes {
		return opts, fmt.Errorf("CLIENTELE_KEY_ENCRYPTION_KEY must be at least %d bytes", token.MinEncryptionKeyBytes)
	}
	return opts, nil
}

// usage writes --help: every setting with its flag, its environment
// variable, its meaning and its default.
func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: clientele [serve] [flags]

Serves the Clientele OAuth client registry. Every setting is a flag, an
environment variable, or both; a flag given on the command line wins.
"clientele help" lists the command line's subcommands, which talk to a
running server.

`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var cfg config
	fs := newFlagSet(&cfg)
	fs.VisitAll(func(f *flag.Flag) {
		name, meaning := flag.UnquoteUsage(f)
		flagCol := "--" + f.Name
		if name != "" {
			flagCol += " " + name
		}
		if f.DefValue != "" {
			meaning += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", flagCol, envName(f.Name), meaning)
	})
	for _, e := range envOnly {
		fmt.Fprintf(tw, "  \t%s\t%s\n", e.name, e.usage)
	}
	fmt.Fprintf(tw, "  --help\t\tprint this help and exit\n")
	fmt.Fprintf(tw, "  --%s\t\tprint the version and the revision it was built from, and exit\n", versionFlag)
	tw.Flush()
}

// versionText is what --version prints: the module's version and the VCS
// revision the Go toolchain stamped into the binary (go build and go
// install in a git checkout stamp it; a test binary has none).
func versionText(info *debug.BuildInfo, ok bool) string {
	if !ok {
		return "clientele: built without module information\n"
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	vcs := map[string]string{}
	for _, s := range info.Settings {
		vcs[s.Key] = s.Value
	}
	revision := "revision unknown (built without VCS information)"
	if r := vcs["vcs.revision"]; r != "" {
		revision = "revision " + r
		if t := vcs["vcs.time"]; t != "" {
			revision += " (" + t + ")"
		}
		if vcs["vcs.modified"] == "true" {
			revision += ", with uncommitted changes"
		}
	}
	return fmt.Sprintf("clientele %s\n%s\n%s\n", version, revision, info.GoVersion)
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
