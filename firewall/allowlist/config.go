package allowlist

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tailscale/hujson"

	"github.com/devbox-sandbox/devbox/internal/contract"
)

// Paths and URLs used when firewall.jsonc does not name them. The paths are
// the image's, from package contract (the generator, the image and
// init-firewall agree on them there).
const (
	DefaultConfigPath     = contract.ConfigPath
	DefaultTokenFile      = contract.TokenFile
	DefaultCacheDir       = contract.CacheDir
	DefaultResolvConf     = "/etc/resolv.conf"
	DefaultGitHubMetaURL  = "https://api.github.com/meta"
	DefaultAWSIPRangesURL = "https://ip-ranges.amazonaws.com/ip-ranges.json"
)

// Config is the allowlist read from firewall.jsonc (HuJSON: comments and
// trailing commas allowed). The json tags are the file format of design.md.
type Config struct {
	// Domains are name entries (ParseNameEntry): a name or pattern and
	// optional TCP ports, 443 when none are written. Where the box resolves
	// through the gateway's filtering resolver, a name is resolved when it
	// is asked for and Domains and OptionalDomains allow the same. Where
	// the allowlist is resolved once at start (the single-container
	// layout), an exact name in Domains must resolve, or the box starts
	// closed.
	Domains []string `json:"domains"`
	// OptionalDomains are name entries like Domains'. They differ only where
	// names are resolved once at start: one that does not resolve then
	// gives a warning, not a failure.
	OptionalDomains []string `json:"optionalDomains"`
	// CIDRs are static prefixes or single addresses (ParseCIDREntry), with
	// optional TCP ports; one without ports allows every port and protocol.
	CIDRs []string `json:"cidrs"`
	// Deny lists names, patterns and prefixes that are never allowed,
	// whatever else allows them: ports cannot be given.
	Deny []string `json:"deny"`
	// Upstreams are the DNS servers the gateway's resolver asks
	// (ParseUpstream): "IP" or "IP:PORT", "[IPv6]:PORT"; port 53 by
	// default. When empty, the resolver asks what Docker's resolver
	// forwards to.
	Upstreams []string `json:"upstreams"`
	// DNS tunes how long answered addresses stay allowed.
	DNS DNSConfig `json:"dns"`
	// GitHub, when non-nil, adds ranges from GitHub's meta API.
	GitHub *GitHubConfig `json:"github"`
	// AWS, when non-nil, adds ranges from AWS's ip-ranges.json.
	AWS *AWSConfig `json:"aws"`
	// HostPorts are the TCP ports of the Docker host (the gateway) the box may reach.
	HostPorts []int `json:"hostPorts"`
	// InboundPorts are the ports the box publishes; connections to them are allowed in.
	InboundPorts []int `json:"inboundPorts"`
	// AllowLocalNetworks allows the subnets of the box's own interfaces
	// (a compose project's networks) except the gateway.
	AllowLocalNetworks bool `json:"allowLocalNetworks"`
	// ServicePorts, when set, limit allowLocalNetworks to these TCP ports
	// (the services' ports): the box reaches its services and nothing
	// else on their networks.
	ServicePorts []int `json:"servicePorts"`
	// Verify lists targets checked after the rules are applied.
	Verify VerifyConfig `json:"verify"`
	// CacheDir holds the last good answers of the GitHub and AWS sources
	// (root-only). ParseConfig sets it to DefaultCacheDir when empty.
	CacheDir string `json:"cacheDir,omitempty"`

	// file, data and offsets let Validate name the place of a bad entry:
	// offsets maps an element's path ("cidrs[2]") to its byte offset in
	// data, and the line and column are counted only for the entry
	// reported. All are empty for a Config built in code.
	file    string
	data    []byte
	offsets map[string]int
	// parsed holds the entries compiled by ParseConfig; nil for a Config
	// built in code, whose accessors compile it at every call.
	parsed *parsed
}

