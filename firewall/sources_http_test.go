//go:build linux

package firewall

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
)

const srcGitHubMeta = `{
  "verifiable_password_authentication": false,
  "ssh_key_fingerprints": {"SHA256_ED25519": "x"},
  "hooks": ["192.30.252.0/22"],
  "web": ["140.82.112.0/20", "143.55.64.0/20", "2a0a:a440::/29", "140.82.112.0/20"],
  "api": ["140.82.112.0/21", "2606:50c0::/32"],
  "git": ["140.82.112.0/20", "192.30.252.0/22"],
  "packages": []
}`

const srcAWSRanges = `{
  "syncToken": "1", "createDate": "2026-01-01-00-00-00",
  "prefixes": [
    {"ip_prefix": "3.5.140.0/22", "region": "ap-northeast-2", "service": "S3", "network_border_group": "ap-northeast-2"},
    {"ip_prefix": "52.216.0.0/15", "region": "us-east-1", "service": "S3", "network_border_group": "us-east-1"},
    {"ip_prefix": "13.34.37.64/27", "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"}
  ],
  "ipv6_prefixes": [
    {"ipv6_prefix": "2600:1fa0:4000::/39", "region": "us-east-1", "service": "S3", "network_border_group": "us-east-1"},
    {"ipv6_prefix": "2a05:d07a:a000::/40", "region": "eu-south-1", "service": "S3", "network_border_group": "eu-south-1"}
  ]
}`

// srcServer is an httptest server whose answers a test scripts: each
// request takes the next srcResponse (the last one repeats).
type srcServer struct {
	*httptest.Server
	mu        sync.Mutex
	responses []srcResponse
	requests  []*http.Request
}

type srcResponse struct {
	status int
	body   string
	delay  time.Duration
	etag   string // sent, and a matching If-None-Match gets 304
}

func newSrcServer(t *testing.T, responses ...srcResponse) *srcServer {
	t.Helper()
	m := &srcServer{responses: responses}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.requests = append(m.requests, r)
		resp := m.responses[min(len(m.requests), len(m.responses))-1]
		m.mu.Unlock()
		if resp.delay > 0 {
			select {
			case <-time.After(resp.delay):
			case <-r.Context().Done():
				return
			}
		}
		if resp.etag != "" {
			w.Header().Set("ETag", resp.etag)
			if r.Header.Get("If-None-Match") == resp.etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		w.WriteHeader(resp.status)
		w.Write([]byte(resp.body)) //nolint:errcheck // test server
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *srcServer) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.requests)
}

func (m *srcServer) lastRequest() *http.Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests[len(m.requests)-1]
}

// srcHTTPOptions are fast options for tests; no DNS is configured.
func srcHTTPOptions() GatherOptions {
	return GatherOptions{
		ResolvConf:   "/nonexistent/resolv.conf", // never the host's resolver
		HTTPClient:   &http.Client{Timeout: 300 * time.Millisecond},
		HTTPAttempts: 3,
		RetryBackoff: 5 * time.Millisecond,
	}
}

func srcGitHubConfig(t *testing.T, url string) *allowlist.Config {
	return &allowlist.Config{
		GitHub:   &allowlist.GitHubConfig{URL: url, Keys: []string{"web", "api", "git"}, TokenFile: filepath.Join(t.TempDir(), "github-token")},
		CacheDir: filepath.Join(t.TempDir(), "cache"),
	}
}

