//go:build linux

package firewall

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/devbox-sandbox/devbox/firewall/allowlist"
	"github.com/devbox-sandbox/devbox/internal/atomicfile"
)

// maxDocumentSize bounds a fetched document (AWS's ip-ranges.json is ~2 MB).
const maxDocumentSize = 32 << 20

// defaultHTTPClient bounds every phase of a fetch and ignores proxy
// variables: init-firewall's environment must not steer where it connects.
func defaultHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:           markedDialer().DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
			ForceAttemptHTTP2:     true,
		},
	}
}

// fetcher gets a document over HTTP with retries and keeps the last good
// copy in a root-only cache directory, used (with a warning) when a fetch
// fails. GitHub meta and AWS ranges both go through it.
type fetcher struct {
	client   *http.Client
	attempts int
	backoff  time.Duration
	cacheDir string
}

// fetchResult is the prefixes of a document and how they were obtained.
type fetchResult struct {
	prefixes []netip.Prefix
	cached   bool
	warnings []Warning
}

// permanentError is a fetch failure that retrying will not fix.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// document is one answer of a server.
type document struct {
	body        []byte
	etag        string
	notModified bool // 304 to an If-None-Match: the cached copy is current
}

// fetch GETs url (with header), parses the body with parse, and caches the
// raw body and its ETag when it parses; the next fetch sends that ETag, so an
// unchanged document costs a 304 (which GitHub does not count against its
// rate limit for authenticated requests). When every attempt fails it parses
// the cached copy instead and says so in a warning; with no usable cache it
// fails.
func (f *fetcher) fetch(ctx context.Context, source, url string, header http.Header, parse func([]byte) ([]netip.Prefix, error)) (fetchResult, error) {
	cachePath := filepath.Join(f.cacheDir, source+"-"+urlHash(url)+".json")
	cached, modTime, cacheErr := readCache(cachePath)
	header = header.Clone()
	if cacheErr == nil {
		if etag := readETag(cachePath + ".etag"); etag != "" {
			header.Set("If-None-Match", etag)
		}
	}

	var res fetchResult
	doc, err := f.get(ctx, url, header)
	if err == nil && doc.notModified {
		if prefixes, perr := parse(cached); perr == nil {
			now := time.Now()
			os.Chtimes(cachePath, now, now) //nolint:errcheck // only dates the cache for warnings
			res.prefixes = prefixes
			return res, nil
		}
		header.Del("If-None-Match") // the cached copy went bad: ask for all of it
		doc, err = f.get(ctx, url, header)
	}
	if err == nil {
		var prefixes []netip.Prefix
		if prefixes, err = parse(doc.body); err == nil {
			res.prefixes = prefixes
			if werr := writeCache(f.cacheDir, cachePath, doc); werr != nil {
				res.warnings = append(res.warnings, Warning{Source: source, Message: werr.Error()})
			}
			return res, nil
		}
		err = fmt.Errorf("parse answer: %w", err)
	}
	fetchErr := fmt.Errorf("gather %s from %s: %w", source, url, err)

	if cacheErr != nil {
		if errors.Is(cacheErr, os.ErrNotExist) {
			return res, fmt.Errorf("%w (no cached answer)", fetchErr)
		}
		return res, fmt.Errorf("%w; cached answer unusable: %v", fetchErr, cacheErr)
	}
	prefixes, perr := parse(cached)
	if perr != nil {
		return res, fmt.Errorf("%w; cached answer %s unusable: %v", fetchErr, cachePath, perr)
	}
	res.prefixes, res.cached = prefixes, true
	res.warnings = append(res.warnings, Warning{Source: source, Message: fmt.Sprintf(
		"%v; using the cached answer from %s", fetchErr, modTime.UTC().Format(time.RFC3339))})
	return res, nil
}

// get fetches url, retrying network errors, 5xx and 429 with exponential
// back-off.
func (f *fetcher) get(ctx context.Context, url string, header http.Header) (document, error) {
	delay := f.backoff
	for attempt := 1; ; attempt++ {
		doc, err := f.getOnce(ctx, url, header)
		if err == nil {
			return doc, nil
		}
		var perm permanentError
		if errors.As(err, &perm) || attempt >= f.attempts || ctx.Err() != nil {
			if attempt > 1 {
				return document{}, fmt.Errorf("%w (after %d attempts)", err, attempt)
			}
			return document{}, err
		}
		select {
		case <-ctx.Done():
			return document{}, fmt.Errorf("%w (gave up waiting to retry: %v)", err, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 8*f.backoff)
	}
}

func (f *fetcher) getOnce(ctx context.Context, url string, header http.Header) (document, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return document{}, permanentError{err}
	}
	req.Header = header.Clone()
	req.Header.Set("User-Agent", "devbox-init-firewall")
	resp, err := f.client.Do(req)
	if err != nil {
		return document{}, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && req.Header.Get("If-None-Match") != "":
		return document{notModified: true}, nil
	case resp.StatusCode != http.StatusOK:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // draining for reuse only
		err := fmt.Errorf("HTTP status %s", resp.Status)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return document{}, err
		}
		return document{}, permanentError{err}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentSize+1))
	if err != nil {
		return document{}, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxDocumentSize {
		return document{}, permanentError{fmt.Errorf("answer larger than %d bytes", maxDocumentSize)}
	}
	return document{body: body, etag: resp.Header.Get("ETag")}, nil
}