// DNSConfig tunes the gateway's resolver. Both are whole seconds; nil
// takes the default.
type DNSConfig struct {
	// MinTTL is the least time an answered address stays allowed, whatever
	// the answer's TTL: 1-86400, DefaultMinTTL when nil.
	MinTTL *int `json:"minTTL"`
	// Grace is added to that time, so that a client that got the answer
	// just before it expired can still connect: 0-3600, DefaultGrace when
	// nil.
	Grace *int `json:"grace"`
}

// Defaults and bounds of DNSConfig, in seconds.
const (
	DefaultMinTTL = 60
	DefaultGrace  = 30
	maxMinTTL     = 86400
	maxGrace      = 3600
)

// DefaultUpstreamPort is the port of an upstream written without one.
const DefaultUpstreamPort = 53

// GitHubConfig selects ranges from GitHub's meta API
// (https://docs.github.com/rest/meta/meta).
type GitHubConfig struct {
	// URL of the meta document; ParseConfig sets DefaultGitHubMetaURL when empty.
	URL string `json:"url"`
	// Keys of the meta document to allow, e.g. "web", "api", "git". At least one.
	Keys []string `json:"keys"`
	// TokenFile, when it exists, holds a token sent as "Authorization: Bearer".
	// ParseConfig sets DefaultTokenFile when empty. Never read from the environment.
	TokenFile string `json:"tokenFile,omitempty"`
}

// AWSConfig selects ranges from AWS's ip-ranges.json
// (https://docs.aws.amazon.com/vpc/latest/userguide/aws-ip-ranges.html).
type AWSConfig struct {
	// URL of ip-ranges.json; ParseConfig sets DefaultAWSIPRangesURL when empty.
	URL string `json:"url"`
	// Services to keep (e.g. "S3"); empty keeps every service.
	Services []string `json:"services"`
	// Regions to keep (e.g. "us-east-1"); empty keeps every region.
	Regions []string `json:"regions"`
}

// VerifyConfig lists the targets checked once the rules are in place. Each
// target is a URL as accepted by ParseTarget.
type VerifyConfig struct {
	// Reachable targets must connect.
	Reachable []string `json:"reachable"`
	// Blocked targets must be refused.
	Blocked []string `json:"blocked"`
}

// LoadConfig reads and parses the config file at path (see ParseConfig).
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load firewall config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig parses HuJSON data read from filename, fills in defaults and
// validates the result. Errors name filename:line:col of the offending text:
// syntax errors, unknown or duplicate keys, wrong types and bad entries.
func ParseConfig(filename string, data []byte) (*Config, error) {
	v, err := hujson.Parse(data)
	if err != nil {
		return nil, syntaxError(filename, err)
	}
	c := &Config{file: filename, data: data, offsets: map[string]int{}}
	d := decoder{file: filename, data: data, offsets: c.offsets}
	if err := d.decode(&v, reflect.ValueOf(c).Elem(), ""); err != nil {
		return nil, err
	}
	c.setDefaults()
	p, err := c.compile()
	if err != nil {
		return nil, err
	}
	c.parsed = p
	return c, nil
}

// hujsonPosition matches the position hujson.Parse puts in its errors.
var hujsonPosition = regexp.MustCompile(`^hujson: line (\d+), column (\d+): `)

