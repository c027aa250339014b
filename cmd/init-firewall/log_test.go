//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devbox-sandbox/devbox/firewall/audit"
	"github.com/devbox-sandbox/devbox/internal/contract"
)

func TestLogCommand(t *testing.T) {
	dir := t.TempDir()
	w, err := audit.OpenWriter(filepath.Join(dir, filepath.Base(contract.AuditLog)), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, r := range []audit.Record{
		{Time: now.Add(-2 * time.Hour), Kind: audit.KindDNS, Name: "old.example", Allowed: false},
		{Time: now.Add(-time.Minute), Kind: audit.KindDNS, Name: "ok.example", Allowed: true},
		{Time: now.Add(-time.Minute), Kind: audit.KindDNS, Name: "evil\x1b[2J\u202e.example", Allowed: false},
	} {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	for _, c := range []struct {
		args  []string
		code  int
		names string
	}{
		{nil, 0, "old.example ok.example evil\x1b[2J\u202e.example"},
		{[]string{"--blocked", "--since", "1h"}, 0, "evil\x1b[2J\u202e.example"},
		{[]string{"--since", "soon"}, 2, ""},
		{[]string{"extra"}, 2, ""},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), append([]string{"log", "--dir", dir}, c.args...), false, &stdout, &stderr)
		if code != c.code {
			t.Errorf("%q: exit %d, want %d: %s", c.args, code, c.code, stderr.String())
			continue
		}
		var names []string
		if err := audit.Decode(&stdout, func(r audit.Record) error { names = append(names, r.Name); return nil }); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(names, " "); got != c.names {
			t.Errorf("%q: %q, want %q", c.args, got, c.names)
		}
		for _, b := range stdout.Bytes() {
			if b >= 0x7f || b < 0x20 && b != '\n' {
				t.Errorf("%q: byte %#x printed raw", c.args, b)
				break
			}
		}
	}
}

// closedOutput fails every write, as the exec's stream does once the host
// stopped reading.
type closedOutput struct{}

func (closedOutput) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestLogFollowEndsWhenNoOneReads(t *testing.T) {
	defer func(d time.Duration) { keepalive = d }(keepalive)
	keepalive = 20 * time.Millisecond
	done := make(chan int, 1)
	go func() {
		done <- Main(context.Background(), []string{"log", "--follow", "--dir", t.TempDir()}, false, closedOutput{}, &bytes.Buffer{})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("log --follow still runs 5s after its output broke")
	}
}
