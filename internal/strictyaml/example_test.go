package strictyaml_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/efferent/efferent/internal/strictyaml"
)

func ExampleDecode() {
	type Camera struct {
		Topic  string  `yaml:"topic"`
		RateHz float64 `yaml:"rate_hz"`
	}
	var conf struct {
		Server struct {
			Addr    string        `yaml:"addr"`
			Timeout time.Duration `yaml:"timeout"`
		} `yaml:"server"`
		Cameras []Camera `yaml:"cameras"`
	}
	doc := `
server:
  addr: 127.0.0.1:8000
cameras:
  - {topic: /front, rate_hz: 30}
  - topic: /wrist
    rate: 15
`
	err := strictyaml.Decode([]byte(doc), &conf)
	fmt.Println(err)

	var e *strictyaml.Error
	if errors.As(err, &e) {
		fmt.Println(e.Path, e.Line, e.Known)
	}

	err = strictyaml.Decode([]byte("server:\n  timeout: soon\n"), &conf)
	fmt.Println(err)
	// Output:
	// line 7: cameras[1].rate: unknown key (known: rate_hz, topic)
	// cameras[1].rate 7 [rate_hz topic]
	// line 2: server.timeout: cannot unmarshal !!str `soon` into time.Duration
}