// syntaxError rewrites hujson's "line L, column C" into file:L:C.
func syntaxError(filename string, err error) error {
	m := hujsonPosition.FindStringSubmatch(err.Error())
	if m == nil {
		return &ConfigError{File: filename, Err: err}
	}
	inner := errors.Unwrap(err)
	if inner == nil {
		inner = errors.New(strings.TrimPrefix(err.Error(), m[0]))
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	return &ConfigError{File: filename, Line: line, Col: col, Err: inner}
}

func (c *Config) setDefaults() {
	if c.GitHub != nil {
		if c.GitHub.URL == "" {
			c.GitHub.URL = DefaultGitHubMetaURL
		}
		if c.GitHub.TokenFile == "" {
			c.GitHub.TokenFile = DefaultTokenFile
		}
	}
	if c.AWS != nil && c.AWS.URL == "" {
		c.AWS.URL = DefaultAWSIPRangesURL
	}
	if c.CacheDir == "" {
		c.CacheDir = DefaultCacheDir
	}
}

// decoder decodes a parsed HuJSON tree into a Config itself, in one walk,
// because encoding/json neither reports where an unknown key is nor refuses
// duplicate keys, and a second pass through it would cost as much again.
type decoder struct {
	file    string
	data    []byte
	offsets map[string]int
}

// errorf returns the error of the text at byte offset off.
func (d *decoder) errorf(off int, format string, args ...any) error {
	line, col := lineCol(d.data, off)
	return &ConfigError{File: d.file, Line: line, Col: col, Err: fmt.Errorf(format, args...)}
}

// lineCol returns the 1-based line and column (in bytes) of offset off in
// data. It scans data up to off, so it is called only for the one place an
// error names: once per element, it made loading quadratic.
func lineCol(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	line = 1 + bytes.Count(data[:off], []byte("\n"))
	col = 1 + off - (bytes.LastIndexByte(data[:off], '\n') + 1)
	return line, col
}

// decode stores v into dst, whose type is one of Config's field types, and
// records the offset of every element under its path (e.g. "cidrs[2]").
func (d *decoder) decode(v *hujson.Value, dst reflect.Value, path string) error {
	d.offsets[path] = v.StartOffset
	name := path
	if name == "" {
		name = "top level"
	}
	t := dst.Type()
	lit, isLit := v.Value.(hujson.Literal)
	if isLit && lit.Kind() == 'n' && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Struct) {
		dst.SetZero() // null: source off, empty list or empty object
		return nil
	}
	if t.Kind() == reflect.Pointer {
		dst.Set(reflect.New(t.Elem()))
		dst, t = dst.Elem(), t.Elem()
	}
	want := map[reflect.Kind]hujson.Kind{
		reflect.Struct: '{', reflect.Slice: '[', reflect.String: '"', reflect.Int: '0', reflect.Bool: 't',
	}[t.Kind()]
	got := v.Value.Kind()
	if got == 'f' {
		got = 't'
	}
	if got != want {
		return d.errorf(v.StartOffset, "%s: want %s, got %s", name, kindName(want), kindName(got))
	}
	switch val := v.Value.(type) {
	case *hujson.Object:
		fields := jsonFields(t)
		seen := map[string]bool{}
		for i := range val.Members {
			m := &val.Members[i]
			key := m.Name.Value.(hujson.Literal).String()
			keyPath := key
			if path != "" {
				keyPath = path + "." + key
			}
			if seen[key] {
				return d.errorf(m.Name.StartOffset, "duplicate key %q", keyPath)
			}
			seen[key] = true
			index, ok := fields[key]
			if !ok {
				return d.errorf(m.Name.StartOffset, "unknown key %q (known: %s)", keyPath, knownKeys(t))
			}
			if err := d.decode(&m.Value, dst.Field(index), keyPath); err != nil {
				return err
			}
		}
	case *hujson.Array:
		list := reflect.MakeSlice(t, len(val.Elements), len(val.Elements))
		for i := range val.Elements {
			if err := d.decode(&val.Elements[i], list.Index(i), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		dst.Set(list)
	case hujson.Literal:
		switch want {
		case '"':
			dst.SetString(unquote(val))
		case 't':
			dst.SetBool(val.Bool())
		case '0':
			n, err := strconv.Atoi(string(val))
			if err != nil {
				return d.errorf(v.StartOffset, "%s: want an integer, got %s", name, val)
			}
			dst.SetInt(int64(n))
		}
	}
	return nil
}

// unquote returns the value of a string literal. Most entries have no
// escapes and are taken as they are: Literal.String runs encoding/json for
// each, which was the largest cost of loading a long list.
func unquote(lit hujson.Literal) string {
	if len(lit) >= 2 && bytes.IndexByte(lit, '\\') < 0 && utf8.Valid(lit) {
		return string(lit[1 : len(lit)-1])
	}
	return lit.String()
}

func kindName(k hujson.Kind) string {
	switch k {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't':
		return "true or false"
	case 'n':
		return "null"
	}
	return "a value"
}

// jsonFields maps the json names of struct type t to their field indexes.
func jsonFields(t reflect.Type) map[string]int {
	fields := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.IsExported() && name != "" && name != "-" {
			fields[name] = i
		}
	}
	return fields
}

func knownKeys(t reflect.Type) string {
	var names []string
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); f.IsExported() && name != "" {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

// Validate checks every entry and returns an error naming the first bad one,
// e.g. `firewall.jsonc:4:12: cidrs[2] "10.0.0.0/4": prefix shorter than /8 is
// a catch-all`. It does not contact the network.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

// check validates what compile does not parse: sources, ports and verify
// targets.
func (c *Config) check() error {
	if g := c.GitHub; g != nil {
		if err := validateSourceURL(g.URL); err != nil {
			return c.entryError("github.url", g.URL, err)
		}
		if len(g.Keys) == 0 {
			return c.entryError("github.keys", "", errors.New(`name at least one key of the meta document, e.g. "web", "api", "git"`))
		}
		for i, k := range g.Keys {
			if k == "" {
				return c.entryError(fmt.Sprintf("github.keys[%d]", i), k, errors.New("empty key"))
			}
		}
	}
	if a := c.AWS; a != nil {
		if err := validateSourceURL(a.URL); err != nil {
			return c.entryError("aws.url", a.URL, err)
		}
	}
	for _, ports := range []struct {
		name string
		list []int
	}{{"hostPorts", c.HostPorts}, {"inboundPorts", c.InboundPorts}, {"servicePorts", c.ServicePorts}} {
		for i, p := range ports.list {
			if p < 1 || p > 65535 {
				return c.entryError(fmt.Sprintf("%s[%d]", ports.name, i), strconv.Itoa(p), errors.New("port must be 1-65535"))
			}
		}
	}
	for _, list := range []struct {
		name string
		list []string
	}{{"verify.reachable", c.Verify.Reachable}, {"verify.blocked", c.Verify.Blocked}} {
		for i, s := range list.list {
			if _, err := ParseTarget(s); err != nil {
				return c.entryError(fmt.Sprintf("%s[%d]", list.name, i), s, err)
			}
		}
	}
	return nil
}

// entryError names the entry at path, with its file position when known.
func (c *Config) entryError(path, value string, err error) error {
	where := path
	if value != "" {
		where = fmt.Sprintf("%s %q", path, value)
	}
	e := &ConfigError{File: c.file, Err: fmt.Errorf("%s: %w", where, err)}
	if off, ok := c.offsets[path]; ok && c.file != "" {
		e.Line, e.Col = lineCol(c.data, off)
	}
	return e
}

func validateSourceURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("want an http:// or https:// URL")
	}
	return nil
}