func TestGatherGitHub(t *testing.T) {
	srv := newSrcServer(t, srcResponse{status: 200, body: srcGitHubMeta})
	cfg := srcGitHubConfig(t, srv.URL+"/meta")
	list, warnings, err := Gather(context.Background(), cfg, srcHTTPOptions())
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Gather: %v, warnings %v", err, warnings)
	}
	// Overlaps and duplicates merge; hooks (not selected) is left out.
	if want := srcPrefixes("140.82.112.0/20", "143.55.64.0/20", "192.30.252.0/22"); !slices.Equal(list.V4, want) {
		t.Errorf("V4 = %v, want %v", list.V4, want)
	}
	if want := srcPrefixes("2606:50c0::/32", "2a0a:a440::/29"); !slices.Equal(list.V6, want) {
		t.Errorf("V6 = %v, want %v", list.V6, want)
	}
	if got := list.Sources[1]; got.Name != "github" || got.Prefixes != 8 || got.Cached || got.Error != "" {
		t.Errorf("source = %+v", got)
	}
	r := srv.lastRequest()
	if r.Header.Get("Authorization") != "" {
		t.Errorf("Authorization sent without a token file: %q", r.Header.Get("Authorization"))
	}
	if r.URL.Path != "/meta" || r.Header.Get("Accept") != "application/vnd.github+json" {
		t.Errorf("request %s Accept %q", r.URL.Path, r.Header.Get("Accept"))
	}

	// The answer was cached, root-only.
	entries, err := os.ReadDir(cfg.CacheDir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("cache dir: %v, %v", entries, err)
	}
	for path, mode := range map[string]os.FileMode{cfg.CacheDir: 0o700, filepath.Join(cfg.CacheDir, entries[0].Name()): 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, %v; want %v", path, fi.Mode().Perm(), err, mode)
		}
	}
}

func TestGatherGitHubToken(t *testing.T) {
	srv := newSrcServer(t, srcResponse{status: 200, body: srcGitHubMeta})
	cfg := srcGitHubConfig(t, srv.URL)
	t.Setenv("GITHUB_TOKEN", "from-env") // must never be used
	if err := os.WriteFile(cfg.GitHub.TokenFile, []byte("ghp_secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Gather(context.Background(), cfg, srcHTTPOptions()); err != nil {
		t.Fatal(err)
	}
	if got := srv.lastRequest().Header.Get("Authorization"); got != "Bearer ghp_secret" {
		t.Errorf("Authorization = %q, want the token from the file", got)
	}

	if err := os.Chmod(cfg.GitHub.TokenFile, 0o644); err != nil {
		t.Fatal(err)
	}
	_, warnings, err := Gather(context.Background(), cfg, srcHTTPOptions())
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0].Message, "readable by others") {
		t.Errorf("token file readable by others: %v, warnings %v", err, warnings)
	}
	if got := srv.lastRequest().Header.Get("Authorization"); got != "Bearer ghp_secret" {
		t.Errorf("Authorization = %q, want the token from the file", got)
	}

	if err := os.WriteFile(cfg.GitHub.TokenFile, []byte("two\nlines"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, warnings, err = Gather(context.Background(), cfg, srcHTTPOptions())
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0].Message, "token not used") {
		t.Errorf("bad token file: %v, warnings %v", err, warnings)
	}
	if got := srv.lastRequest().Header.Get("Authorization"); got != "" {
		t.Errorf("Authorization = %q with a bad token file", got)
	}
}

