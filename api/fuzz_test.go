package api

import (
	"reflect"
	"testing"
)

func FuzzDecode(f *testing.F) {
	for _, tc := range valueCases {
		b, _ := AppendAny(nil, tc.in)
		f.Add(b)
	}
	o := liberoObs(2)
	f.Add(EncodeObservation(nil, &o, liberoSpec()))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data, Limits{})
		if err != nil {
			return
		}
		// A decoded tree re-encodes to something that decodes to the same
		// tree (bin/str keys and ndarrays included).
		again, err := Decode(reencode(t, v), Limits{})
		if err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalise(v), normalise(again)) {
			t.Fatalf("round trip changed the value:\n%+v\n%+v", v, again)
		}
	})
}

// reencode writes v back with the package's own encoder pieces.
func reencode(t *testing.T, v Value) []byte {
	var b []byte
	var enc func(v Value)
	enc = func(v Value) {
		switch v.Kind {
		case Nil:
			b = append(b, 0xc0)
		case Bool:
			b = appendBool(b, v.Bool)
		case Int:
			b = appendInt(b, v.Int)
		case Float:
			b = appendFloat64(b, v.Float)
		case Str:
			b = appendStr(b, v.Str)
		case Bin:
			b = append(appendBinHeader(b, len(v.Bin)), v.Bin...)
		case List:
			b = appendArrayLen(b, len(v.List))
			for _, e := range v.List {
				enc(e)
			}
		case Map:
			b = appendMapLen(b, len(v.Map))
			for _, e := range v.Map {
				if e.BinKey {
					b = appendBinStr(b, e.Key)
				} else {
					b = appendStr(b, e.Key)
				}
				enc(e.Val)
			}
		case Array:
			b = append(appendNDArrayHeader(b, len(v.Array.Data)), v.Array.Data...)
			b = appendNDArrayTail(b, v.Array.DType.String(), v.Array.Shape)
		}
	}
	enc(v)
	return b
}

// normalise drops differences that re-encoding legitimately introduces:
// NaN, and dtype byte-order spellings ('|', '=' and '<' for one byte).
func normalise(v Value) Value {
	if v.Kind == Float && v.Float != v.Float {
		v.Float, v.Str = 0, "NaN" // NaN != NaN would fail DeepEqual
	}
	if v.Kind == Array {
		a := *v.Array
		if a.DType.Size == 1 {
			a.DType.BigEndian = false
		}
		v.Array = &a
	}
	for i := range v.List {
		v.List[i] = normalise(v.List[i])
	}
	for i := range v.Map {
		v.Map[i].Val = normalise(v.Map[i].Val)
	}
	return v
}

func FuzzDecodeObservation(f *testing.F) {
	o := liberoObs(8)
	f.Add(EncodeObservation(nil, &o, liberoSpec()))
	o.Prompt = ""
	f.Add(EncodeObservation(nil, &o, liberoSpec()))
	f.Fuzz(func(t *testing.T, data []byte) {
		obs, err := DecodeObservation(data, liberoSpec(), Limits{})
		if err != nil {
			return
		}
		if len(obs.State) != 8 || obs.Prompt == "" || len(obs.Images) != 2 {
			t.Fatalf("accepted an incomplete observation: %+v", obs)
		}
		for k, im := range obs.Images {
			if err := im.Validate(); err != nil || im.C != 3 {
				t.Fatalf("%s: accepted a bad image: %v", k, err)
			}
		}
	})
}