// ValidateDomain reports whether d is a DNS name init-firewall can resolve:
// letters, digits, '-' and '_' in labels of 1-63 bytes, at most 253 bytes,
// an optional trailing dot. Names are taken as fully qualified. Wildcards and
// IP addresses are refused (they belong in cidrs).
func ValidateDomain(d string) error {
	if strings.Contains(d, "*") {
		return errors.New("wildcards cannot be resolved; list each name")
	}
	return validateName(strings.TrimSuffix(d, "."))
}

// validateName checks a name without its trailing dot: letters, digits,
// '-' and '_' in labels of 1-63 bytes, at most 253 bytes, and not an IP
// address.
func validateName(name string) error {
	switch {
	case name == "":
		return errors.New("empty domain")
	case len(name) > 253:
		return errors.New("domain longer than 253 bytes")
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return errors.New("an IP address is not a domain; put it in cidrs")
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("label %q must be 1-63 bytes", label)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("label %q starts or ends with '-'", label)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("label %q has invalid character %q", label, r)
			}
		}
	}
	return nil
}

// ParseCIDR parses a prefix ("140.82.112.0/20", "2606:50c0::/32") or a single
// address (taken as /32 or /128) and returns it masked. It refuses catch-alls
// that would open the firewall: IPv4 prefixes shorter than /8 (0.0.0.0/0
// included), IPv6 prefixes shorter than /16 (::/0 included), and IPv4-mapped
// IPv6 prefixes (::ffff:0:0/96 covers all of IPv4).
func ParseCIDR(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, fmt.Errorf("not a CIDR prefix: %w", err)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not an IP address or CIDR prefix: %w", err)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, errors.New("address with a zone is not allowed")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if err := CheckPrefix(p); err != nil {
		return netip.Prefix{}, err
	}
	return p.Masked(), nil
}

