package ort

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/tokenizer"
	"github.com/efferent/efferent/tokenizer/bins"
	"github.com/efferent/efferent/tokenizer/fast"
	"github.com/efferent/efferent/tokenizer/text"
	"github.com/efferent/efferent/tokenizer/vq"
)

// ErrObservation is wrapped when an observation does not fit the model
// (missing camera, wrong image size, wrong state length, NaN or beyond
// ±policy.MaxStateMagnitude, empty or too long prompt). The message names
// what was wrong. It is policy.ErrBadObservation, which servers answer as
// a bad request.
var ErrObservation = policy.ErrBadObservation

// size limits for auxiliary files named by a manifest.
const (
	maxTokenizerBytes = 64 << 20
	maxCodebookBytes  = 64 << 20
)

// VLA is a vision-language-action model under ONNX Runtime. It implements
// policy.Batcher: when both graphs have a symbolic batch axis, several
// observations run as one batch. Like every Policy it is owned by one
// goroutine.
type VLA struct {
	m     *policy.Manifest
	meta  policy.Metadata
	tok   *text.Tokenizer
	detok tokenizer.Detokenizer
	// bins is detok when the tokenizer is bins (real-time chunking forces
	// its tokens; forceGuide), nil otherwise.
	bins *bins.Tokenizer

	enc, dec *graph
	dt       dtypes // the float tensors' element types
	latent   *latentDecoder
	// maxBatch is maxBatchLimit when the graphs take any batch, else 1.
	maxBatch int

	// dev holds the key/value cache on a GPU (nil: host memory).
	dev      *device
	provider string // Conf.Provider
	arena    *arena
	runs     []*batchRun // runs[n-1]: batch size n, made on first use
	rows     []rowState  // per-row scratch of the group being run
	valid    []int       // the rows of the group whose observation fits

	one policy.One // Infer's batch of one

	noCache     bool          // Conf.NoKVCache
	truncations atomic.Uint64 // prompts cut to text.max_tokens (PromptsTruncated)
	timing      Timing        // the last run's stages

	// end is the detokenizer's end token (fast: chunks take a variable
	// number of tokens), −1 when every chunk takes TokensPerChunk.
	end int64
	// detokErrs counts the rows whose tokens the detokenizer refused.
	detokErrs atomic.Uint64
}

// ender is a detokenizer whose chunks take a variable number of tokens
// (fast): End is allowed at every position besides Allowed's band, a row
// stops decoding when it picks End, and Decode gets the row's tokens up
// to and including it.
type ender interface{ End() int64 }

// maxTimedSteps bounds the decoder steps Timing keeps.
const maxTimedSteps = 32

// Timing is how long the stages of the last Infer (or InferBatch group)
// took: the encoder (the prefix: images, state, instruction, and its
// key/values), each decoder step (one action token for every row), the
// detokenizer, and the whole call.
type Timing struct {
	Encoder time.Duration
	Steps   [maxTimedSteps]time.Duration
	NSteps  int
	Detok   time.Duration
	Total   time.Duration
}

// LastTiming returns the stages of the last Infer or InferBatch group
// (same goroutine as Infer).
func (v *VLA) LastTiming() Timing { return v.timing }

// rowState is one batch row's prompt ids (promptRow) and decoded action
// tokens, n of them (TokensPerChunk, or up to the end token).
type rowState struct {
	promptRow
	tokens []int64
	n      int
	// forced (real-time chunking, bins): the first nForced tokens are
	// the guide's, not the decoder's choice (see forceGuide).
	forced  []int64
	nForced int
}

var _ policy.Batcher = (*VLA)(nil)