func TestGatherGitHubFailures(t *testing.T) {
	tests := []struct {
		name      string
		responses []srcResponse
		requests  int    // how many the server should see
		want      string // in the error
	}{
		{"server error", []srcResponse{{status: 500, body: "oops"}}, 3, "HTTP status 500 Internal Server Error (after 3 attempts)"},
		{"rate limited", []srcResponse{{status: 429}}, 3, "HTTP status 429"},
		{"not found is not retried", []srcResponse{{status: 404}}, 1, "HTTP status 404"},
		{"slow", []srcResponse{{status: 200, body: srcGitHubMeta, delay: 2 * time.Second}}, 3, "Timeout"},
		{"garbage", []srcResponse{{status: 200, body: "<html>captive portal</html>"}}, 1, "parse answer: not the expected JSON"},
		{"null", []srcResponse{{status: 200, body: "null"}}, 1, "want an object, got null"},
		{"trailing data", []srcResponse{{status: 200, body: srcGitHubMeta + "{}"}}, 1, "data after the document"},
		{"missing key", []srcResponse{{status: 200, body: `{"web": []}`}}, 1, `key "api" missing (have: web)`},
		{"wrong shape", []srcResponse{{status: 200, body: `{"web": "140.82.112.0/20", "api": [], "git": []}`}}, 1, `key "web": want a list of CIDR strings`},
		{"bad entry", []srcResponse{{status: 200, body: `{"web": ["140.82.112.0/20", "nope"], "api": [], "git": []}`}}, 1, `web[1] "nope": not an IP address or CIDR prefix`},
		{"catch-all v4", []srcResponse{{status: 200, body: `{"web": ["0.0.0.0/0"], "api": [], "git": []}`}}, 1, `web[0] "0.0.0.0/0": prefix shorter than /8 is a catch-all`},
		{"catch-all v6", []srcResponse{{status: 200, body: `{"web": [], "api": ["::/0"], "git": []}`}}, 1, `api[0] "::/0": prefix shorter than /16 is a catch-all`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSrcServer(t, tt.responses...)
			cfg := srcGitHubConfig(t, srv.URL)
			cfg.CIDRs = []string{"203.0.113.0/24"}
			list, _, err := Gather(context.Background(), cfg, srcHTTPOptions())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Gather error = %v, want it to contain %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), "gather github from "+srv.URL+": ") || !strings.Contains(err.Error(), "(no cached answer)") {
				t.Errorf("error does not say what was attempted: %v", err)
			}
			if got := srv.count(); got != tt.requests {
				t.Errorf("server saw %d requests, want %d", got, tt.requests)
			}
			// Nothing from the failed source; the rest is kept.
			if want := srcPrefixes("203.0.113.0/24"); !slices.Equal(list.V4, want) || len(list.V6) != 0 {
				t.Errorf("list = %v %v, want only %v", list.V4, list.V6, want)
			}
		})
	}
}

func TestGatherGitHubRetry(t *testing.T) {
	srv := newSrcServer(t, srcResponse{status: 500}, srcResponse{status: 502}, srcResponse{status: 200, body: srcGitHubMeta})
	list, warnings, err := Gather(context.Background(), srcGitHubConfig(t, srv.URL), srcHTTPOptions())
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Gather: %v, warnings %v", err, warnings)
	}
	if srv.count() != 3 || len(list.V4) != 3 {
		t.Errorf("requests %d, V4 %v", srv.count(), list.V4)
	}
}

func TestGatherGitHubDownUsesCache(t *testing.T) {
	srv := newSrcServer(t, srcResponse{status: 200, body: srcGitHubMeta})
	cfg := srcGitHubConfig(t, srv.URL)
	first, _, err := Gather(context.Background(), cfg, srcHTTPOptions())
	if err != nil {
		t.Fatal(err)
	}

	for _, step := range []struct {
		name        string
		breakServer func()
	}{
		{"garbage", func() {
			srv.mu.Lock()
			srv.responses = []srcResponse{{status: 200, body: "garbage"}}
			srv.mu.Unlock()
		}},
		{"down", srv.Close},
	} {
		name, breakServer := step.name, step.breakServer
		t.Run(name, func(t *testing.T) {
			breakServer()
			list, warnings, err := Gather(context.Background(), cfg, srcHTTPOptions())
			if err != nil {
				t.Fatalf("Gather with a cache: %v", err)
			}
			if !slices.Equal(list.V4, first.V4) || !slices.Equal(list.V6, first.V6) {
				t.Errorf("cached list %v %v, want %v %v", list.V4, list.V6, first.V4, first.V6)
			}
			if !list.Sources[1].Cached {
				t.Errorf("source not marked cached: %+v", list.Sources[1])
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0].Message, "using the cached answer from") ||
				!strings.Contains(warnings[0].Message, "gather github from "+srv.URL) {
				t.Errorf("warnings = %v", warnings)
			}
		})
	}

	t.Run("cache of another URL is not used", func(t *testing.T) {
		other := *cfg.GitHub
		other.URL = srv.URL + "/other"
		cfg2 := *cfg
		cfg2.GitHub = &other
		if _, _, err := Gather(context.Background(), &cfg2, srcHTTPOptions()); err == nil || !strings.Contains(err.Error(), "no cached answer") {
			t.Errorf("Gather = %v", err)
		}
	})
	t.Run("cache writable by others is refused", func(t *testing.T) {
		if err := os.Chmod(cfg.CacheDir, 0o777); err != nil {
			t.Fatal(err)
		}
		_, _, err := Gather(context.Background(), cfg, srcHTTPOptions())
		if err == nil || !strings.Contains(err.Error(), "cached answer unusable") || !strings.Contains(err.Error(), "writable by group or others") {
			t.Errorf("Gather = %v", err)
		}
	})
}

