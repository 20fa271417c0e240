package ros

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"
)

// BenchmarkPublishJitter1kHz drives the Franka profile's bridge at 1 kHz
// (a drift-free ticker spinning the last 200 µs, as the control loop's
// PreciseClock does) against a real rosmaster, and measures, in a separate
// subscriber node, the arrival interval of the equilibrium-pose messages:
// it reports how far intervals stray from 1 ms (p50, p99, max, in µs) and
// how many messages were lost. b.N is the number of milliseconds driven.
func BenchmarkPublishJitter1kHz(b *testing.B) {
	m, prof, br := readyFranka(b, Conf{})
	n := m.Node(b, "jitter_observer")
	var mu sync.Mutex
	arrivals := make([]time.Time, 0, b.N+1024)
	sub, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: n, Topic: prof.Command.Topic,
		Callback: func(*geometry_msgs.PoseStamped) { mu.Lock(); arrivals = append(arrivals, time.Now()); mu.Unlock() }})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	time.Sleep(500 * time.Millisecond) // let the subscriber connect before counting
	stop := make(chan struct{})
	done := make(chan struct{})
	mu.Lock()
	arrivals = arrivals[:0]
	mu.Unlock()
	b.ResetTimer()
	var sent int
	go func() { sent = drive(br, time.Millisecond, []float64{0, 0, 0, 0, 0, 0, 0}, stop); close(done) }()
	time.Sleep(time.Duration(b.N) * time.Millisecond)
	close(stop)
	<-done
	stopAt := time.Now()
	b.StopTimer()
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	// After the drive stops the watchdog sends hold commands: count only
	// what arrived while driving (plus what was in flight, 5 ms).
	for len(arrivals) > 0 && arrivals[len(arrivals)-1].After(stopAt.Add(5*time.Millisecond)) {
		arrivals = arrivals[:len(arrivals)-1]
	}
	if len(arrivals) < 2 {
		b.Fatalf("%d messages arrived", len(arrivals))
	}
	dev := make([]float64, 0, len(arrivals))
	for i := 1; i < len(arrivals); i++ {
		d := arrivals[i].Sub(arrivals[i-1]) - time.Millisecond
		if d < 0 {
			d = -d
		}
		dev = append(dev, float64(d.Microseconds()))
	}
	slices.Sort(dev)
	q := func(p float64) float64 { return dev[min(len(dev)-1, int(p*float64(len(dev))))] }
	b.ReportMetric(q(0.50), "p50-jitter-µs")
	b.ReportMetric(q(0.99), "p99-jitter-µs")
	b.ReportMetric(dev[len(dev)-1], "max-jitter-µs")
	b.ReportMetric(float64(max(0, sent-len(arrivals))), "lost")
	b.ReportMetric(float64(sent), "sent")
}