// Open loads the model described by m and creates its sessions. The ONNX
// Runtime environment is initialised on first use (see Init).
func Open(m *policy.Manifest, conf Conf) (_ *VLA, err error) {
	conf, lib, err := prepare(conf)
	if err != nil {
		return nil, err
	}
	v := &VLA{m: m, meta: m.Metadata(), noCache: conf.NoKVCache, provider: conf.Provider}
	defer func() {
		if err != nil {
			v.Close()
		}
	}()
	if v.tok, err = textTokenizer(m); err != nil {
		return nil, err
	}
	if v.enc, err = describeGraph(m, m.Encoder.File); err != nil {
		return nil, err
	}
	if v.dec, err = describeGraph(m, m.Decoder.File); err != nil {
		return nil, err
	}
	v.dt = v.declaredTypes()
	if err := v.openDetokenizer(conf, lib); err != nil {
		return nil, err
	}
	encIns, encOuts := v.encoderSpecs(-1)
	decIns, decOuts := v.decoderSpecs(-1, -2)
	if err := v.enc.matches(encIns, encOuts); err != nil {
		return nil, err
	}
	if err := v.dec.matches(decIns, decOuts); err != nil {
		return nil, err
	}
	encDyn, err := batchAxis(v.enc, encIns, encOuts)
	if err != nil {
		return nil, err
	}
	decDyn, err := batchAxis(v.dec, decIns, decOuts)
	if err != nil {
		return nil, err
	}
	v.maxBatch = 1
	if encDyn && decDyn {
		v.maxBatch = maxBatchLimit
	}
	v.setProfiles(conf)
	if err := v.enc.open(conf, lib, encIns, encOuts); err != nil {
		return nil, err
	}
	if err := v.dec.open(conf, lib, decIns, decOuts); err != nil {
		return nil, err
	}
	if v.dev, err = newDevice(conf, lib); err != nil {
		return nil, err
	}
	// Batch 1 now: a broken binding shows at Open, not at the first request.
	if _, err := v.run(1); err != nil {
		return nil, err
	}
	return v, nil
}

// setProfiles gives TensorRT the range of shapes each graph runs: batches
// of 1 to conf.TensorRT.MaxBatch and, for the decoder, every past length
// from the prefix's to the last action token's.
func (v *VLA) setProfiles(conf Conf) {
	if conf.Provider != "tensorrt" {
		return // only TensorRT reads them
	}
	maxB := int64(min(v.maxBatch, conf.TensorRT.MaxBatch))
	P, steps := int64(v.m.Encoder.PrefixLen), int64(v.detok.TokensPerChunk())
	encIn := func(b int64) []tensorSpec { in, _ := v.encoderSpecs(b); return dynamicInputs(v.enc, in) }
	decIn := func(b, past int64) []tensorSpec { in, _ := v.decoderSpecs(b, past); return dynamicInputs(v.dec, in) }
	v.enc.prof = &shapeProfile{min: encIn(1), opt: encIn(1), max: encIn(maxB)}
	v.dec.prof = &shapeProfile{min: decIn(1, P), opt: decIn(1, P+steps/2), max: decIn(maxB, P+steps-1)}
}

// declaredTypes are the element types the graphs declare for the state,
// the key/values and the logits, where they are float types (float32
// otherwise: the graph check then names the mismatch).
func (v *VLA) declaredTypes() dtypes {
	m := v.m
	pick := func(have map[string]onnx.InputOutputInfo, name string) onnx.TensorElementDataType {
		if info, ok := have[name]; ok && isFloat(info.DataType) {
			return info.DataType
		}
		return onnx.TensorElementDataTypeFloat
	}
	return dtypes{
		state:  pick(v.enc.inputs, m.Obs.State.Input),
		kv:     pick(v.enc.outputs, policy.LayerName(m.Encoder.PresentKey, 0)),
		logits: pick(v.dec.outputs, m.Decoder.Logits),
	}
}

