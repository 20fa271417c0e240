package policy_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/policy"
)

// reach is a tiny policy written in Go: each of its actions moves a
// tenth of the way from the state's first three values towards the
// origin. A real policy runs a model (policy/ort), or asks a server
// (policy/remote); whatever it does, the rest of efferent sees only the
// Policy interface.
type reach struct{}

func (reach) Metadata() policy.Metadata {
	return policy.Metadata{
		Name:      "reach",
		ImageKeys: []string{"observation/image"}, ImageHeight: 4, ImageWidth: 4,
		StateKey: "observation/state", StateDim: 3,
		PromptKey: "prompt", MaxPromptBytes: 256,
		Horizon: 2, Dim: 3, StepPeriod: 50 * time.Millisecond,
	}
}

func (reach) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	if len(obs.State) != 3 {
		return fmt.Errorf("reach: state has %d values, want 3", len(obs.State))
	}
	out.H, out.D = 2, 3
	out.Actions = out.Actions[:0] // reuse the caller's buffer
	pos := [3]float64(obs.State)
	for range out.H {
		for d := range pos {
			pos[d] *= 0.9
		}
		out.Actions = append(out.Actions, pos[:]...)
	}
	out.ObsTime, out.Seq, out.Model = obs.Time, obs.Seq, "reach"
	out.StepPeriod = 50 * time.Millisecond
	return nil
}

func (reach) Close() error { return nil }

// Implementing Policy: Infer fills a chunk of Horizon actions of Dim
// values each, row-major.
func ExamplePolicy() {
	var p policy.Policy = reach{}
	defer p.Close()

	obs := efferent.Observation{
		Images: map[string]efferent.Image{"observation/image": {H: 4, W: 4, C: 3, Pix: make([]byte, 4*4*3)}},
		State:  []float64{1, -2, 0.5},
		Prompt: "reach the origin",
		Seq:    1,
	}
	var chunk efferent.Chunk
	if err := p.Infer(context.Background(), &obs, &chunk); err != nil {
		log.Fatal(err)
	}
	for t := range chunk.H {
		fmt.Printf("action %d: %.3f\n", t, chunk.Row(t))
	}
	// Output:
	// action 0: [0.900 -1.800 0.450]
	// action 1: [0.810 -1.620 0.405]
}

// SelectDims keeps some of a policy's action dims, e.g. for a robot that
// takes fewer than the policy produces.
func ExampleSelectDims() {
	p, err := policy.SelectDims(reach{}, []int{2, 0}) // z then x
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close() // closes reach{} too

	obs := efferent.Observation{State: []float64{1, -2, 0.5}}
	var chunk efferent.Chunk
	if err := p.Infer(context.Background(), &obs, &chunk); err != nil {
		log.Fatal(err)
	}
	fmt.Println("dims:", p.Metadata().Dim)
	fmt.Printf("%.3f\n", chunk.Actions)

	if _, err := policy.SelectDims(reach{}, []int{3}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// dims: 2
	// [0.450 0.900 0.405 0.810]
	// policy: dims[0] = 3: reach produces 3 action dims (0 .. 2)
}

// InferBatch answers several observations: in one model run for a
// Batcher (policy/ort's models with a dynamic batch axis), one Infer per
// row for any other Policy.
func ExampleInferBatch() {
	p := reach{}
	fmt.Println("max batch:", policy.MaxBatch(p))

	obs := []*efferent.Observation{{State: []float64{1, 0, 0}}, {State: []float64{1}}}
	out := []*efferent.Chunk{{}, {}}
	errs := make([]error, len(obs))
	policy.InferBatch(context.Background(), p, obs, out, errs)
	for i := range obs {
		if errs[i] != nil {
			fmt.Printf("row %d: %v\n", i, errs[i])
			continue
		}
		fmt.Printf("row %d: %.2f\n", i, out[i].Row(0))
	}
	// Output:
	// max batch: 1
	// row 0: [0.90 0.00 0.00]
	// row 1: reach: state has 1 values, want 3
}

// A model directory is read from any fs.FS: here the runtime fixture
// compiled into the efferent binary (a directory would be os.DirFS). LoadManifest needs no ONNX Runtime: it reads and
// checks manifest.yaml (strictly: a misspelt key is an error naming it)
// and that the files it names exist; policy/ort's Open then runs it.
func ExampleLoadManifest() {
	fsys, err := models.Embedded(models.Fixture)
	if err != nil {
		log.Fatal(err)
	}
	m, err := policy.LoadManifest(fsys, "embedded:"+models.Fixture)
	if err != nil {
		log.Fatal(err)
	}
	md := m.Metadata()
	fmt.Println(md.Name, md.Weights)
	fmt.Println("cameras:", md.ImageKeys, md.ImageWidth, "x", md.ImageHeight)
	fmt.Println("state:", md.StateKey, md.StateDim)
	fmt.Printf("chunk: %d actions of %d dims, every %v\n", md.Horizon, md.Dim, md.StepPeriod)

	_, err = policy.ParseManifest([]byte("format: efferent-model/1\nname: x\nobservation:\n  image_heigth: 224\n"))
	fmt.Println(err)
	// Output:
	// efferent-fixture random
	// cameras: [observation/image observation/wrist_image] 224 x 224
	// state: observation/state 8
	// chunk: 5 actions of 7 dims, every 50ms
	// invalid model manifest: line 4: observation.image_heigth: unknown key; did you mean image_height? (known: center_crop, color, image_height, image_width, images, interpolation, prompt, resize, rotate, state)
}
