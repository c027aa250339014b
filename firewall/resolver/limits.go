package resolver

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// Bounds on what the box can make the gateway hold at once: dev is not
// trusted, and the resolver shares the gateway's file descriptors and
// memory with the firewall. Resolutions beyond MaxInFlight wait for a slot
// before they start, which also keeps the answers in progress within
// AllowTimeout: with 256 at once, a burst of 1,000 fresh names on two
// cores left a few answers waiting over 100 ms for the scheduler after
// their set write (SERVFAIL); with 32, none in 8 runs
// (firewall.TestIntegrationNetnsResolver).
const (
	DefaultMaxInFlight = 64 // upstream resolutions at once
	DefaultMaxTCPConns = 64 // client TCP connections at once
)

// errOverload is the SERVFAIL reason when MaxInFlight resolutions run.
var errOverload = errors.New("too many upstream queries in flight; try again")

// acquire takes one of the MaxInFlight slots, waiting at most
// UpstreamTimeout for one (a burst of fresh names queues behind a fast
// upstream; a flood is turned away); release gives it back.
func (s *Server) acquire(ctx context.Context) error {
	select {
	case s.inFlight <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(s.cfg.UpstreamTimeout)
	defer t.Stop()
	select {
	case s.inFlight <- struct{}{}:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	s.stats.overload.Add(1)
	return errOverload
}

func (s *Server) release() { <-s.inFlight }

// limitListener closes connections accepted beyond max open ones, at once,
// instead of blocking in Accept (which would hold up Shutdown).
type limitListener struct {
	net.Listener
	slots chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitConn{Conn: c, release: sync.OnceFunc(func() { <-l.slots })}, nil
		default:
			c.Close()
		}
	}
}

type limitConn struct {
	net.Conn
	release func()
}

func (c *limitConn) Close() error {
	c.release()
	return c.Conn.Close()
}