func (v *VLA) openDetokenizer(conf Conf, lib string) error {
	m := v.m
	a := m.Action
	norm, err := tokenizer.NewNormalizer(a.Normalization.Q01, a.Normalization.Q99, a.Normalization.Mask)
	if err != nil {
		return fmt.Errorf("model %s: action.normalization: %w", m.Source, err)
	}
	switch a.Tokenizer.Kind {
	case "vq":
		data, err := m.ReadFile(a.Tokenizer.Codebook, maxCodebookBytes)
		if err != nil {
			return err
		}
		cb, err := vq.ParseCodebook(data)
		if err != nil {
			return fmt.Errorf("model %s: action.tokenizer.codebook %s: %w", m.Source, a.Tokenizer.Codebook, err)
		}
		if cb.Horizon != a.Horizon || cb.Dim != a.Dim {
			return fmt.Errorf("model %s: action.tokenizer.codebook %s: chunk is %dx%d, manifest action is %dx%d",
				m.Source, a.Tokenizer.Codebook, cb.Horizon, cb.Dim, a.Horizon, a.Dim)
		}
		vc := vq.Conf{Base: a.Tokenizer.TokenBase, Direction: a.Tokenizer.Direction, Norm: norm}
		if ld := a.Tokenizer.LatentDecoder; ld != nil {
			if v.latent, err = openLatentDecoder(m, ld, cb.LatentDim, conf, lib); err != nil {
				return err
			}
			vc.Decoder = v.latent
		}
		if v.detok, err = vq.New(cb, vc); err != nil {
			return fmt.Errorf("model %s: action.tokenizer: %w", m.Source, err)
		}
	case "fast":
		t := a.Tokenizer
		data, err := m.ReadFile(t.Vocab, maxTokenizerBytes)
		if err != nil {
			return err
		}
		voc, err := fast.ParseVocab(data)
		if err != nil {
			return fmt.Errorf("model %s: action.tokenizer.vocab %s: %w", m.Source, t.Vocab, err)
		}
		if t.EndToken == nil {
			return fmt.Errorf("model %s: action.tokenizer.end_token is required for kind fast", m.Source)
		}
		v.detok, err = fast.New(fast.Conf{Horizon: a.Horizon, Dim: a.Dim, Vocab: voc, Scale: t.Scale, MinToken: t.MinToken,
			TokenBase: t.TokenBase, Direction: t.Direction, End: *t.EndToken, MaxTokens: t.MaxTokens,
			LogitsWidth: int64(m.Decoder.VocabSize), Norm: norm, NormEps: t.NormEps})
		if err != nil {
			return fmt.Errorf("model %s: action.tokenizer: %w", m.Source, err)
		}
	case "bins":
		v.bins, err = bins.New(bins.Conf{VocabSize: int64(a.Tokenizer.TokenizerVocab), LogitsWidth: int64(m.Decoder.VocabSize),
			Bins: a.Tokenizer.Bins, Dim: a.Dim, Horizon: a.Horizon, Norm: norm})
		if err != nil {
			return fmt.Errorf("model %s: action.tokenizer: %w", m.Source, err)
		}
		v.detok = v.bins
		// One token per dim and step: the steps a guide freezes have
		// tokens of their own (a chunk of one step has nothing to guide).
		v.meta.Guides = a.Horizon > 1
	}
	if v.detok.Horizon() != a.Horizon || v.detok.Dim() != a.Dim {
		return fmt.Errorf("model %s: action tokenizer decodes %dx%d chunks, manifest action is %dx%d",
			m.Source, v.detok.Horizon(), v.detok.Dim(), a.Horizon, a.Dim)
	}
	for i := 0; i < v.detok.TokensPerChunk(); i++ {
		if lo, hi := v.detok.Allowed(i); lo < 0 || hi >= int64(m.Decoder.VocabSize) {
			return fmt.Errorf("model %s: action token band [%d, %d] at position %d lies outside decoder.vocab_size %d",
				m.Source, lo, hi, i, m.Decoder.VocabSize)
		}
	}
	v.end = -1
	if e, ok := v.detok.(ender); ok && e.End() >= 0 {
		if v.end = e.End(); v.end >= int64(m.Decoder.VocabSize) {
			return fmt.Errorf("model %s: end token %d lies outside decoder.vocab_size %d", m.Source, v.end, m.Decoder.VocabSize)
		}
	}
	return nil
}

