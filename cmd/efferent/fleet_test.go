package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/bench"
	"github.com/efferent/efferent/policy/remote"
)

// fleetToken is the replicas' shared token: through a proxy the Host
// header names the proxy's port, which efferent answers only with a token.
const fleetToken = "fleet-test-token-0123456789"

// replica is one `efferent serve` process of the fleet.
type replica struct {
	cmd    *exec.Cmd
	addr   string
	exited chan error
	out    *bytes.Buffer
}

// startReplica starts `efferent serve` (the bundled model, the fleet's
// token) in a process of its own and waits until /readyz says ready.
func startReplica(t *testing.T, dir string, i int) *replica {
	t.Helper()
	addrFile := filepath.Join(dir, fmt.Sprintf("addr%d", i))
	r := &replica{cmd: exec.Command(os.Args[0], "-test.run=^TestServeChild$", "-test.count=1"), exited: make(chan error, 1), out: &bytes.Buffer{}}
	r.cmd.Env = append(os.Environ(), "EFFERENT_SERVE_CHILD="+addrFile, "EFFERENT_CONFIG=", "EFFERENT_TOKEN="+fleetToken)
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.exited <- r.cmd.Wait() }()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.exited
	})
	deadline := time.Now().Add(60 * time.Second)
	for r.addr == "" {
		if b, err := os.ReadFile(addrFile); err == nil {
			r.addr = string(b)
			break
		}
		select {
		case err := <-r.exited:
			t.Fatalf("replica %d exited before listening: %v\n%s", i, err, r.out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %d did not listen within 60s", i)
		}
	}
	waitReady(t, "http://"+r.addr+"/readyz", deadline)
	return r
}

func waitReady(t *testing.T, url string, deadline time.Time) {
	t.Helper()
	for {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready in time: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fleetLoad is what the clients saw.
type fleetLoad struct {
	mu sync.Mutex
	// ok are the answered requests' completion times; stale the replies
	// refused as another request's (remote.ErrStale); gaps each client's
	// longest time without an answer after the kill.
	ok       []time.Time
	stale    int
	failures int
	gap      []time.Duration
	seqErr   error
}

// TestFleetBehindHAProxy: three `efferent serve` replicas behind HAProxy
// (deploy/haproxy.cfg as shipped) and 8 robots' remote clients over
// openpi's protocol. One replica is killed under load: every client is
// answered again within 2 s, no reply is stale or answers twice, and the
// throughput recovers. The throughput of 3 replicas against 1 is logged
// (2 cores: a check of the mechanism, not of scaling).
func TestFleetBehindHAProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three server processes and HAProxy")
	}
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("no haproxy (make setup-test installs Debian's)")
	}
	dir := t.TempDir()
	var reps []*replica
	for i := range 3 {
		reps = append(reps, startReplica(t, dir, i+1))
	}
	// One replica behind its own HAProxy (all three server lines name
	// it), for the comparison; then the fleet.
	one := startHAProxy(t, haproxy, reps[0].addr, reps[0].addr, reps[0].addr)
	front := startHAProxy(t, haproxy, reps[0].addr, reps[1].addr, reps[2].addr)
	single := measureLoad(t, "ws://"+one, 8, 2*time.Second, nil)
	const before, after = 3 * time.Second, 4 * time.Second
	kill := func() {
		if err := reps[1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Error(err)
		}
	}
	load := measureLoad(t, "ws://"+front, 8, before+after, &killAt{after: before, do: kill})
	if load.seqErr != nil {
		t.Fatal(load.seqErr)
	}
	if load.stale != 0 {
		t.Fatalf("%d stale replies", load.stale)
	}
	for i, g := range load.gap {
		if g > 2*time.Second {
			t.Errorf("client %d: %v without an answer after the kill (want ≤ 2 s)", i, g.Round(time.Millisecond))
		}
	}
	start := load.ok[0]
	rate := func(from, to time.Duration) float64 {
		n := 0
		for _, at := range load.ok {
			if d := at.Sub(start); d >= from && d < to {
				n++
			}
		}
		return float64(n) / (to - from).Seconds()
	}
	pre, post := rate(time.Second, before), rate(before+2*time.Second, before+after)
	t.Logf("3 replicas: %.0f req/s before the kill, %.0f req/s 2–4 s after it (2 replicas); 1 replica behind HAProxy: %.0f req/s; "+
		"failed calls around the kill %d; longest client gap %v",
		pre, post, single.rate(), load.failures, maxDuration(load.gap).Round(time.Millisecond))
	if post < 0.5*pre {
		t.Errorf("throughput did not recover: %.0f req/s after the kill, %.0f before", post, pre)
	}
}

