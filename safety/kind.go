package safety

import "fmt"

// Kind says how one action dimension behaves over time. The scheduler
// interpolates by it and the gate limits by it.
type Kind uint8

const (
	// Absolute is a position or pose component: the value is where the
	// robot should be. Interpolated with a C1 cubic; step-limited by the
	// gate. The zero Kind.
	Absolute Kind = iota
	// Delta is a per-step increment (LIBERO's Δposition, Δaxis-angle): the
	// value is how far to move during one policy step. Spread evenly over
	// the controller ticks of the step; holding means 0.
	Delta
	// Binary is a discrete command such as a gripper open/close: held
	// (zero-order) for the whole step.
	Binary
)

// String returns "absolute", "delta" or "binary".
func (k Kind) String() string {
	switch k {
	case Absolute:
		return "absolute"
	case Delta:
		return "delta"
	case Binary:
		return "binary"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return k <= Binary }

// ParseKind parses "absolute", "delta" or "binary".
func ParseKind(s string) (Kind, error) {
	switch s {
	case "absolute":
		return Absolute, nil
	case "delta":
		return Delta, nil
	case "binary":
		return Binary, nil
	}
	return 0, fmt.Errorf("kind %q: want absolute, delta or binary", s)
}

// MarshalText implements encoding.TextMarshaler (YAML, JSON).
func (k Kind) MarshalText() ([]byte, error) {
	if !k.Valid() {
		return nil, fmt.Errorf("kind %d: want absolute, delta or binary", uint8(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler (YAML, JSON).
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}