// Metadata implements policy.Policy.
func (v *VLA) Metadata() policy.Metadata { return v.meta }

// Manifest returns the manifest the model was opened from.
func (v *VLA) Manifest() *policy.Manifest { return v.m }

// MaxBatch implements policy.Batcher: how many rows one model run takes
// (1 when the graphs were exported with a fixed batch of one).
func (v *VLA) MaxBatch() int { return v.maxBatch }

// Infer implements policy.Policy: a batch of one (see InferBatch). Images
// must already have the model's size (see policy.Resizing for a wrapper
// that resizes).
func (v *VLA) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	return v.one.Infer(ctx, v, obs, out)
}

// InferBatch implements policy.Batcher: encode every row's prefix in one
// encoder run, then decode one action token per position for all rows at
// once, greedy and constrained to that position's band, then detokenize
// each row. Groups of MaxBatch rows run one after another.
func (v *VLA) InferBatch(ctx context.Context, obs []*efferent.Observation, out []*efferent.Chunk, errs []error) {
	inGroups(ctx, v.maxBatch, obs, out, errs, v.inferGroup)
}

// inferGroup runs at most maxBatch rows as one batch.
func (v *VLA) inferGroup(ctx context.Context, obs []*efferent.Observation, out []*efferent.Chunk, errs []error) {
	K := v.detok.TokensPerChunk()
	for len(v.rows) < len(obs) {
		v.rows = append(v.rows, rowState{promptRow: promptRow{ids: make([]int64, 0, v.m.Text.MaxTokens+8)}, tokens: make([]int64, K)})
	}
	v.valid = v.valid[:0]
	for i, o := range obs {
		if errs[i] = v.check(o, &v.rows[i]); errs[i] == nil {
			v.valid = append(v.valid, i)
			v.forceGuide(&v.rows[i], &o.Guide)
		}
	}
	n := len(v.valid)
	if n == 0 {
		return
	}
	start := time.Now()
	defer func() { v.timing.Total = time.Since(start) }()
	if err := v.runRows(ctx, obs, errs); err != nil {
		for _, i := range v.valid {
			errs[i] = err
		}
		return
	}
	H, D := v.meta.Horizon, v.meta.Dim
	detokStart := time.Now()
	defer func() { v.timing.Detok = time.Since(detokStart) }()
	for _, i := range v.valid {
		if errs[i] != nil {
			continue
		}
		c, toks := out[i], v.rows[i].tokens[:v.rows[i].n]
		if cap(c.Actions) < H*D {
			c.Actions = make([]float64, H*D)
		}
		c.Actions = c.Actions[:H*D]
		if err := v.detok.Decode(toks, c.Actions); err != nil {
			// Never a guessed (zero) chunk: the row fails, and is counted.
			v.detokErrs.Add(1)
			errs[i] = fmt.Errorf("model %s: detokenize %v: %w", v.m.Name, toks, err)
			continue
		}
		c.H, c.D = H, D
		c.Tokens = append(c.Tokens[:0], toks...)
		c.ObsTime, c.Seq = obs[i].Time, obs[i].Seq
		c.Model = v.m.Name
		c.StepPeriod = v.meta.StepPeriod
	}
}