// startHAProxy runs HAProxy with deploy/haproxy.cfg as shipped in front
// of the three replica addresses, and returns its address once it
// answers /readyz through a replica.
func startHAProxy(t *testing.T, haproxy string, r1, r2, r3 string) string {
	t.Helper()
	front := net.JoinHostPort("127.0.0.1", freePort(t, "127.0.0.1"))
	hp := exec.Command(haproxy, "-db", "-f", filepath.Join("..", "..", "deploy", "haproxy.cfg"))
	hp.Env = append(os.Environ(), "EFFERENT_FLEET_BIND="+front, "EFFERENT_REPLICA_1="+r1, "EFFERENT_REPLICA_2="+r2, "EFFERENT_REPLICA_3="+r3)
	var out bytes.Buffer
	hp.Stdout, hp.Stderr = &out, &out
	if err := hp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = hp.Process.Kill()
		_ = hp.Wait()
		if t.Failed() {
			t.Logf("haproxy %s:\n%s", front, tail(out.String(), 3000))
		}
	})
	waitReady(t, "http://"+front+"/readyz", time.Now().Add(20*time.Second))
	return front
}

// killAt runs do once, after after of load.
type killAt struct {
	after time.Duration
	do    func()
}

// measureLoad runs n remote clients against url for dur, each sending
// LIBERO-sized observations back to back with increasing seqs, and
// checks every answer is to the request just sent.
func measureLoad(t *testing.T, url string, n int, dur time.Duration, k *killAt) *fleetLoad {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dur+30*time.Second)
	defer cancel()
	res := &fleetLoad{gap: make([]time.Duration, n)}
	start := time.Now()
	var killed time.Time
	var killOnce sync.Once
	var wg sync.WaitGroup
	for c := range n {
		wg.Go(func() {
			cl, err := remote.Connect(ctx, url, remote.Conf{Token: fleetToken, ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond})
			if err != nil {
				t.Errorf("client %d: %v", c, err)
				return
			}
			defer cl.Close()
			obs := bench.LiberoObservation(uint64(c))
			var ch efferent.Chunk
			var lastOK time.Time
			for seq := uint64(1); time.Since(start) < dur; seq++ {
				if k != nil && time.Since(start) >= k.after {
					killOnce.Do(func() {
						res.mu.Lock()
						killed = time.Now()
						res.mu.Unlock()
						k.do()
					})
				}
				obs.Seq = seq
				err := cl.Infer(ctx, &obs, &ch)
				now := time.Now()
				res.mu.Lock()
				switch {
				case err == nil && ch.Seq != seq:
					res.seqErr = fmt.Errorf("client %d: answer for seq %d to request %d", c, ch.Seq, seq)
				case err == nil:
					res.ok = append(res.ok, now)
					if !killed.IsZero() && !lastOK.IsZero() && lastOK.Before(killed) {
						res.gap[c] = max(res.gap[c], now.Sub(killed))
					}
					lastOK = now
				case errors.Is(err, remote.ErrStale):
					res.stale++
				default:
					res.failures++
				}
				res.mu.Unlock()
				if err != nil {
					time.Sleep(5 * time.Millisecond) // a reconnect wait in progress answers at once
				}
			}
		})
	}
	wg.Wait()
	if len(res.ok) == 0 {
		t.Fatalf("%s: no request answered", url)
	}
	return res
}

func (l *fleetLoad) rate() float64 {
	return float64(len(l.ok)) / l.ok[len(l.ok)-1].Sub(l.ok[0]).Seconds()
}

func maxDuration(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