func TestGatherGitHubETag(t *testing.T) {
	const etag = `W/"abc"`
	srv := newSrcServer(t, srcResponse{status: 200, body: srcGitHubMeta, etag: etag})
	cfg := srcGitHubConfig(t, srv.URL)
	first, _, err := Gather(context.Background(), cfg, srcHTTPOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.lastRequest().Header.Get("If-None-Match"); got != "" {
		t.Errorf("first request sent If-None-Match %q", got)
	}

	// Unchanged: the server answers 304 and the cached copy is used, fresh.
	list, warnings, err := Gather(context.Background(), cfg, srcHTTPOptions())
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Gather: %v, warnings %v", err, warnings)
	}
	if got := srv.lastRequest().Header.Get("If-None-Match"); got != etag {
		t.Errorf("If-None-Match = %q, want %q", got, etag)
	}
	if !slices.Equal(list.V4, first.V4) || !slices.Equal(list.V6, first.V6) || list.Sources[1].Cached {
		t.Errorf("after 304: %v %v %+v", list.V4, list.V6, list.Sources[1])
	}

	// A cached copy that went bad is fetched again in full.
	entries, _ := filepath.Glob(filepath.Join(cfg.CacheDir, "github-*.json"))
	if len(entries) != 1 {
		t.Fatalf("cache files %v", entries)
	}
	if err := os.WriteFile(entries[0], []byte("broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := srv.count()
	list, warnings, err = Gather(context.Background(), cfg, srcHTTPOptions())
	if err != nil || len(warnings) != 0 || !slices.Equal(list.V4, first.V4) {
		t.Fatalf("Gather with a broken cache: %v, warnings %v, V4 %v", err, warnings, list.V4)
	}
	if srv.count() != n+2 || srv.lastRequest().Header.Get("If-None-Match") != "" {
		t.Errorf("requests %d (want %d), last If-None-Match %q", srv.count(), n+2, srv.lastRequest().Header.Get("If-None-Match"))
	}
}

func TestGatherCacheWriteFailureIsAWarning(t *testing.T) {
	srv := newSrcServer(t, srcResponse{status: 200, body: srcGitHubMeta})
	cfg := srcGitHubConfig(t, srv.URL)
	cfg.CacheDir = filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(cfg.CacheDir, nil, 0o600); err != nil { // a file where the dir should be
		t.Fatal(err)
	}
	list, warnings, err := Gather(context.Background(), cfg, srcHTTPOptions())
	if err != nil || len(list.V4) != 3 {
		t.Fatalf("Gather: %v, %v", err, list)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0].Message, "cache answer") {
		t.Errorf("warnings = %v", warnings)
	}
}

func TestGatherAWS(t *testing.T) {
	tests := []struct {
		name              string
		services, regions []string
		wantV4, wantV6    []netip.Prefix
		wantErr           string
	}{
		{name: "all", wantV4: srcPrefixes("3.5.140.0/22", "13.34.37.64/27", "52.216.0.0/15"), wantV6: srcPrefixes("2600:1fa0:4000::/39", "2a05:d07a:a000::/40")},
		{name: "S3 us-east-1", services: []string{"s3"}, regions: []string{"us-east-1"}, wantV4: srcPrefixes("52.216.0.0/15"), wantV6: srcPrefixes("2600:1fa0:4000::/39")},
		{name: "EC2", services: []string{"EC2"}, wantV4: srcPrefixes("13.34.37.64/27")},
		{name: "nothing matches", services: []string{"S4"}, wantErr: `no prefix matches services ["S4"]`},
	}
	srv := newSrcServer(t, srcResponse{status: 200, body: srcAWSRanges})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &allowlist.Config{AWS: &allowlist.AWSConfig{URL: srv.URL, Services: tt.services, Regions: tt.regions}, CacheDir: t.TempDir()}
			list, _, err := Gather(context.Background(), cfg, srcHTTPOptions())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Gather error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(list.V4, tt.wantV4) || !slices.Equal(list.V6, tt.wantV6) {
				t.Errorf("got %v %v, want %v %v", list.V4, list.V6, tt.wantV4, tt.wantV6)
			}
		})
	}
}

