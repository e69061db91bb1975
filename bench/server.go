package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/clientele/clientele/authserver"
	"github.com/clientele/clientele/db"
	"github.com/clientele/clientele/models"
)

// seed stores n clients directly through the store, before the server
// starts: names bench-000000 …, every one able to get tokens.
// The second, when jwks is given, authenticates by private_key_jwt with it.
func seed(dbURL string, n int, jwks []byte) ([]string, error) {
	ctx := context.Background()
	s, err := db.Open(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	ids := make([]string, n)
	secret := models.Secret{ID: "5eed", Hash: authserver.HashSecret(seededSecret), Created: time.Now().UTC()}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	workers := 1
	if s.Dialect() == db.Postgres {
		workers = 8
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c := models.NewClient()
				c.ID = fmt.Sprintf("%032x", i+1)
				c.Name = fmt.Sprintf("bench-%06d", i)
				c.GrantTypes = []models.GrantType{models.GrantClientCredentials}
				c.Scope = []string{models.ScopeRead}
				c.Secrets = []models.Secret{secret}
				if i == 1 && jwks != nil {
					c.TokenEndpointAuthMethods = []models.AuthMethod{models.AuthPrivateKeyJWT}
					c.JWKS = models.KeySet(jwks)
				}
				if _, err := s.CreateClient(ctx, c, models.WriteOptions{}); err != nil {
					errs <- err
					return
				}
				ids[i] = c.ID
			}
		}()
	}
	wg.Wait()
	close(errs)
	return ids, <-errs
}

type server struct {
	cmd  *exec.Cmd
	base string
	done chan error
}

// start starts bin on a free loopback port with the store dbURL; extra are
// more flags.
func start(bin, dbURL, pprofAddr string, extra ...string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	args := []string{"--addr", addr, "--db", dbURL, "--log-level", "warn"}
	if pprofAddr != "" {
		args = append(args, "--pprof-addr", pprofAddr)
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "CLIENTELE_RATE_LIMIT=0",
		"CLIENTELE_ADMIN_CLIENT_ID="+adminID, "CLIENTELE_ADMIN_CLIENT_SECRET="+adminSecret)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, base: "http://" + addr, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(s.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("server exited: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.stop()
	return nil, errors.New("server not ready within 60 s")
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// peakRSS is the server's resident high-water mark in MiB.
func (s *server) peakRSS() float64 { return s.status("VmHWM:") }

// status is a field of the server's /proc status in KiB, as MiB.
func (s *server) status(field string) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 2 && fields[0] == field {
			kb, _ := strconv.Atoi(fields[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

func token(base, id, secret string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	resp, err := http.PostForm(base+"/oauth/token", form)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil || resp.StatusCode != 200 {
		return "", fmt.Errorf("token: status %d: %v", resp.StatusCode, err)
	}
	return t.AccessToken, nil
}
