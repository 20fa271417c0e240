// Package rostest runs Debian's real ROS 1 for tests: a rosmaster on a
// free port, the rostopic CLI against it, and extra goroslib nodes playing
// the robot. Tests skip, saying why, where ROS is not installed (`make
// test` installs it).
package rostest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2"
)

// Need skips t in -short mode or when rosmaster or rostopic is missing.
func Need(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: needs ROS 1 (rosmaster, rostopic)")
	}
	for _, tool := range []string{"rosmaster", "rostopic"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make test installs Debian's python3-rosmaster and python3-rostopic)", tool)
		}
	}
}

// Master is a running rosmaster.
type Master struct {
	Addr string // 127.0.0.1:PORT
	Port int
	cmd  *exec.Cmd
	home string
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Start runs rosmaster on port (0: a free one) and waits until it answers;
// it is killed when the test ends.
func Start(t testing.TB, port int) *Master {
	t.Helper()
	if port == 0 {
		port = freePort(t)
	}
	m := &Master{Port: port, Addr: fmt.Sprintf("127.0.0.1:%d", port), home: t.TempDir()}
	m.cmd = exec.Command("rosmaster", "--core", "-p", strconv.Itoa(port))
	m.cmd.Env = m.env()
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Kill)
	deadline := time.Now().Add(10 * time.Second)
	for !m.up() {
		if time.Now().After(deadline) {
			t.Fatalf("rosmaster on %s did not answer within 10 s", m.Addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return m
}

func (m *Master) env() []string {
	return append(os.Environ(), "ROS_HOME="+m.home, "ROS_MASTER_URI=http://"+m.Addr)
}

// up asks the master for its PID (XML-RPC getPid).
func (m *Master) up() bool {
	body := `<?xml version="1.0"?><methodCall><methodName>getPid</methodName><params><param><value><string>/rostest</string></value></param></params></methodCall>`
	c := http.Client{Timeout: 200 * time.Millisecond}
	resp, err := c.Post("http://"+m.Addr+"/", "text/xml", bytes.NewBufferString(body))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Kill kills the master (and waits for it). Safe to call twice.
func (m *Master) Kill() {
	if m.cmd.Process != nil {
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		_ = m.cmd.Wait()
		m.cmd.Process = nil
	}
}

// Rostopic is the real rostopic CLI against m; ctx's end interrupts it.
func (m *Master) Rostopic(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "rostopic", args...)
	cmd.Env = m.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
	cmd.WaitDelay = 3 * time.Second
	return cmd
}

var avgRate = regexp.MustCompile(`average rate: ([0-9.]+)`)

// Hz runs `rostopic hz topic` for d and returns the last average rate it
// printed (over its whole window).
func (m *Master) Hz(t testing.TB, topic string, d time.Duration) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	out, _ := m.Rostopic(ctx, "hz", topic).CombinedOutput()
	all := avgRate.FindAllStringSubmatch(string(out), -1)
	if len(all) == 0 {
		t.Fatalf("rostopic hz %s printed no rate:\n%s", topic, out)
	}
	r, _ := strconv.ParseFloat(all[len(all)-1][1], 64)
	t.Logf("rostopic hz %s: average rate %.2f (%d reports)", topic, r, len(all))
	return r
}

// Node is another ROS node in the test process (the robot side),
// closed when the test ends.
func (m *Master) Node(t testing.TB, name string) *goroslib.Node {
	t.Helper()
	n, err := goroslib.NewNode(goroslib.NodeConf{Name: name, MasterAddress: m.Addr, Host: "127.0.0.1",
		LogDestinations: goroslib.LogDestinationCallback})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

// Publish writes a fresh message from next() on topic every period until
// the test ends, or until the returned function is called (it returns
// once publishing has stopped; later calls do nothing).
func Publish[T any](t testing.TB, n *goroslib.Node, topic string, period time.Duration, next func() *T) (stop func()) {
	t.Helper()
	pub, err := goroslib.NewPublisher(goroslib.PublisherConf{Node: n, Topic: topic, Msg: new(T)})
	if err != nil {
		t.Fatal(err)
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(period)
		defer tk.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tk.C:
				pub.Write(next())
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(quit); <-done }) }
	t.Cleanup(func() { stop(); pub.Close() })
	return stop
}
