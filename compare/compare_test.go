package compare

import (
	"encoding/json"
	"math"
	"testing"
)

func TestStats(t *testing.T) {
	s, err := New(Conf{Dim: 3, Gripper: 2})
	if err != nil {
		t.Fatal(err)
	}
	s.Add([]float64{1, 0, 1}, []float64{1, 0, 1})   // same: cos 1, grip agree
	s.Add([]float64{1, 0, -1}, []float64{-1, 0, 1}) // opposite: cos −1, grip disagree
	s.Add([]float64{0, 0, 1}, []float64{0, 2, 1})   // ref still: no cosine; grip agree
	got := s.Summary()
	if got.N != 3 || got.CosineN != 2 || got.Cosine != 0 {
		t.Fatalf("n %d cosine %g over %d", got.N, got.Cosine, got.CosineN)
	}
	if math.Abs(got.GripperAgreement-2.0/3) > 1e-12 {
		t.Fatalf("gripper agreement %g", got.GripperAgreement)
	}
	if got.MAE[0] != 2.0/3 || got.MaxAbs[1] != 2 || math.Abs(got.RMSE[2]-math.Sqrt(4.0/3)) > 1e-12 {
		t.Fatalf("%+v", got)
	}
	if a := testing.AllocsPerRun(100, func() { s.Add([]float64{1, 2, 3}, []float64{3, 2, 1}) }); a != 0 {
		t.Fatalf("%v allocs per Add", a)
	}
	if _, err := New(Conf{Dim: 2, Gripper: 2}); err == nil {
		t.Fatal("gripper out of range accepted")
	}
}

// Undefined values (nothing compared) are JSON null, not an error.
func TestSummaryJSON(t *testing.T) {
	s, _ := New(Conf{Dim: 2, Gripper: -1})
	b, err := json.Marshal(s.Summary())
	if err != nil || string(b) != `{"n":0,"mae":[0,0],"rmse":[0,0],"max_abs":[0,0],"cosine":null,"cosine_n":0,"gripper_agreement":null}` {
		t.Fatalf("%s %v", b, err)
	}
}