func TestParseAWSRangesErrors(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{}`, `want "prefixes" and "ipv6_prefixes" lists`},
		{`{"prefixes": {}, "ipv6_prefixes": []}`, "not the expected JSON"},
		{`{"prefixes": [{"ip_prefix": "3.5.140.0/22"}], "ipv6_prefixes": []}`, "prefixes[0]: want prefix, region and service strings"},
		{`{"prefixes": [{"ip_prefix": "0.0.0.0/0", "region": "x", "service": "y"}], "ipv6_prefixes": []}`, "catch-all"},
		{`{"prefixes": [{"ip_prefix": "2600::/16", "region": "x", "service": "y"}], "ipv6_prefixes": []}`, "wrong address family"},
		{`[]`, "not the expected JSON"},
	}
	for _, tt := range tests {
		if _, err := parseAWSRanges([]byte(tt.body), nil, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseAWSRanges(%s) = %v, want %q", tt.body, err, tt.want)
		}
	}
}

func TestGatherAllSourcesPartial(t *testing.T) {
	// DNS works, GitHub fails, AWS works: the error names GitHub only, and
	// the list holds everything else.
	_, opts := srcTestDNS(t, srcRecords)
	gh := newSrcServer(t, srcResponse{status: 503})
	aws := newSrcServer(t, srcResponse{status: 200, body: srcAWSRanges})
	opts.HTTPClient, opts.HTTPAttempts, opts.RetryBackoff = &http.Client{Timeout: time.Second}, 2, time.Millisecond
	cfg := srcGitHubConfig(t, gh.URL)
	cfg.Domains = []string{"api.test"}
	cfg.CIDRs = []string{"10.0.0.0/8", "11.0.0.0/8"}
	cfg.AWS = &allowlist.AWSConfig{URL: aws.URL, Services: []string{"S3"}, Regions: []string{"eu-south-1"}}
	list, _, err := Gather(context.Background(), cfg, opts)
	if err == nil || !strings.Contains(err.Error(), "gather github from") || strings.Contains(err.Error(), "aws") {
		t.Errorf("Gather error = %v", err)
	}
	// 10/8 and 11/8 are adjacent but never merged into a /7.
	if want := srcPrefixes("10.0.0.0/8", "11.0.0.0/8"); !slices.Equal(list.V4, want) {
		t.Errorf("V4 = %v, want %v", list.V4, want)
	}
	if want := srcPrefixes("2a05:d07a:a000::/40"); !slices.Equal(list.V6, want) {
		t.Errorf("V6 = %v, want %v", list.V6, want)
	}
	var names []string
	for _, s := range list.Sources {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"cidrs", "dns", "github", "aws"}) {
		t.Errorf("sources %v", names)
	}
}

func TestSplitTo(t *testing.T) {
	got := splitTo(netip.MustParsePrefix("10.0.0.0/6"), 8)
	if want := srcPrefixes("8.0.0.0/8", "9.0.0.0/8", "10.0.0.0/8", "11.0.0.0/8"); !slices.Equal(got, want) {
		t.Errorf("splitTo = %v, want %v", got, want)
	}
	if got := splitTo(netip.MustParsePrefix("0.0.0.0/0"), 8); len(got) != 256 || got[255] != netip.MustParsePrefix("255.0.0.0/8") {
		t.Errorf("splitTo(0/0) = %d prefixes", len(got))
	}
	if got := splitTo(netip.MustParsePrefix("2001:db8::/32"), 16); len(got) != 1 {
		t.Errorf("splitTo kept-as-is = %v", got)
	}
}
