package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// fuzzConf has the shapes a configuration file has.
type fuzzConf struct {
	Base   `yaml:",inline"`
	Server struct {
		Addr    string        `yaml:"addr"`
		Timeout time.Duration `yaml:"timeout"`
		Rate    float64       `yaml:"rate,omitempty"`
		On      bool          `yaml:"on"`
	} `yaml:"server"`
	Cameras []camera          `yaml:"cameras"`
	Keys    map[string]camera `yaml:"keys"`
	Ptr     *camera           `yaml:"ptr"`
	Level   level             `yaml:"level"`
	Unit    unit              `yaml:"unit"`
	Meta    map[string]any    `yaml:"meta"`
	Skip    string            `yaml:"-"`
	Pair    [2]int            `yaml:"pair"`
	Small   uint8             `yaml:"small"`
	Tags    []string          `yaml:"tags"`
	Height  int
}

// FuzzDecode: Decode never panics; it refuses nothing that yaml.v3
// (KnownFields) accepts but what it refuses on purpose (limits, a second
// document, null keys); what it accepts it decodes as yaml.v3 does, and
// the value, encoded again, decodes to the same value.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		good, laughs, "", "# c\n", "---\n", "name: a\n---\nname: b\n",
		"server:\n  adr: x\n", "server:\n  addr: x\n  timeout: 1s\n  on: yes\n",
		"cameras:\n  - {topic: a, rate_hz: 1}\n  - topik: b\n",
		"keys:\n  w: &w {topic: a}\n  v: {<<: *w, rate_hz: 2}\n",
		"meta: {a: [1, 2.5, null, {b: c}], ~: 1, 1: 2}\n", "pair: [1, 2]\nsmall: 300\n",
		"level: high\nunit: mm\nheight: 4\nptr: ~\n", "a: &a [*a]\n", "<<: {name: x}\n",
		"tags: !!binary aGk=\n", "name: 'x'\nname: y\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got fuzzConf
		err := Decode(data, &got)

		var want fuzzConf
		yerr := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("yaml.v3 panicked: %v", p)
				}
			}()
			dec := yaml.NewDecoder(bytes.NewReader(data))
			dec.KnownFields(true)
			if err := dec.Decode(&want); !errors.Is(err, io.EOF) {
				return err
			}
			return nil
		}()
		if err != nil {
			if yerr == nil && !errors.Is(err, errStricter) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("refused what yaml.v3 accepts: %v", err)
			}
			var e *Error
			if errors.As(err, &e) && e.Line < 0 {
				t.Fatalf("line %d", e.Line)
			}
			return
		}
		if yerr != nil {
			t.Fatalf("accepted what yaml.v3 refuses (%v)", yerr)
		}
		enc, merr := yaml.Marshal(&got)
		if merr != nil {
			t.Fatalf("encoding the decoded value: %v", merr)
		}
		if w, _ := yaml.Marshal(&want); !bytes.Equal(enc, w) {
			t.Fatalf("decoded\n%s\nyaml.v3 decoded\n%s", enc, w)
		}
		var again fuzzConf
		err = Decode(enc, &again)
		// yaml.v3's encoder loses some distinctions in free-form values
		// (keys 0 and .0 both become 0): where yaml.v3 itself does not
		// decode its own output to the same value, neither can Decode.
		var ref fuzzConf
		rerr := yaml.Unmarshal(enc, &ref)
		renc, _ := yaml.Marshal(&ref)
		lossy := rerr != nil || !bytes.Equal(renc, enc)
		switch {
		case err != nil && (errors.Is(err, ErrTooLarge) || lossy):
		case err != nil:
			t.Fatalf("re-decoding\n%s\n: %v", enc, err)
		case lossy:
		default:
			if enc2, _ := yaml.Marshal(&again); !bytes.Equal(enc, enc2) {
				t.Fatalf("re-decoded differently:\n%s\nthen\n%s", enc, enc2)
			}
		}
	})
}