// CheckPrefix refuses prefixes that are catch-alls or cannot be filtered.
func CheckPrefix(p netip.Prefix) error {
	a := p.Addr()
	switch {
	case !p.IsValid():
		return errors.New("invalid prefix")
	case a.Is4In6():
		return errors.New("IPv4-mapped IPv6 prefix; write the IPv4 form")
	case a.Is4() && p.Bits() < 8:
		return errors.New("prefix shorter than /8 is a catch-all")
	case a.Is6() && p.Bits() < 16:
		return errors.New("prefix shorter than /16 is a catch-all")
	}
	return nil
}

// Target is a parsed verify target.
//
// Accepted forms:
//
//	https://host[:port][/path]  TLS connection, then an HTTP GET (port 443 by default)
//	http://host[:port][/path]   HTTP GET (port 80 by default)
//	tcp://host:port             TCP connection only
//	udp://host:port             UDP datagram (reachability cannot be proven for UDP
//	                            unless the peer answers; see the verifier)
//
// host is a DNS name or an IP address (IPv6 in brackets). "Reachable" means the
// connection (and for http/https the request) succeeds with any status;
// "blocked" means it is refused by the firewall.
type Target struct {
	Scheme string // "https", "http", "tcp" or "udp"
	Host   string // name or address, without brackets
	Port   uint16 // explicit or the scheme's default
	URL    string // the target as written
}

// Address returns host:port, ready for net.Dial.
func (t Target) Address() string {
	return net.JoinHostPort(t.Host, strconv.Itoa(int(t.Port)))
}

// ParseTarget parses a verify target (see Target for the accepted forms).
func ParseTarget(s string) (Target, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Target{}, fmt.Errorf("not a URL: %w", err)
	}
	t := Target{Scheme: u.Scheme, Host: u.Hostname(), URL: s}
	switch u.Scheme {
	case "https", "http":
	case "tcp", "udp":
		if u.Port() == "" {
			return Target{}, fmt.Errorf("%s target needs a port: %s://host:port", u.Scheme, u.Scheme)
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return Target{}, fmt.Errorf("%s target takes no path: %s://host:port", u.Scheme, u.Scheme)
		}
	default:
		return Target{}, errors.New("want https://host[:port]/path, http://host[:port]/path, tcp://host:port or udp://host:port")
	}
	if u.User != nil {
		return Target{}, errors.New("credentials in a verify target are not allowed")
	}
	if t.Host == "" {
		return Target{}, errors.New("target has no host")
	}
	if _, err := netip.ParseAddr(t.Host); err != nil {
		if err := ValidateDomain(t.Host); err != nil {
			return Target{}, fmt.Errorf("target host: %w", err)
		}
	}
	switch p := u.Port(); {
	case p != "":
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Target{}, errors.New("port must be 1-65535")
		}
		t.Port = uint16(n)
	case u.Scheme == "https":
		t.Port = 443
	default:
		t.Port = 80
	}
	return t, nil
}
