package audit

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Rate bounds how many records of one kind are written: Burst at once,
// then PerSecond.
type Rate struct {
	PerSecond float64
	Burst     float64
}

// The default rates: a flood of names or packets cannot push the rest of
// the log out of its files in less than minutes, and one kind's flood does
// not use up another's rate.
var DefaultRates = map[Kind]Rate{
	KindDNS:  {PerSecond: 100, Burst: 1000},
	KindConn: {PerSecond: 100, Burst: 1000},
}

// DefaultQueue is how many records may wait for the writer.
const DefaultQueue = 4096

// Logger hands records to a Writer from one goroutine. Log never blocks:
// a record over its kind's rate, or that finds the queue full, is counted,
// and the count is written as a KindLost record, so the log says what it
// is missing.
type Logger struct {
	w     *Writer
	queue chan Record
	now   func() time.Time

	mu      sync.Mutex
	buckets map[Kind]*bucket
	// overRate and behind count the records dropped since the last
	// KindLost record: over their kind's rate, or with the queue full.
	overRate map[Kind]uint64
	behind   atomic.Uint64
	// lost counts every record dropped, for Counts.
	lost atomic.Uint64
	// writeErrs counts the records the Writer failed to write.
	writeErrs atomic.Uint64

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

type bucket struct {
	rate   Rate
	tokens float64
	last   time.Time
}

// take reports whether a record may go now.
func (b *bucket) take(now time.Time) bool {
	b.tokens = min(b.rate.Burst, b.tokens+now.Sub(b.last).Seconds()*b.rate.PerSecond)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// NewLogger starts a Logger writing to w with rates per kind (a kind
// without one is not limited) and a queue of queue records (DefaultQueue
// when zero). now is the clock (nil: time.Now). Close stops it.
func NewLogger(w *Writer, rates map[Kind]Rate, queue int, now func() time.Time) *Logger {
	if queue <= 0 {
		queue = DefaultQueue
	}
	if now == nil {
		now = time.Now
	}
	l := &Logger{
		w: w, queue: make(chan Record, queue), now: now,
		buckets: map[Kind]*bucket{}, overRate: map[Kind]uint64{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	t := now()
	for k, r := range rates {
		l.buckets[k] = &bucket{rate: r, tokens: r.Burst, last: t}
	}
	go l.run()
	return l
}

// Log queues r, or counts it as lost. It never blocks.
func (l *Logger) Log(r Record) {
	if b := l.buckets[r.Kind]; b != nil {
		l.mu.Lock()
		ok := b.take(l.now())
		if !ok {
			l.overRate[r.Kind]++
		}
		l.mu.Unlock()
		if !ok {
			l.lost.Add(1)
			return
		}
	}
	select {
	case l.queue <- r:
	default:
		l.behind.Add(1)
		l.lost.Add(1)
	}
}

// Lost returns how many records were dropped so far.
func (l *Logger) Lost() uint64 { return l.lost.Load() + l.writeErrs.Load() }

// lostFlush is how often the counts of dropped records are written when
// no other record comes.
const lostFlush = time.Second

func (l *Logger) run() {
	defer close(l.done)
	tick := time.NewTicker(lostFlush)
	defer tick.Stop()
	for {
		select {
		case r := <-l.queue:
			l.writeLost()
			l.write(r)
		case <-tick.C:
			l.writeLost()
		case <-l.stop:
			for {
				select {
				case r := <-l.queue:
					l.write(r)
				default:
					l.writeLost()
					return
				}
			}
		}
	}
}

func (l *Logger) write(r Record) {
	if l.w.Write(r) != nil {
		l.writeErrs.Add(1)
	}
}

// writeLost writes a KindLost record for each count of dropped records.
func (l *Logger) writeLost() {
	var over map[Kind]uint64 // the counts taken, no longer shared
	l.mu.Lock()
	if len(l.overRate) > 0 {
		over, l.overRate = l.overRate, map[Kind]uint64{}
	}
	l.mu.Unlock()
	now := l.now()
	for _, k := range []Kind{KindDNS, KindConn, KindPolicy, KindAudit} {
		if n := over[k]; n > 0 {
			l.write(Record{Time: now, Kind: KindLost, Count: n,
				Err: fmt.Sprintf("%d %s records not written: over the log's rate of %g a second", n, k, l.buckets[k].rate.PerSecond)})
		}
	}
	if n := l.behind.Swap(0); n > 0 {
		l.write(Record{Time: now, Kind: KindLost, Count: n, Err: fmt.Sprintf("%d records not written: the log's writer fell behind", n)})
	}
}

// Close writes what is queued and stops the Logger. Log may still be
// called (a query answered while the gateway stops): what it queues then
// is not written. It does not close the Writer.
func (l *Logger) Close() {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
}
