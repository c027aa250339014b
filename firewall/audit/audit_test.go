package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func dnsRec(i int, name string, allowed bool) Record {
	return Record{Time: t0.Add(time.Duration(i) * time.Second), Kind: KindDNS, Name: name, Type: "A", Allowed: allowed}
}

func readAll(t *testing.T, path string, f Filter) []Record {
	t.Helper()
	var got []Record
	if err := Read(path, f, func(r Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestMarshalIsOneASCIILine(t *testing.T) {
	for _, name := range []string{
		"plain.example", "a\nb", "\x1b[2J\x1b]0;x\x07", "evil\u202egpj", "a\u2028b\u2029", "\x7f", "\xff\xfe", "😀", `a"b\c`,
		strings.Repeat("x", 5000),
	} {
		line, err := Marshal(Record{Time: t0, Kind: KindDNS, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
			t.Errorf("%q: not one line: %q", name, line)
		}
		for _, c := range line[:len(line)-1] {
			if c < 0x20 || c >= 0x7f {
				t.Errorf("%q: byte %#x in the line %q", name, c, line)
				break
			}
		}
		var back Record
		if err := json.Unmarshal(line, &back); err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		var want Record // what encoding/json itself keeps of it
		std, _ := json.Marshal(Record{Name: name})
		_ = json.Unmarshal(std, &want)
		if back.Name != want.Name {
			t.Errorf("round trip: %q, want %q", back.Name, want.Name)
		}
	}
}

func TestWriterRotatesAndReadsInOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w, err := OpenWriter(path, 1000, 3)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		if err := w.Write(dnsRec(i, fmt.Sprintf("n%03d.example", i), i%2 == 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, name := range []string{"audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.3"} {
		st, err := os.Stat(filepath.Join(filepath.Dir(path), name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if st.Size() > 1000 {
			t.Errorf("%s is %d bytes, over the bound", name, st.Size())
		}
		total += st.Size()
	}
	if _, err := os.Stat(path + ".4"); err == nil {
		t.Error("a fourth rotated file was kept")
	}
	got := readAll(t, path, Filter{})
	if len(got) == 0 || len(got) >= n {
		t.Fatalf("read %d records of %d written into %d bytes", len(got), n, total)
	}
	// The newest are kept, in order, to the last one written.
	for i, r := range got {
		want := fmt.Sprintf("n%03d.example", n-len(got)+i)
		if r.Name != want {
			t.Fatalf("record %d is %s, want %s", i, r.Name, want)
		}
	}
	// Reopened, it appends.
	w, err = OpenWriter(path, 1000, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(dnsRec(n, "last.example", true)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	got = readAll(t, path, Filter{})
	if got[len(got)-1].Name != "last.example" || got[len(got)-2].Name != fmt.Sprintf("n%03d.example", n-1) {
		t.Errorf("after reopening: ... %s, %s", got[len(got)-2].Name, got[len(got)-1].Name)
	}
}

func TestFilter(t *testing.T) {
	conn := Record{Time: t0.Add(5 * time.Second), Kind: KindConn, Dst: netip.MustParseAddr("198.51.100.7"), Port: 22, Proto: "tcp"}
	audited := conn
	audited.Allowed, audited.Audit = true, true
	lost := Record{Time: t0, Kind: KindLost, Count: 3}
	policy := Record{Time: t0.Add(9 * time.Second), Kind: KindPolicy, Action: "allow", Pattern: "x.example"}
	for _, c := range []struct {
		name string
		f    Filter
		r    Record
		want bool
	}{
		{"all", Filter{}, dnsRec(0, "a", true), true},
		{"blocked: allowed name", Filter{Blocked: true}, dnsRec(0, "a", true), false},
		{"blocked: refused name", Filter{Blocked: true}, dnsRec(0, "a", false), true},
		{"blocked: refused conn", Filter{Blocked: true}, conn, true},
		{"blocked: audited conn", Filter{Blocked: true}, audited, false},
		{"blocked: lost", Filter{Blocked: true}, lost, true},
		{"blocked: policy", Filter{Blocked: true}, policy, false},
		{"since: before", Filter{Since: t0.Add(6 * time.Second)}, conn, false},
		{"since: at", Filter{Since: t0.Add(5 * time.Second)}, conn, true},
	} {
		if got := c.f.Match(c.r); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestFollowAcrossRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w, err := OpenWriter(path, 600, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Write(dnsRec(0, "before.example", true)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- Follow(ctx, path, Filter{Blocked: true}, func(r Record) error {
			mu.Lock()
			got = append(got, r.Name)
			mu.Unlock()
			return nil
		})
	}()
	// Refused names, across several rotations; allowed ones filtered out.
	var want []string
	for i := 1; i <= 30; i++ {
		name := fmt.Sprintf("r%02d.example", i)
		if err := w.Write(dnsRec(i, name, i%3 == 0)); err != nil {
			t.Fatal(err)
		}
		if i%3 != 0 {
			want = append(want, name)
		}
		if i%5 == 0 {
			time.Sleep(FollowPoll) // let the follower see some rotations one by one
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling what the follower read
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("followed:\n%v\nwant\n%v", got, want)
	}
}

func TestLoggerBoundsAFlood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w, err := OpenWriter(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	now := t0
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l := NewLogger(w, map[Kind]Rate{KindDNS: {PerSecond: 10, Burst: 20}, KindConn: {PerSecond: 10, Burst: 20}}, 0, clock)
	// A flood of names uses the DNS rate up; connections keep theirs.
	for i := range 1000 {
		l.Log(dnsRec(i, fmt.Sprintf("flood%d.example", i), false))
	}
	for i := range 5 {
		l.Log(Record{Time: t0, Kind: KindConn, Dst: netip.MustParseAddr("198.51.100.7"), Port: uint16(i + 1), Proto: "tcp"})
	}
	l.Log(Record{Time: t0, Kind: KindPolicy, Action: "allow", Pattern: "p.example"})
	l.Close()
	var dns, conns, policy int
	var lost uint64
	for _, r := range readAll(t, path, Filter{}) {
		switch r.Kind {
		case KindDNS:
			dns++
		case KindConn:
			conns++
		case KindPolicy:
			policy++
		case KindLost:
			lost += r.Count
			if !strings.Contains(r.Err, "dns records") {
				t.Errorf("lost record: %s", r.Err)
			}
		}
	}
	if dns != 20 || conns != 5 || policy != 1 || lost != 980 {
		t.Errorf("dns %d (want 20), conns %d (5), policy %d (1), lost %d (980)", dns, conns, policy, lost)
	}
	if l.Lost() != 980 {
		t.Errorf("Lost() = %d", l.Lost())
	}
}

func TestLoggerNeverBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w, err := OpenWriter(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	l := NewLogger(w, nil, 4, nil)
	start := time.Now()
	for i := range 100_000 {
		l.Log(dnsRec(i, "x.example", true))
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("100000 Log calls took %v", took)
	}
	l.Close()
	var written, lost uint64
	for _, r := range readAll(t, path, Filter{}) {
		if r.Kind == KindLost {
			lost += r.Count
		} else {
			written++
		}
	}
	if written+lost != 100_000 || lost != l.Lost() {
		t.Errorf("written %d + lost %d != 100000 (Lost() %d)", written, lost, l.Lost())
	}
}

func TestFolder(t *testing.T) {
	f := NewFolder(10*time.Second, 2)
	a := Record{Time: t0, Kind: KindConn, Dst: netip.MustParseAddr("198.51.100.7"), Port: 22, Proto: "tcp"}
	b := a
	b.Port = 23
	c := a
	c.Port = 24
	var logged int
	for i := range 100 {
		for _, r := range []Record{a, b, c} {
			r.Time = t0.Add(time.Duration(i) * 50 * time.Millisecond)
			if f.Add(r) {
				logged++
			}
		}
	}
	if logged != 2 {
		t.Errorf("%d logged at once, want 2 (one per destination, two tracked)", logged)
	}
	if f.Due(t0.Add(9 * time.Second)) {
		t.Error("due before the window ended")
	}
	if !f.Due(t0.Add(10 * time.Second)) {
		t.Error("not due when the window ended")
	}
	out := f.Flush(t0.Add(10 * time.Second))
	counts := map[uint16]uint64{}
	var lost uint64
	for _, r := range out {
		if r.Kind == KindLost {
			lost += r.Count
			continue
		}
		counts[r.Port] = r.Count
		if !r.Time.Equal(t0.Add(99 * 50 * time.Millisecond)) {
			t.Errorf("port %d: time %v, want the last packet's", r.Port, r.Time)
		}
	}
	if counts[22] != 99 || counts[23] != 99 || lost != 100 {
		t.Errorf("repeats %v, lost %d", counts, lost)
	}
	if !f.Add(a) {
		t.Error("after Flush the first packet is logged again")
	}
}

func TestSuggest(t *testing.T) {
	addr := netip.MustParseAddr
	conn := func(min int, name, dst string, port uint16, proto string, count uint64) Record {
		return Record{Time: t0.Add(time.Duration(min) * time.Minute), Kind: KindConn, Name: name, Dst: addr(dst), Port: port, Proto: proto, Count: count}
	}
	records := []Record{
		dnsRec(0, "api.example.com.", true),
		conn(1, "api.example.com", "198.51.100.1", 8443, "tcp", 0),
		conn(2, "api.example.com", "198.51.100.1", 8443, "tcp", 4),
		conn(3, "api.example.com", "198.51.100.2", 443, "tcp", 0),
		dnsRec(240, "Registry.Example.ORG.", false),
		dnsRec(250, "registry.example.org.", false),
		{Time: t0.Add(5 * time.Minute), Kind: KindDNS, Name: "bad.example.net.", Allowed: false, Rule: "deny: *.example.net"},
		conn(6, "quic.example.com", "198.51.100.3", 443, "udp", 7),
		conn(7, "", "198.51.100.99", 22, "tcp", 2),
		{Time: t0.Add(8 * time.Minute), Kind: KindConn, Allowed: true, Audit: true, Name: "audited.example.com", Dst: addr("198.51.100.4"), Port: 443, Proto: "tcp"},
		{Time: t0.Add(9 * time.Minute), Kind: KindConn, Allowed: true, Name: "fine.example.com", Dst: addr("198.51.100.5"), Port: 443, Proto: "tcp"},
		{Time: t0.Add(10 * time.Minute), Kind: KindConn, Inbound: true, Src: addr("198.51.100.6"), Dst: addr("172.18.0.2"), Port: 8080, Proto: "tcp"},
		dnsRec(660, "com.", false),
		conn(11, "", "ff02::16", 0, "icmpv6", 0),
		dnsRec(670, `evil\027[2J.example.com.`, false),
	}
	records = append(records,
		dnsRec(680, "blocked.example.com.", false),
		conn(12, "", "203.0.113.10", 80, "tcp", 0))
	s := NewSuggester()
	s.ExpectBlocked([]string{"http://blocked.example.com/", "tcp://203.0.113.10:80", "not a target"})
	for _, r := range records {
		s.Add(r)
	}
	got, err := json.MarshalIndent(s.Result(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "suggest.golden.json", append(got, '\n'))
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n%s", name, got)
	}
}

func TestLoggerLogAfterClose(t *testing.T) {
	w, err := OpenWriter(filepath.Join(t.TempDir(), "audit.jsonl"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	l := NewLogger(w, nil, 4, nil)
	l.Close()
	for i := range 10 {
		l.Log(dnsRec(i, "late.example", true)) // must not panic or block
	}
	l.Close()
}
