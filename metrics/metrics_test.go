package metrics_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/metrics"
	"github.com/efferent/efferent/safety"
)

// TestScrapeNamesStaleInput: a scrape names the stale input with its age,
// beside the loop's and the link's counters.
func TestScrapeNamesStaleInput(t *testing.T) {
	c, err := metrics.New(metrics.Conf{
		Loop: func() control.Stats {
			st := control.Stats{Ticks: 1200, Holds: 300, StaleEvents: 1, StaleHolds: 300, Discarded: 1, Lead: 30 * time.Millisecond,
				StaleInput: "camera observation/image (/cam)", StaleAge: 420 * time.Millisecond}
			st.Verdicts[2] = 300
			st.Chunks.Expired = 7
			return st
		},
		Inputs: func() []metrics.Input {
			return []metrics.Input{
				{Name: "robot state (/franka_state_controller/franka_states)", Age: 2 * time.Millisecond, MaxAge: 50 * time.Millisecond},
				{Name: "camera observation/image (/cam)", Age: 420 * time.Millisecond, MaxAge: 150 * time.Millisecond, Stale: true, Holds: 270},
			}
		},
		Link: func() metrics.Link {
			return metrics.Link{MasterUp: true, MasterLosses: 1, Reconnects: 1, Published: 1000, Holds: 300}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`efferent_loop_ticks_total 1200`,
		`efferent_loop_verdicts_total{kind="held"} 300`,
		`efferent_loop_stale{input="camera observation/image (/cam)"} 1`,
		`efferent_loop_stale_holds_total 300`,
		`efferent_loop_chunks_total{outcome="discarded"} 1`,
		`efferent_loop_chunks_total{outcome="expired"} 7`,
		`efferent_loop_holds_total 300`,
		`efferent_loop_inference_lead_seconds 0.03`,
		`efferent_input_age_seconds{input="camera observation/image (/cam)"} 0.42`,
		`efferent_input_max_age_seconds{input="camera observation/image (/cam)"} 0.15`,
		`efferent_input_stale{input="camera observation/image (/cam)"} 1`,
		`efferent_input_stale{input="robot state (/franka_state_controller/franka_states)"} 0`,
		`efferent_input_stale_holds_total{input="camera observation/image (/cam)"} 270`,
		`efferent_link_master_losses_total 1`,
		`efferent_link_commands_total{kind="motion"} 700`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(string(body))
	}
}

func TestNeedsLoop(t *testing.T) {
	if _, err := metrics.New(metrics.Conf{}); err == nil {
		t.Fatal("no error without Conf.Loop")
	}
}

// Example: a run's /metrics beside its other routes.
func Example() {
	var loop *control.Loop // the run's loop (control.New)
	c, err := metrics.New(metrics.Conf{Loop: func() control.Stats {
		if loop == nil {
			return control.Stats{}
		}
		return loop.Stats()
	}})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(strings.Contains(string(body), "efferent_loop_ticks_total 0"))
	// Output: true
}

// TestScrapeReasonsAndEStop: holds by reason (every reason, zeros
// included), the clamp and refusal reasons that occurred, and the e-stop's
// state from a real safety.EStop — also when the Collector is registered
// on another registry that has Go's series already (efferent run --serve).
func TestScrapeReasonsAndEStop(t *testing.T) {
	estop := safety.NewEStop(nil)
	c, err := metrics.New(metrics.Conf{
		Loop: func() control.Stats {
			var st control.Stats
			st.HoldReasons[control.ReasonIndex(safety.ReasonEStop)] = 40
			st.HoldReasons[control.ReasonIndex(safety.ReasonNoChunk)] = 3
			st.RefuseReasons[control.ReasonIndex(safety.ReasonEStop)] = 40
			st.ClampReasons[control.ReasonIndex(safety.ReasonStepLimit)] = 5
			return st
		},
		EStop: estop.Status,
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := reg.Register(c); err != nil {
		t.Fatalf("registering the Collector beside Go's series: %v", err)
	}
	scrape := func() string {
		srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
		defer srv.Close()
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("scrape: %d %s", resp.StatusCode, body)
		}
		return string(body)
	}
	expect := func(body string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(body, w+"\n") {
				t.Errorf("scrape lacks %q", w)
			}
		}
	}
	body := scrape()
	expect(body,
		`efferent_loop_holds_by_reason_total{reason="estop"} 40`,
		`efferent_loop_holds_by_reason_total{reason="no_chunk"} 3`,
		`efferent_loop_holds_by_reason_total{reason="watchdog"} 0`,
		`efferent_loop_holds_by_reason_total{reason="other"} 0`,
		`efferent_loop_verdict_reasons_total{kind="refused",reason="estop"} 40`,
		`efferent_loop_verdict_reasons_total{kind="clamped",reason="step_limit"} 5`,
		`efferent_estop_engaged 0`,
		`efferent_estop_trips_total 0`,
	)
	if n := strings.Count(body, "\ngo_goroutines "); n != 1 {
		t.Errorf("Go's series %d times, want once (from the other registry)", n)
	}
	if strings.Contains(body, `efferent_loop_verdict_reasons_total{kind="clamped",reason="position_limit"}`) {
		t.Error("a verdict reason that never occurred is listed")
	}
	estop.Trigger("test")
	estop.Trigger("test again")
	expect(scrape(), `efferent_estop_engaged 1`, `efferent_estop_trips_total 1`, `efferent_estop_triggers_total 2`)
	estop.Reset()
	estop.Trigger("test")
	expect(scrape(), `efferent_estop_engaged 1`, `efferent_estop_trips_total 2`, `efferent_estop_triggers_total 3`)
	if t.Failed() {
		t.Log(scrape())
	}
}
