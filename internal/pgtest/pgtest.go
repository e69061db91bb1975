// Package pgtest gives tests a real, throwaway PostgreSQL: a server started
// once per test binary from the PostgreSQL binaries on the machine, and a
// fresh database per test. Without the binaries the tests skip, loudly; with
// CLIENTELE_REQUIRE_POSTGRES=1 (as CI sets) they fail instead.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables.
const (
	// EnvURL names an existing server (a URL of any database on it) to use
	// instead of starting one.
	EnvURL = "CLIENTELE_TEST_POSTGRES_URL"
	// EnvRequire makes a missing PostgreSQL a failure instead of a skip.
	EnvRequire = "CLIENTELE_REQUIRE_POSTGRES"
)

var errNoPostgres = errors.New("PostgreSQL server binaries not found (initdb and postgres in PATH or /usr/lib/postgresql/*/bin)")

// Server is one throwaway PostgreSQL server.
type Server struct {
	dir  string
	bin  string
	port int
	cred *syscall.Credential

	mu  sync.Mutex
	cmd *exec.Cmd
}

var (
	shared     *Server
	sharedErr  error
	sharedOnce sync.Once
)

// URL returns the URL of a new, empty database for t: on the server named
// by CLIENTELE_TEST_POSTGRES_URL, or on a throwaway server started once per
// test binary. It skips t when PostgreSQL is not available.
func URL(t testing.TB) string {
	t.Helper()
	if base := os.Getenv(EnvURL); base != "" {
		return newDatabase(t, base)
	}
	sharedOnce.Do(func() { shared, sharedErr = start() })
	if sharedErr != nil {
		unavailable(t, sharedErr)
	}
	return newDatabase(t, shared.BaseURL())
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("PostgreSQL is required (%s=1) but not available: %v", EnvRequire, err)
	}
	if errors.Is(err, errNoPostgres) {
		t.Skipf("SKIPPING PostgreSQL test: %v", err)
	}
	t.Fatalf("starting PostgreSQL: %v", err)
}

// New starts a dedicated server for t, stopped when t ends. Use it when a
// test stops and starts the server.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := start()
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(func() { s.Stop(); os.RemoveAll(s.dir) })
	return s
}

// Start starts a throwaway server outside a test (for the load benchmark);
// the caller stops it with Stop and removes it with Remove.
func Start() (*Server, error) { return start() }

// Remove deletes the server's files; call it after Stop.
func (s *Server) Remove() { os.RemoveAll(s.dir) }

// NewDatabase creates a new, empty database on s and returns its URL.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	return createDatabase(ctx, s.BaseURL())
}

// Stop shuts the shared server down; call it from TestMain after m.Run.
func Stop() {
	if shared != nil {
		shared.Stop()
		os.RemoveAll(shared.dir)
	}
}

// BaseURL is the URL of the server's postgres database.
func (s *Server) BaseURL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// URL creates a new database on s for t.
func (s *Server) URL(t testing.TB) string { return newDatabase(t, s.BaseURL()) }

func findBinaries() (string, error) {
	if p, err := exec.LookPath("postgres"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(resolve(p)), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errNoPostgres
}

func resolve(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func start() (*Server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "clientele-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, bin: bin}
	// PostgreSQL refuses to run as root: run it as the postgres user.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("%w: running as root needs a postgres user: %v", errNoPostgres, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"),
		"-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	if s.port, err = freePort(); err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// Start (re)starts the server process and waits until it accepts
// connections. The server dies with the test binary.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", filepath.Join(s.dir, "data"),
		"-p", strconv.Itoa(s.port), "-k", s.dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=32MB")
	logFile, err := os.Create(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	s.cmd = cmd
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.BaseURL())
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	return fmt.Errorf("postgres did not start: %s", strings.TrimSpace(string(log)))
}

// Stop shuts the server process down (fast shutdown) and waits for it.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	s.cmd = nil
}

func newDatabase(t testing.TB, base string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := createDatabase(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func createDatabase(ctx context.Context, base string) (string, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("creating database: %w", err)
	}
	i := strings.LastIndex(base, "/")
	q := ""
	if j := strings.Index(base[i:], "?"); j >= 0 {
		q = base[i+j:]
	}
	return base[:i] + "/" + name + q, nil
}
