package control_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/efferent/efferent/control"
)

// TestPreciseClock: never early, honours the context. (The one test here
// that sleeps, 2 ms, since it is about sleeping.)
func TestPreciseClock(t *testing.T) {
	for _, c := range []control.PreciseClock{{}, {Spin: 500 * time.Microsecond}} {
		d := c.Now().Add(2 * time.Millisecond)
		if err := c.SleepUntil(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		if now := c.Now(); now.Before(d) {
			t.Fatalf("spin %v: woke %v early", c.Spin, d.Sub(now))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (control.PreciseClock{}).SleepUntil(ctx, time.Now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if err := (control.PreciseClock{}).SleepUntil(context.Background(), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
}
