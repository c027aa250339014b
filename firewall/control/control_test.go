package control

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadRequest(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Request
		err      string
	}{
		{"reload", `{"verb":"reload"}` + "\n", Request{Verb: "reload"}, ""},
		{"no newline", `{"verb":"check","args":["a.example.com:443"]}`, Request{Verb: "check", Args: []string{"a.example.com:443"}}, ""},
		{"too long", `{"verb":"` + strings.Repeat("x", MaxRequest) + `"}` + "\n", Request{}, "longer than"},
		{"too long, no newline", strings.Repeat("x", MaxRequest+10), Request{}, "longer than"},
		{"not JSON", "reload\n", Request{}, "read request"},
		{"empty", "", Request{}, "read request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadRequest(strings.NewReader(tc.in))
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want %q", err, tc.err)
			case tc.err == "" && err != nil:
				t.Errorf("error %v", err)
			case tc.err == "" && (got.Verb != tc.want.Verb || strings.Join(got.Args, " ") != strings.Join(tc.want.Args, " ")):
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseAuditDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30m": 30 * time.Minute, "24h": 24 * time.Hour, "1s": time.Second, "off": 0} {
		if got, err := ParseAuditDuration(in); err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"24h1s", "0s", "500ms", "-5m", "forever", "", "OFF"} {
		if _, err := ParseAuditDuration(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// TestCall exchanges one request with a server on a socket, and gives up
// on one that never answers within the bound.
func TestCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			req, err := ReadRequest(c)
			resp := Response{OK: err == nil, Message: req.Verb + " " + strings.Join(req.Args, ",")}
			_ = json.NewEncoder(c).Encode(resp)
			c.Close()
		}
	}()
	resp, err := Call(context.Background(), path, Request{Verb: VerbAudit, Args: []string{"30m"}})
	if err != nil || !resp.OK || resp.Message != "audit 30m" {
		t.Fatalf("call: %+v, %v", resp, err)
	}
	if _, err := Call(context.Background(), filepath.Join(t.TempDir(), "none.sock"), Request{Verb: VerbState}); err == nil {
		t.Error("a missing socket answered")
	}
	if _, err := Call(context.Background(), path, Request{Verb: strings.Repeat("x", MaxRequest)}); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("an oversized request: %v", err)
	}
	silent := filepath.Join(t.TempDir(), "silent.sock")
	ln2, err := net.Listen("unix", silent)
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	go func() {
		c, err := ln2.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(2 * time.Second)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Call(ctx, silent, Request{Verb: VerbState}); err == nil || time.Since(start) > time.Second {
		t.Errorf("a silent server: %v after %v", err, time.Since(start))
	}
}