func urlHash(url string) string {
	sum := sha256.Sum256([]byte(url))
	return hex.EncodeToString(sum[:6])
}

// writeCache stores the document's body at path and its ETag beside it, in
// dir, which is created 0700; the files are 0600 and written atomically.
// The old ETag goes first, so no ETag ever vouches for another body.
func writeCache(dir, path string, doc document) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cache answer: %w", err)
	}
	if err := os.Remove(path + ".etag"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cache answer: %w", err)
	}
	if err := atomicfile.Write(path, doc.body, 0o600); err != nil {
		return fmt.Errorf("cache answer: %w", err)
	}
	if validETag(doc.etag) {
		if err := atomicfile.Write(path+".etag", []byte(doc.etag), 0o600); err != nil {
			return fmt.Errorf("cache answer: %w", err)
		}
	}
	return nil
}

// readETag returns the cached ETag at path, or "" when there is none usable.
func readETag(path string) string {
	fi, err := os.Stat(path)
	if err != nil || checkPrivate(path, fi) != nil {
		return ""
	}
	data, err := os.ReadFile(path)
	if err != nil || !validETag(string(data)) {
		return ""
	}
	return string(data)
}

// validETag reports whether s can go back in an If-None-Match header.
func validETag(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return false
		}
	}
	return true
}

// readCache returns the cached body at path and when it was written. It
// refuses a cache that someone other than this user could have written:
// the agent must not be able to plant ranges.
func readCache(path string) ([]byte, time.Time, error) {
	for _, p := range []string{filepath.Dir(path), path} {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, time.Time{}, err
		}
		if err := checkPrivate(p, fi); err != nil {
			return nil, time.Time{}, err
		}
	}
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	return body, fi.ModTime(), nil
}

func checkPrivate(path string, fi os.FileInfo) error {
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by group or others (mode %v)", path, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is owned by uid %d, not %d", path, st.Uid, os.Geteuid())
	}
	return nil
}

// readToken returns the token in path, or "" when the file does not exist.
// A file others can read is used with a warning; other problems are
// warnings and the fetch goes without a token.
func readToken(path string) (string, *Warning) {
	if path == "" {
		return "", nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", &Warning{Source: "github", Message: fmt.Sprintf("token not used: %v", err)}
	}
	token := strings.TrimSpace(string(data))
	if strings.ContainsAny(token, " \t\r\n") {
		return "", &Warning{Source: "github", Message: fmt.Sprintf("token not used: %s holds more than one line or word", path)}
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return token, &Warning{Source: "github", Message: fmt.Sprintf("%s is readable by others (mode %v); make it root-only (0600)", path, fi.Mode().Perm())}
	}
	return token, nil
}

// gatherGitHub fetches the configured keys of GitHub's meta document.
func gatherGitHub(ctx context.Context, f *fetcher, g *allowlist.GitHubConfig) *sourceOutput {
	o := &sourceOutput{result: SourceResult{Name: "github"}}
	header := http.Header{"Accept": {"application/vnd.github+json"}}
	token, w := readToken(g.TokenFile)
	if w != nil {
		o.warnings = append(o.warnings, *w)
	}
	if token != "" {
		header.Set("Authorization", "Bearer "+token)
	}
	res, err := f.fetch(ctx, "github", g.URL, header, func(b []byte) ([]netip.Prefix, error) {
		return parseGitHubMeta(b, g.Keys)
	})
	o.collect(res, err)
	return o
}

// gatherAWS fetches AWS's ip-ranges.json filtered by service and region.
func gatherAWS(ctx context.Context, f *fetcher, a *allowlist.AWSConfig) *sourceOutput {
	o := &sourceOutput{result: SourceResult{Name: "aws"}}
	res, err := f.fetch(ctx, "aws", a.URL, http.Header{"Accept": {"application/json"}}, func(b []byte) ([]netip.Prefix, error) {
		return parseAWSRanges(b, a.Services, a.Regions)
	})
	o.collect(res, err)
	return o
}

func (o *sourceOutput) collect(res fetchResult, err error) {
	o.prefixes = res.prefixes
	o.warnings = append(o.warnings, res.warnings...)
	o.result.Prefixes = len(res.prefixes)
	o.result.Cached = res.cached
	o.err = err
}
