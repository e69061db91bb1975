// Package cli is Clientele's command line (SPEC §11): the subcommands that
// talk to a server through the generated Go SDK — `clients …`, `export` and
// `apply`. Serving is not here: main.go serves when no subcommand of this
// package is named.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Env is what a command may touch of the process: its environment and its
// standard streams. Tests pass buffers; a buffer is never a terminal.
type Env struct {
	Getenv func(string) string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// commands are the first arguments that select the command line rather
// than the server.
var commands = []string{"clients", "export", "apply", "help", "completion"}

// IsCommand reports whether arg, the first argument of the process, names a
// subcommand of the command line. Anything else (a flag, `serve`, nothing)
// is the server's.
func IsCommand(arg string) bool {
	for _, c := range commands {
		if arg == c {
			return true
		}
	}
	return false
}

// Main runs the subcommand in args and returns the process's exit status: 0
// on success, 1 on any failure, after printing the failure on Stderr (an
// API error with its detailCode, causes and trackingId).
func Main(ctx context.Context, args []string, env Env) int {
	root := newRoot(env)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		printError(env.Stderr, err)
		return 1
	}
	return 0
}

// options are the connection settings shared by every subcommand.
type options struct {
	env                   Env
	url, clientID, secret string
	progress              func(w io.Writer) bool
	connected             *api
}

func newRoot(env Env) *cobra.Command {
	o := &options{env: env, progress: isTerminal}
	root := &cobra.Command{
		Use:   "clientele",
		Short: "Clientele's OAuth client registry: the server and its command line",
		Long: `Clientele is an OAuth 2.0 client registry.

Without a subcommand (or with "serve") it serves; "clientele serve --help"
lists the server's flags. The subcommands below talk to a running server
through its API, authenticated with the client-credentials grant: set
--url, --client-id and --client-secret, or CLIENTELE_URL,
CLIENTELE_CLIENT_ID and CLIENTELE_CLIENT_SECRET.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&o.url, "url", "", "the server's base URL (env CLIENTELE_URL; default http://localhost:8080)")
	pf.StringVar(&o.clientID, "client-id", "", "the client id to authenticate as (env CLIENTELE_CLIENT_ID)")
	pf.StringVar(&o.secret, "client-secret", "", "that client's secret (env CLIENTELE_CLIENT_SECRET; prefer the variable: flags show in ps)")
	root.AddCommand(newClientsCmd(o), newExportCmd(o), newApplyCmd(o))
	return root
}

// connect returns the API client for the configured server, creating it on
// first use. Flags win over the environment.
func (o *options) connect(ctx context.Context) (*api, error) {
	if o.connected != nil {
		return o.connected, nil
	}
	pick := func(flag, name, def string) string {
		if flag != "" {
			return flag
		}
		if v := o.env.Getenv(name); v != "" {
			return v
		}
		return def
	}
	url := pick(o.url, "CLIENTELE_URL", "http://localhost:8080")
	id := pick(o.clientID, "CLIENTELE_CLIENT_ID", "")
	secret := pick(o.secret, "CLIENTELE_CLIENT_SECRET", "")
	if id == "" || secret == "" {
		return nil, errors.New("no credentials: set --client-id and --client-secret, or CLIENTELE_CLIENT_ID and CLIENTELE_CLIENT_SECRET")
	}
	a, err := newAPI(ctx, url, id, secret)
	if err != nil {
		return nil, err
	}
	o.connected = a
	return a, nil
}

// isTerminal reports whether w is a terminal, where a progress bar helps; in
// a pipe or a file it would only be noise.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// printError writes err for a person: an API error as its envelope's
// detailCode, message, causes and trackingId, anything else on one line.
func printError(w io.Writer, err error) {
	var ae *APIError
	if errors.As(err, &ae) {
		fmt.Fprint(w, ae.Report())
		return
	}
	var fe fileErrors
	if errors.As(err, &fe) {
		for _, line := range fe {
			fmt.Fprintln(w, line)
		}
		fmt.Fprintf(w, "clientele: %d problems; nothing was changed\n", len(fe))
		return
	}
	fmt.Fprintln(w, "clientele:", err)
}
