package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	yaml "go.yaml.in/yaml/v3"
	"golang.org/x/sync/errgroup"
)

type applyFlags struct {
	file, secretsOut string
	dryRun, prune    bool
	parallel         int
}

func newApplyCmd(o *options) *cobra.Command {
	var f applyFlags
	cmd := &cobra.Command{
		Use:   "apply -f clients.yaml [--dry-run] [--prune] [--secrets-out FILE]",
		Short: "Make the server's clients match a clients file: plan, then patch, create, delete",
		Long: `Compare a clients file (as export writes it) with the server and print the
plan: for each client that differs, the RFC 6902 patch from its state on
the server to the file's; each client to create; with --prune, each client
to delete. Then carry it out, unless --dry-run.

A client with an id is that client. A client without id is created, and
found again by its name on the next apply, so applying a file twice is a
no-op. A member left out of a client means its create default.

Each patch and delete is sent with If-Match: the ETag of the state it was
planned from. A client changed on the server after planning is reported
(412) and left alone, never overwritten; apply again to plan anew.
Secrets are never compared. A new client's secret is appended to
--secrets-out (mode 0600), which apply requires when it creates a
confidential client. Exit status 1 on any problem or failure.`,
		Example: `  clientele export -f clients.yaml
  $EDITOR clients.yaml
  clientele apply -f clients.yaml --dry-run
  clientele apply -f clients.yaml --prune --secrets-out new-secrets.yaml`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if f.file == "" {
				return errors.New("apply needs -f FILE, a clients file")
			}
			if f.parallel < 1 || f.parallel > 64 {
				return fmt.Errorf("--parallel %d: want 1 to 64", f.parallel)
			}
			return o.apply(c.Context(), f, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "the clients file (YAML); - reads standard input")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan and stop")
	fl.BoolVar(&f.prune, "prune", false, "delete the clients the file does not have")
	fl.StringVar(&f.secretsOut, "secrets-out", "", "append each new client's id, name and secret to this file (created with mode 0600)")
	fl.IntVar(&f.parallel, "parallel", 8, "requests in flight at once")
	return cmd
}

func (o *options) apply(ctx context.Context, f applyFlags, stdout, stderr io.Writer) error {
	data, err := readInput(f.file, o.env.Stdin, "the clients file")
	if err != nil {
		return err
	}
	if f.file == "-" {
		f.file = "<stdin>" // how problems name the file from here on
	}
	entries, err := parseClients(f.file, data)
	if err != nil {
		return err
	}
	a, err := o.connect(ctx)
	if err != nil {
		return err
	}
	server, err := a.listAll(ctx)
	if err != nil {
		return err
	}
	p, err := o.plan(ctx, a, f, entries, server, stderr)
	if err != nil {
		return err
	}
	p.print(stdout)
	if f.dryRun || p.empty() {
		return nil
	}
	var secrets *secretsFile
	if needsSecrets(p.creates) {
		if f.secretsOut == "" {
			return fmt.Errorf("the plan creates %d client(s): give --secrets-out FILE to keep their secrets, shown only this once; nothing was changed", len(p.creates))
		}
		if secrets, err = openSecrets(f.secretsOut); err != nil {
			return err
		}
	}
	failed := o.execute(ctx, a, p, f.parallel, secrets, stderr)
	if secrets != nil {
		if err := secrets.close(); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d changes failed; the others were applied", failed, len(p.creates)+len(p.updates)+len(p.deletes))
	}
	fmt.Fprintf(stdout, "Applied: %d created, %d patched, %d deleted.\n", len(p.creates), len(p.updates), len(p.deletes))
	return nil
}

// plan computes the plan. Every client that differs from the file, and
// every client to delete, is read again for its ETag, and its patch is
// computed from exactly that state.
func (o *options) plan(ctx context.Context, a *api, f applyFlags, entries []entry, server []serverClient, stderr io.Writer) (*plan, error) {
	p, es, cs := planApply(f.file, entries, server, f.prune, o.selfID())
	var fetch []int
	for i := range es {
		ops, immutable := diff(cs[i].values, es[i].values)
		if len(ops) == 0 && len(immutable) == 0 {
			p.unchanged++
		} else {
			fetch = append(fetch, i)
		}
	}
	type fresh struct {
		c    serverClient
		etag string
		err  error
	}
	ids := make([]string, 0, len(fetch)+len(p.deletes))
	for _, i := range fetch {
		ids = append(ids, cs[i].id)
	}
	for _, d := range p.deletes {
		ids = append(ids, d.id)
	}
	got := make([]fresh, len(ids))
	bar := o.bar(stderr, len(ids), "planning")
	forEach(ctx, len(ids), f.parallel, func(k int) {
		defer bar()
		raw, etag, err := a.get(ctx, ids[k])
		if err == nil {
			got[k].c, err = decodeServerClient(raw)
		}
		got[k].etag, got[k].err = etag, err
	})
	for k, g := range got {
		id := ids[k]
		switch {
		case isStatus(g.err, http.StatusNotFound):
			p.problems = append(p.problems, fmt.Sprintf("client %s was deleted on the server while planning", id))
		case g.err != nil:
			return nil, fmt.Errorf("reading client %s: %w", id, g.err)
		case k < len(fetch):
			p.addUpdate(f.file, es[fetch[k]], &g.c, g.etag)
		default:
			p.deletes[k-len(fetch)].etag = g.etag
		}
	}
	if len(p.problems) > 0 {
		return nil, fileErrors(p.problems)
	}
	return p, nil
}

// selfID is the client id the command authenticates as.
func (o *options) selfID() string {
	if o.clientID != "" {
		return o.clientID
	}
	return o.env.Getenv("CLIENTELE_CLIENT_ID")
}

func needsSecrets(creates []creation) bool {
	for _, c := range creates {
		var t struct{ Type string }
		if json.Unmarshal(c.body, &t) == nil && t.Type != "PUBLIC" {
			return true
		}
	}
	return false
}

// execute carries out p, parallel requests at a time, and returns how many
// changes failed, each reported on stderr.
func (o *options) execute(ctx context.Context, a *api, p *plan, parallel int, secrets *secretsFile, stderr io.Writer) int {
	total := len(p.creates) + len(p.updates) + len(p.deletes)
	bar := o.bar(stderr, total, "applying")
	var mu sync.Mutex
	failed := 0
	report := func(what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		failed++
		if isStatus(err, http.StatusPreconditionFailed) {
			fmt.Fprintf(stderr, "%s: changed on the server since the plan (412); not applied — apply again to plan anew\n", what)
			return
		}
		fmt.Fprintf(stderr, "%s: %v\n", what, err)
	}
	bodies := make([][]byte, len(p.creates))
	for i, c := range p.creates {
		bodies[i] = c.body
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		a.createAll(ctx, bodies, parallel/2+1, func(i int, created json.RawMessage, err error) {
			defer bar()
			if err == nil && secrets != nil {
				err = secrets.add(created)
			}
			if err != nil {
				report(fmt.Sprintf("+ create %q", p.creates[i].name), err)
			}
		})
	}()
	go func() {
		defer wg.Done()
		forEach(ctx, len(p.updates)+len(p.deletes), parallel, func(k int) {
			defer bar()
			if k < len(p.updates) {
				u := p.updates[k]
				body, _ := json.Marshal(u.ops)
				if _, err := a.patch(ctx, u.id, body, u.etag); err != nil {
					report(fmt.Sprintf("~ patch %s %q", u.id, u.name), err)
				}
				return
			}
			d := p.deletes[k-len(p.updates)]
			if err := a.delete(ctx, d.id, d.etag); err != nil {
				report(fmt.Sprintf("- delete %s %q", d.id, d.name), err)
			}
		})
	}()
	wg.Wait()
	return failed
}

// createAll creates the clients of bodies with SPEC §3's bulk create, at
// most bulkClients and bulkBytes a call, and reports each result by index.
// A call is all or none: when one is refused, every body of it reports the
// refusal (whose causes name the element within the call) and none of them
// was created.
func (a *api) createAll(ctx context.Context, bodies [][]byte, parallel int, done func(i int, created json.RawMessage, err error)) {
	batches := batch(bodies, bulkClients, bulkBytes)
	forEach(ctx, len(batches), parallel, func(k int) {
		from, to := batches[k][0], batches[k][1]
		created, err := a.createMany(ctx, bodies[from:to])
		for i := from; i < to; i++ {
			switch {
			case err != nil && i == from:
				done(i, nil, err)
			case err != nil:
				done(i, nil, fmt.Errorf("not created: the call that held it (clients %d–%d) was refused", from+1, to))
			default:
				done(i, created[i-from], nil)
			}
		}
	})
}

// The limits of one bulk create (SPEC §3), the bytes with room for the
// array's commas and brackets.
const (
	bulkClients = 1000
	bulkBytes   = 2<<20 - 2<<10
)

// batch splits bodies into runs [from, to) of at most max bodies and about
// maxBytes (a single body larger than that goes alone).
func batch(bodies [][]byte, max, maxBytes int) [][2]int {
	var out [][2]int
	from, size := 0, 0
	for i, b := range bodies {
		if i > from && (i-from == max || size+len(b)+1 > maxBytes) {
			out = append(out, [2]int{from, i})
			from, size = i, 0
		}
		size += len(b) + 1
	}
	if from < len(bodies) {
		out = append(out, [2]int{from, len(bodies)})
	}
	return out
}

// forEach calls fn(0…n-1), at most parallel at once, and waits for all.
func forEach(ctx context.Context, n, parallel int, fn func(i int)) {
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for i := 0; i < n; i++ {
		g.Go(func() error { fn(i); return nil })
	}
	_ = g.Wait()
}

// bar returns a function that advances a progress bar of n steps on w, or
// does nothing when w is not a terminal (a pipe, a file, a CI log).
func (o *options) bar(w io.Writer, n int, what string) func() {
	if n == 0 || !o.progress(w) {
		return func() {}
	}
	b := progressbar.NewOptions(n, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(true))
	var mu sync.Mutex
	return func() {
		mu.Lock()
		defer mu.Unlock()
		_ = b.Add(1)
	}
}

// secretsFile receives new clients' secrets, appended one record at a time,
// so that a failure part-way loses none of the secrets already created.
type secretsFile struct {
	mu sync.Mutex
	f  *os.File
}

func openSecrets(path string) (*secretsFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--secrets-out: %w", err)
	}
	// An existing file keeps its records but gets the mode of a secret.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("--secrets-out: %w", err)
	}
	return &secretsFile{f: f}, nil
}

type secretRecord struct {
	ID     string `yaml:"id"`
	Name   string `yaml:"name"`
	Secret string `yaml:"secret"`
}

func (s *secretsFile) add(created json.RawMessage) error {
	var c struct {
		ID     string  `json:"id"`
		Name   string  `json:"name"`
		Secret *string `json:"secret"`
	}
	if err := json.Unmarshal(created, &c); err != nil {
		return err
	}
	if c.Secret == nil {
		return nil
	}
	out, err := yaml.Marshal([]secretRecord{{ID: c.ID, Name: c.Name, Secret: *c.Secret}})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.Write(out); err != nil {
		return fmt.Errorf("--secrets-out: client %s was created but its secret not written: %w", c.ID, err)
	}
	return nil
}

func (s *secretsFile) close() error {
	if err := s.f.Sync(); err != nil {
		s.f.Close()
		return err
	}
	return s.f.Close()
}
