//go:build linux

package firewall

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
	"github.com/devbox-sandbox/devbox/internal/testnet"
)

// BenchmarkGather measures the gathering part of an init-firewall run: 20
// domains from a local DNS server and a 1,000-prefix GitHub meta from a
// local HTTP server (fresh each time, then answered 304 from the cache).
func BenchmarkGather(b *testing.B) {
	records := map[string][]string{}
	var domains []string
	for i := range 20 {
		name := fmt.Sprintf("d%d.bench.test", i)
		records[name] = []string{fmt.Sprintf("198.51.100.%d", 4*i+1), fmt.Sprintf("2001:db8::%x", i+1)}
		domains = append(domains, name)
	}
	dns, err := testnet.NewDNSServer("127.0.0.1:0", records)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dns.Close() })

	var web []string
	for i := range 1000 {
		web = append(web, fmt.Sprintf("198.18.%d.%d/32", i/100, 2*(i%100)))
	}
	meta, _ := json.Marshal(map[string][]string{"web": web})

	for _, etag := range []string{"", `"v1"`} {
		name := "fresh"
		if etag != "" {
			name = "not-modified"
		}
		b.Run(name, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if etag != "" {
					w.Header().Set("ETag", etag)
					if r.Header.Get("If-None-Match") == etag {
						w.WriteHeader(http.StatusNotModified)
						return
					}
				}
				w.Write(meta) //nolint:errcheck // bench server
			}))
			b.Cleanup(srv.Close)
			conf := filepath.Join(b.TempDir(), "resolv.conf")
			if err := writeTestFile(conf, "nameserver 127.0.0.1\n"); err != nil {
				b.Fatal(err)
			}
			cfg := &allowlist.Config{
				Domains:  domains,
				GitHub:   &allowlist.GitHubConfig{URL: srv.URL, Keys: []string{"web"}},
				CacheDir: b.TempDir(),
			}
			opts := GatherOptions{ResolvConf: conf, DNSPort: dns.Port(), DNSTimeout: time.Second}
			b.ReportAllocs()
			for b.Loop() {
				list, _, err := Gather(context.Background(), cfg, opts)
				if err != nil || len(list.V4) != 1020 {
					b.Fatalf("Gather: %v, %d v4 prefixes", err, len(list.V4))
				}
			}
		})
	}
}

func writeTestFile(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o644)
}
