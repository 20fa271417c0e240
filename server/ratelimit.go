package server

import (
	"errors"
	"net"
	"sync"
	"time"
)

// ErrRateLimited is reported to a client that sends more requests than
// Conf.RateLimit allows.
var ErrRateLimited = errors.New("rate limited: too many requests from this client (server.rate_limit); slow down")

// maxClients bounds the limiter's table; past it, buckets that have
// refilled completely (idle clients) are dropped.
const maxClients = 1 << 16

// limiter is a token bucket per client IP: rate tokens per second, at most
// burst banked. The zero rate disables it.
type limiter struct {
	rate, burst float64
	mu          sync.Mutex
	buckets     map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	if rate <= 0 {
		return nil
	}
	return &limiter{rate: rate, burst: float64(burst), buckets: map[string]*bucket{}}
}

// clientKey is the client's IP (all connections from one host share a
// bucket), or the whole address if it has no port.
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

// allow takes one token from key's bucket at time now.
func (l *limiter) allow(key string, now time.Time) bool { return l.allowN(key, now, 1) }

// allowN takes n tokens from key's bucket at time now, if it holds them.
func (l *limiter) allowN(key string, now time.Time, n float64) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxClients {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	return b.take(l.rate, l.burst, n, now)
}

// take refills b at rate up to burst as of now, then takes n tokens if it
// holds them.
func (b *bucket) take(rate, burst, n float64, now time.Time) bool {
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// evict drops the buckets that would be full by now: forgetting them
// changes nothing for their clients.
func (l *limiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}