// runRows runs the encoder and the decoder steps for the valid rows,
// leaving each row's action tokens in v.rows. A row whose logits cannot be
// decoded gets its own error in errs; an error returned fails every row.
func (v *VLA) runRows(ctx context.Context, obs []*efferent.Observation, errs []error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n := len(v.valid)
	r, err := v.run(n)
	if err != nil {
		return err
	}
	for j, i := range v.valid {
		v.write(r, j, obs[i], v.rows[i].ids)
	}
	v.arena.state.put(n)
	t0 := time.Now()
	if err := r.enc.run(); err != nil {
		return err
	}
	v.timing.Encoder = time.Since(t0)
	v.timing.NSteps = 0
	pm := r.prefixMask.GetData()
	for i, p := range pm {
		if p != 0 && p != 1 {
			return fmt.Errorf("%w: %s: %s[%d] = %d, want 0 or 1", ErrGraph, v.m.Encoder.File, v.m.Encoder.PrefixMask, i, p)
		}
	}
	P := v.m.Encoder.PrefixLen
	for s, a := range r.attn {
		d, total := a.GetData(), P+s+1
		for j := range n {
			copy(d[j*total:j*total+P], pm[j*P:(j+1)*P])
		}
	}
	ids, pos := r.inputID.GetData(), r.position.GetData()
	for j := range ids {
		ids[j] = v.m.Decoder.StartToken
	}
	logits, V := v.arena.logits.f32, v.m.Decoder.VocabSize
	for _, i := range v.valid {
		v.rows[i].n = len(r.steps)
	}
	active := n // rows that have not picked the end token
	for s, b := range r.steps {
		if active == 0 {
			break // every row has ended its chunk (v.end only)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		ts := time.Now()
		if v.noCache {
			if err := v.recompute(r, s); err != nil {
				return err
			}
		}
		v.positions(pos, pm, n, s)
		if err := b.run(); err != nil {
			return err
		}
		v.arena.logits.get(n)
		if s < maxTimedSteps {
			v.timing.Steps[s] = time.Since(ts)
			v.timing.NSteps = s + 1
		}
		lo, hi := v.detok.Allowed(s)
		for j, i := range v.valid {
			row := &v.rows[i]
			if row.n <= s { // ended: fed its end token again, ignored
				row.tokens[s], ids[j] = v.end, v.end
				continue
			}
			if s < row.nForced {
				row.tokens[s], ids[j] = row.forced[s], row.forced[s]
				continue
			}
			t, err := policy.ArgmaxBand(logits[j*V:(j+1)*V], lo, hi)
			if err == nil && v.end >= 0 {
				t, err = argmaxWithEnd(logits[j*V:(j+1)*V], t, v.end)
			}
			if err != nil && errs[i] == nil {
				// This row's answer is lost; the others decode on.
				errs[i] = fmt.Errorf("model %s: decoding step %d: %w", v.m.Name, s, err)
			}
			if err != nil {
				t = lo
			}
			row.tokens[s] = t
			ids[j] = t
			if v.end >= 0 && (t == v.end || err != nil) {
				row.n = s + 1
				active--
			}
		}
	}
	return nil
}

// forceGuide sets row's forced tokens from g (real-time chunking with
// bins, where a chunk has one token per dim and step): the tokens of the
// guide's first Delay steps, which will be over when the chunk arrives,
// so that the decoder continues from what the robot will have done
// instead of from its own guess. The later guided steps of the flow
// layout's soft mask have no counterpart in greedy decoding: they are
// decoded freely. A guide of another width, or a non-finite value,
// forces nothing from there on.
func (v *VLA) forceGuide(row *rowState, g *efferent.ActionGuide) {
	row.nForced = 0
	if v.bins == nil || g.Steps <= 0 || g.D != v.meta.Dim || len(g.Actions) < g.Steps*g.D {
		return
	}
	k := min(max(g.Delay, 0), g.Steps, v.meta.Horizon) * g.D
	if cap(row.forced) < k {
		row.forced = make([]int64, v.bins.TokensPerChunk())
	}
	row.forced = row.forced[:cap(row.forced)]
	for i, x := range g.Actions[:k] {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		row.forced[i] = v.bins.Token(i%g.D, x)
		row.nForced = i + 1
	}
}

// argmaxWithEnd is the greedy choice among the band, whose best is t, and
// the end token: ties go to the lower id, as in ArgmaxBand.
func argmaxWithEnd(logits []float32, t, end int64) (int64, error) {
	le, lt := logits[end], logits[t]
	if le != le {
		return 0, fmt.Errorf("%w: logit of the end token %d is NaN", policy.ErrLogits, end)
	}
	if le > lt || (le == lt && end < t) {
		return end, nil
	}
	return t, nil
}

// positions sets each row's position id for decoder step s: after the
// whole prefix (decoder.positions: prefix, efferent's own models), or after
// the prefix tokens the row attends to (attended: Hugging Face's
// cumsum(attention_mask) − 1, for exports whose prompt padding must not
// shift RoPE).
func (v *VLA) positions(pos, prefixMask []int64, n, s int) {
	P := v.m.Encoder.PrefixLen
	for j := range n {
		if v.m.Decoder.Positions != policy.PositionsAttended {
			pos[j] = int64(P + s)
			continue
		}
		att := 0
		for _, x := range prefixMask[j*P : (j+1)*P] {
			att += int(x)
		}
		pos[j] = int64(att + s)
	}
}

// recompute is what a decoder without a key/value cache pays before step
// s: the prefix encoded again and steps 0..s−1 decoded again from the
// tokens already chosen. It leaves the decoder inputs as step s needs them
// (the same values: the cache only saved the work).
func (v *VLA) recompute(r *batchRun, s int) error {
	if err := r.enc.run(); err != nil {
		return err
	}
	ids, pos := r.inputID.GetData(), r.position.GetData()
	for p := 0; p < s; p++ {
		for j, i := range v.valid {
			ids[j] = v.m.Decoder.StartToken
			if p > 0 {
				ids[j] = v.rows[i].tokens[p-1]
			}
		}
		v.positions(pos, r.prefixMask.GetData(), len(v.valid), p)
		if err := r.steps[p].run(); err != nil {
			return err
		}
	}
	for j, i := range v.valid {
		ids[j] = v.m.Decoder.StartToken
		if s > 0 {
			ids[j] = v.rows[i].tokens[s-1]
		}
	}
	return nil
}

// check validates obs against the manifest and tokenizes its prompt into
// row.ids.
func (v *VLA) check(obs *efferent.Observation, row *rowState) error {
	return checkObservation(v.m, v.tok, obs, &row.promptRow, &v.truncations)
}

// write copies a checked observation into row j of r's encoder inputs.
func (v *VLA) write(r *batchRun, j int, obs *efferent.Observation, ids []int64) {
	m := v.m
	size := m.Obs.ImageHeight * m.Obs.ImageWidth * 3
	for c, spec := range m.Obs.Images {
		copy(r.images[c].GetData()[j*size:(j+1)*size], obs.Images[spec.Key].Pix)
	}
	sd := m.Obs.State.Dim
	st := v.arena.state.f32[j*sd : (j+1)*sd]
	for i, x := range obs.State {
		st[i] = float32(x)
	}
	T := m.Text.MaxTokens
	tid, tmask := r.textIDs.GetData()[j*T:(j+1)*T], r.textMask.GetData()[j*T:(j+1)*T]
	for i := range tid {
		if i < len(ids) {
			tid[i], tmask[i] = ids[i], 1
		} else {
			tid[i], tmask[i] = m.Text.PadID, 0
		}
	}
}

// Close implements policy.Policy.
func (v *VLA) Close() error {
	v.closeRuns()
	v.arena.free()
	v.runs, v.arena = nil, nil
	v.enc.close()
	v.dec.close()
	if v.latent != nil {
		v.latent.close()
	}
	return nil
}

// Detokenizer returns the model's action detokenizer (for benchmarks).
func (v *VLA) Detokenizer() tokenizer.Detokenizer { return v.detok }

// PromptsTruncated implements policy.PromptTruncator.
func (v *VLA) PromptsTruncated() uint64 { return v.truncations.Load() }

// DetokenizeErrors is how many rows' tokens the detokenizer has refused
// since Open (fast: tokens that do not form one whole chunk, where the
// reference would answer zeros). Safe from any goroutine.
func (v *VLA) DetokenizeErrors() uint64 { return v.detokErrs.Load() }
