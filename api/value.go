package api

// Kind is the type of a decoded Value.
type Kind uint8

// The kinds of Value. Array is a numpy ndarray; Generic a numpy scalar.
const (
	Nil Kind = iota
	Bool
	Int
	Float
	Str
	Bin
	List
	Map
	Array
)

var kindNames = [...]string{"nil", "bool", "int", "float", "str", "bin", "array", "map", "ndarray"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Value is one decoded msgpack value. Only the field for its Kind is set.
// Large msgpack uints that do not fit int64 are refused by the decoder.
type Value struct {
	Kind  Kind
	Bool  bool
	Int   int64
	Float float64
	Str   string
	Bin   []byte // aliases the input
	List  []Value
	Map   []Entry // in wire order
	Array *NDArray
}

// Entry is one map entry. BinKey says whether the key was msgpack bin.
type Entry struct {
	Key    string
	BinKey bool
	Val    Value
}

// Get returns the value of key in a Map value.
func (v *Value) Get(key string) (*Value, bool) {
	for i := range v.Map {
		if v.Map[i].Key == key {
			return &v.Map[i].Val, true
		}
	}
	return nil, false
}

// Number returns an Int or Float value as float64.
func (v *Value) Number() (float64, bool) {
	switch v.Kind {
	case Int:
		return float64(v.Int), true
	case Float:
		return v.Float, true
	}
	return 0, false
}
