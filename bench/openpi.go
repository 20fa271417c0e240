package bench

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// openpiServer is a Python server on openpi's wire stack (asyncio
// websockets, msgpack with openpi's numpy encoding) whose policy
// busy-waits for a given model cost: the comparison bench serve runs
// where the interpreter has msgpack and websockets.
//
//go:embed openpi/server.py
var openpiServer []byte

// pythonStack checks that python can run the openpi stack: "" when it
// can, else why not.
func pythonStack(python string) string {
	out, err := exec.Command(python, "-c", "import msgpack, websockets, numpy").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%s cannot import msgpack, websockets and numpy (apt-get install python3-msgpack python3-websockets python3-numpy): %v %s",
			python, err, strings.TrimSpace(string(out)))
	}
	return ""
}

// startOpenpi runs the openpi-stack server with python on a free port and
// returns its URL and a stop function.
func startOpenpi(ctx context.Context, python string, inferMS float64, shape [2]int) (string, func(), error) {
	dir, err := os.MkdirTemp("", "efferent-openpi")
	if err != nil {
		return "", nil, err
	}
	script := filepath.Join(dir, "server.py")
	if err := os.WriteFile(script, openpiServer, 0o644); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	port, err := freeLoopbackPort()
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	cmd := exec.CommandContext(ctx, python, script, "--port", strconv.Itoa(port),
		"--infer-ms", strconv.FormatFloat(inferMS, 'f', 3, 64), "--horizon", strconv.Itoa(shape[0]), "--dim", strconv.Itoa(shape[1]))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- strings.HasPrefix(line, "listening")
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case ok := <-ready:
		if !ok {
			stop()
			return "", nil, fmt.Errorf("openpi stack: %s did not start", script)
		}
	case <-time.After(20 * time.Second):
		stop()
		return "", nil, fmt.Errorf("openpi stack: not listening after 20 s")
	}
	return fmt.Sprintf("ws://127.0.0.1:%d", port), stop, nil
}

// freeLoopbackPort is a loopback port nothing listened on a moment ago.
func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
