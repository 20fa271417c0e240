package policy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/efferent/efferent/camera"
	"github.com/efferent/efferent/internal/strictyaml"
)

// ManifestFile is the name of the manifest inside a model directory.
const ManifestFile = "manifest.yaml"

// ManifestFormat is the format string this version of efferent reads.
const ManifestFormat = "efferent-model/1"

// maxManifestBytes bounds the manifest read: a manifest is a page of YAML,
// so anything larger is a mistake (or an attack) rather than a model.
const maxManifestBytes = 1 << 20

// ErrManifest is wrapped by every manifest loading or validation error.
// The message names the file and the field that was wrong.
var ErrManifest = errors.New("invalid model manifest")

// Manifest describes a model directory. Field names follow manifest.yaml;
// every field is required unless its comment says otherwise.
type Manifest struct {
	Format      string `yaml:"format"`
	Name        string `yaml:"name"`
	Version     string `yaml:"version"`
	Description string `yaml:"description"` // optional
	// Weights is "trained" or "random" (a fixture: actions are meaningless).
	Weights    string         `yaml:"weights"`
	License    string         `yaml:"license"`
	Provenance map[string]any `yaml:"provenance"` // free-form; optional
	// Layout is autoregressive (default), flow or regression: which of
	// the graph sections below the model has (layout.go).
	Layout  string          `yaml:"layout"`
	Obs     ObservationSpec `yaml:"observation"`
	Text    TextSpec        `yaml:"text"`
	Encoder EncoderSpec     `yaml:"encoder"` // autoregressive
	Decoder DecoderSpec     `yaml:"decoder"` // autoregressive
	// Regression is the regression layout's graph.
	Regression *RegressionSpec `yaml:"regression"`
	// Flow is the flow layout's graphs and integration.
	Flow   *FlowSpec         `yaml:"flow"`
	Action ActionSpec        `yaml:"action"`
	Golden string            `yaml:"golden"` // optional: golden outputs for tests
	Extra  map[string]string `yaml:"extra"`  // optional: free-form notes

	// FS is the model directory the manifest was read from; file names in
	// the manifest are relative to it.
	FS fs.FS `yaml:"-"`
	// Source says where the model came from (a path, or "embedded:NAME").
	Source string `yaml:"-"`
}

// ObservationSpec says which observation keys feed which graph inputs.
type ObservationSpec struct {
	Images      []ImageInput `yaml:"images"`
	ImageHeight int          `yaml:"image_height"`
	ImageWidth  int          `yaml:"image_width"`
	// Resize is how callers bring other image sizes to the model's:
	// resize_with_pad (default), stretch or none.
	Resize string `yaml:"resize"`
	// The rest of the preprocessing the model was trained with, applied to
	// camera frames (in run, serve and eval alike) before resizing:
	// Interpolation linear (default), area, nearest or cubic; Rotate 0, 90,
	// 180 or 270 degrees clockwise; CenterCrop the fraction of each side
	// kept (default 1); Color the channel order, rgb (default) or bgr.
	// Frames that already have the model's size are taken as preprocessed
	// (as openpi clients send them).
	Interpolation string     `yaml:"interpolation"`
	Rotate        int        `yaml:"rotate"`
	CenterCrop    float64    `yaml:"center_crop"`
	Color         string     `yaml:"color"`
	State         StateInput `yaml:"state"`
	Prompt        PromptSpec `yaml:"prompt"`
}

// ImageInput maps one camera's observation key to a graph input, which
// takes uint8 [B, H, W, 3] (RGB, HWC), or with Normalize float
// [B, 3, H, W] (RGB, CHW; float32, float16 or bfloat16 as the graph
// declares).
type ImageInput struct {
	Key   string `yaml:"key"`
	Input string `yaml:"input"`
	// Height and Width are this camera's size (optional; default
	// observation.image_height and image_width).
	Height int `yaml:"height"`
	Width  int `yaml:"width"`
	// Normalize (optional) makes the input float: (pixel/255 − mean)/std.
	Normalize *ImageNorm `yaml:"normalize"`
}

// StateInput maps the state vector to an encoder input, float32 [1, Dim].
type StateInput struct {
	Key   string `yaml:"key"`
	Input string `yaml:"input"`
	Dim   int    `yaml:"dim"`
	// RobotBase (optional, 3 values, metres) is where a real robot's base
	// frame origin lies in the frame of the training states, for models
	// whose state starts with an end-effector position (LIBERO's 8-d
	// state). efferent run adds it to the first three state values when it
	// drives a ROS robot (whose measured pose is in its base frame); the
	// simulator, eval and serve feed the training frame already and leave
	// the state alone. Rotation between the frames is not supported: the
	// base frame's axes must be the training frame's.
	RobotBase []float64 `yaml:"robot_base"`
}

// PromptSpec describes the instruction on the wire.
type PromptSpec struct {
	Key      string `yaml:"key"`
	Required bool   `yaml:"required"`
	// MaxBytes bounds the prompt's size on the wire (default 1024).
	MaxBytes int `yaml:"max_bytes"`
}

// TextSpec describes how the prompt becomes encoder inputs.
type TextSpec struct {
	// Tokenizer is a Hugging Face tokenizer.json.
	Tokenizer string `yaml:"tokenizer"`
	// InputIDs and Mask name the int64 [1, MaxTokens] encoder inputs.
	InputIDs  string `yaml:"input_ids"`
	Mask      string `yaml:"mask"`
	MaxTokens int    `yaml:"max_tokens"`
	PadID     int64  `yaml:"pad_id"`
	// AddSpecial applies the tokenizer's post-processor (e.g. BOS).
	AddSpecial bool `yaml:"add_special"`
	// Template (optional) wraps the instruction before tokenizing:
	// "{instruction}" is replaced by it (OpenVLA: "In: What action should
	// the robot take to {instruction}?\nOut:").
	Template string `yaml:"template"`
	// Truncation is what a prompt of more than MaxTokens tokens gets:
	// "right" keeps its first MaxTokens tokens (a tokenizer's
	// truncation=True), "left" its last, "refuse" answers a bad request.
	// A truncated prompt is answered and counted
	// (efferent_prompt_truncated_total). Default: right, or refuse when
	// there is a Template (cutting it would change the text the model was
	// trained on).
	Truncation string `yaml:"truncation"`
}

// Truncation values (TextSpec.Truncation).
const (
	TruncateRight  = "right"
	TruncateLeft   = "left"
	TruncateRefuse = "refuse"
)

// TruncationOrDefault is Truncation with its default filled in.
func (t TextSpec) TruncationOrDefault() string {
	switch {
	case t.Truncation != "":
		return t.Truncation
	case t.Template != "":
		return TruncateRefuse
	}
	return TruncateRight
}

// EncoderSpec describes the prefix graph: images + state + text → the
// decoder's key/value cache for the prefix, and the prefix's attention mask.
type EncoderSpec struct {
	File      string `yaml:"file"`
	PrefixLen int    `yaml:"prefix_len"`
	// PrefixMask names the int64 [1, PrefixLen] output (1 = attend).
	PrefixMask string `yaml:"prefix_mask"`
	// PresentKey and PresentValue name the per-layer outputs, with %d for
	// the layer, float32 [1, heads, PrefixLen, head_dim].
	PresentKey   string `yaml:"present_key"`
	PresentValue string `yaml:"present_value"`
}

// DecoderSpec describes the one-token decoder graph in the Hugging Face /
// Optimum KV-cache layout.
type DecoderSpec struct {
	File      string `yaml:"file"`
	Layers    int    `yaml:"layers"`
	Heads     int    `yaml:"heads"`
	HeadDim   int    `yaml:"head_dim"`
	VocabSize int    `yaml:"vocab_size"`
	// StartToken is fed at the first decoding step.
	StartToken    int64  `yaml:"start_token"`
	InputIDs      string `yaml:"input_ids"`
	AttentionMask string `yaml:"attention_mask"`
	// PositionIDs is optional: leave empty if the graph has no such input.
	PositionIDs string `yaml:"position_ids"`
	// Positions says what a step's position id counts: prefix (default)
	// the whole prefix, padding included (P + step); attended only the
	// prefix tokens the row attends to, as Hugging Face's generate does
	// (RoPE models exported from transformers: Llama, OpenVLA).
	Positions    string `yaml:"positions"`
	PastKey      string `yaml:"past_key"`
	PastValue    string `yaml:"past_value"`
	Logits       string `yaml:"logits"`
	PresentKey   string `yaml:"present_key"`
	PresentValue string `yaml:"present_value"`
}

// ActionSpec is the action space and its tokenizer.
type ActionSpec struct {
	// Dim is the robot's action dimension.
	Dim int `yaml:"dim"`
	// ModelDim is the graph's (flow, regression), which may be padded:
	// π0 pads to 32 (optional; default Dim).
	ModelDim int `yaml:"model_dim"`
	// RobotDims are the model dims that are the robot's, in order
	// (optional; default the first Dim).
	RobotDims []int `yaml:"robot_dims"`
	Horizon   int   `yaml:"horizon"`
	// StepHz is the rate the actions were recorded at (LIBERO: 20).
	StepHz float64 `yaml:"step_hz"`
	// MaxLagSteps is how many steps into a chunk the policy may start
	// executing it, observed that long before, and still succeed: the
	// latency matrix measures it (docs/latency.md). Async and rtc play
	// chunks slower when the inference latency spans more
	// (run.scheduler.max_lag_steps overrides it). Optional: 0, the
	// default, leaves it to the scheduler (a fifth of the horizon).
	MaxLagSteps float64 `yaml:"max_lag_steps"`
	// Space says what the actions mean, where a robot profile needs to
	// know (optional): SpaceLIBERO, LIBERO's end-effector deltas and
	// gripper, or SpaceQuadrupedCommand, the QUART-style command vector
	// (vx, vy, wz, body height, gait frequency, foot swing height, stop
	// flag), which a twist profile drives with its first three dims.
	// Default: unspecified (the profile's own dims and action.policy_dims
	// decide).
	Space string `yaml:"space"`
	// Tokenizer is the autoregressive layout's action detokenizer.
	Tokenizer     ActionTokenizer   `yaml:"tokenizer"`
	Normalization NormalizationSpec `yaml:"normalization"`
}

// ActionTokenizer selects and parameterises the detokenizer.
type ActionTokenizer struct {
	// Kind is "vq" (residual VQ chunks), "bins" (OpenVLA 256 bins) or
	// "fast" (π0-FAST's DCT + BPE tokens, a variable number per chunk).
	Kind string `yaml:"kind"`
	// Codebook (vq) is an efferent-vq/1 codebook file.
	Codebook string `yaml:"codebook"`
	// TokenBase and Direction (vq): token = base ∓ (level·codes + code).
	// (fast): the FAST id t is the language-model id base ∓ t (openpi,
	// PaliGemma: base 257023 = 257152 − 1 − 128, down). Direction
	// defaults to down.
	TokenBase int64  `yaml:"token_base"`
	Direction string `yaml:"direction"`
	// LatentDecoder (vq, optional): a graph from latent to the normalised
	// chunk; without it the codebook lives in chunk space.
	LatentDecoder *LatentDecoderSpec `yaml:"latent_decoder"`
	// Bins (bins): number of bins (OpenVLA: 256); the band is the top Bins
	// tokens of TokenizerVocab.
	Bins int `yaml:"bins"`
	// TokenizerVocab (bins) is the text tokenizer's vocabulary size, whose
	// last Bins ids are the bins (OpenVLA: 32000, while its logits are
	// padded to 32064). Default decoder.vocab_size.
	TokenizerVocab int `yaml:"tokenizer_vocab"`
	// Vocab (fast, required) is the FAST processor's BPE, the Hugging Face
	// tokenizer.json it saves (physical-intelligence/fast, or one fitted
	// with its fit).
	Vocab string `yaml:"vocab"`
	// Scale (fast) multiplies the DCT coefficients before rounding: the
	// processor's scale (default 10).
	Scale float64 `yaml:"scale"`
	// MinToken (fast) is the processor's min_token: a quantised
	// coefficient q is the character q − min_token (FAST+: −354; default
	// 0, the processor's).
	MinToken int `yaml:"min_token"`
	// EndToken (fast, required) is the id that ends the action tokens
	// (π0-FAST: PaliGemma's "|"); decoding of a row stops at it.
	EndToken *int64 `yaml:"end_token"`
	// MaxTokens (fast, required) is the most action tokens one chunk may
	// take, the end token not counted: the decoder runs at most
	// max_tokens + 1 steps.
	MaxTokens int `yaml:"max_tokens"`
	// NormEps (fast) is added to q99 − q01 by the quantile
	// (un)normalisation (openpi: 1e-6; default 0, as bounds_q99).
	NormEps float64 `yaml:"norm_eps"`
}

// LatentDecoderSpec names a graph float32 [1, latent] → float32 [1, H, D].
type LatentDecoderSpec struct {
	File   string `yaml:"file"`
	Input  string `yaml:"input"`
	Output string `yaml:"output"`
}

// NormalizationSpec holds the action statistics. Kind bounds_q99
// (default): dims where Mask is true map [-1, 1] onto [q01, q99]; mean_std:
// a = n·std + mean where Mask is true. The other dims (usually the
// gripper) pass through.
type NormalizationSpec struct {
	Kind string    `yaml:"kind"`
	Q01  []float64 `yaml:"q01"`
	Q99  []float64 `yaml:"q99"`
	Mean []float64 `yaml:"mean"`
	Std  []float64 `yaml:"std"`
	Mask []bool    `yaml:"mask"`
}

// Position id conventions (DecoderSpec.Positions).
const (
	PositionsPrefix   = "prefix"
	PositionsAttended = "attended"
)

// Normalization kinds.
const (
	NormBoundsQ99 = "bounds_q99"
	NormMeanStd   = "mean_std"
)

// StepPeriod is the time between actions.
func (a ActionSpec) StepPeriod() time.Duration {
	return time.Duration(float64(time.Second) / a.StepHz)
}

// LoadManifest reads and validates manifest.yaml from a model directory
// (os.DirFS(dir), or an embedded model). source names the directory in
// error messages.
func LoadManifest(fsys fs.FS, source string) (*Manifest, error) {
	f, err := fsys.Open(ManifestFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrManifest, path.Join(source, ManifestFile), err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrManifest, path.Join(source, ManifestFile), err)
	}
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrManifest, path.Join(source, ManifestFile), maxManifestBytes)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path.Join(source, ManifestFile), err)
	}
	m.FS, m.Source = fsys, source
	if err := m.checkFiles(); err != nil {
		return nil, fmt.Errorf("%s: %w", path.Join(source, ManifestFile), err)
	}
	return m, nil
}

// ParseManifest decodes manifest YAML strictly (unknown keys are errors),
// fills defaults and validates. It does not look at the files it names.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := strictyaml.Decode(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	m.setDefaults()
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) setDefaults() {
	if m.Obs.Resize == "" {
		m.Obs.Resize = "resize_with_pad"
	}
	if m.Obs.Prompt.MaxBytes == 0 {
		m.Obs.Prompt.MaxBytes = 1024
	}
	if k := m.Action.Tokenizer.Kind; (k == "vq" || k == "fast") && m.Action.Tokenizer.Direction == "" {
		m.Action.Tokenizer.Direction = "down"
	}
	if m.Action.Tokenizer.Kind == "bins" && m.Action.Tokenizer.Bins == 0 {
		m.Action.Tokenizer.Bins = 256
	}
	if m.Action.Tokenizer.Kind == "bins" && m.Action.Tokenizer.TokenizerVocab == 0 {
		m.Action.Tokenizer.TokenizerVocab = m.Decoder.VocabSize
	}
	if m.Action.Tokenizer.Kind == "fast" && m.Action.Tokenizer.Scale == 0 {
		m.Action.Tokenizer.Scale = 10
	}
	if m.Action.Normalization.Kind == "" {
		m.Action.Normalization.Kind = NormBoundsQ99
	}
	if m.Flow != nil && m.Flow.Steps == 0 {
		m.Flow.Steps = 10
	}
}

// fieldErr builds an error naming a manifest field.
func fieldErr(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrManifest, field, fmt.Sprintf(format, args...))
}

// Validate checks every field for presence and consistency. The error
// names the first bad field by its YAML path.
func (m *Manifest) Validate() error {
	if m.Format != ManifestFormat {
		return fieldErr("format", "is %q, this efferent reads %q", m.Format, ManifestFormat)
	}
	for _, f := range []struct{ name, v string }{
		{"name", m.Name}, {"version", m.Version}, {"license", m.License},
		{"observation.state.key", m.Obs.State.Key}, {"observation.state.input", m.Obs.State.Input},
		{"observation.prompt.key", m.Obs.Prompt.Key},
		{"text.tokenizer", m.Text.Tokenizer}, {"text.input_ids", m.Text.InputIDs}, {"text.mask", m.Text.Mask},
	} {
		if strings.TrimSpace(f.v) == "" {
			return fieldErr(f.name, "is required")
		}
	}
	switch m.Weights {
	case "trained", "random":
	default:
		return fieldErr("weights", "is %q, want trained or random", m.Weights)
	}
	if err := m.validateObservation(); err != nil {
		return err
	}
	if err := m.validateLayout(); err != nil {
		return err
	}
	if m.LayoutName() == LayoutAutoregressive {
		if err := m.validateAutoregressive(); err != nil {
			return err
		}
	} else if m.Text.PadID < 0 {
		return fieldErr("text.pad_id", "is %d, want ≥ 0", m.Text.PadID)
	}
	return m.validateAction()
}

func (m *Manifest) validateObservation() error {
	if len(m.Obs.Images) == 0 {
		return fieldErr("observation.images", "needs at least one camera")
	}
	seen := map[string]string{}
	for i, im := range m.Obs.Images {
		if im.Key == "" || im.Input == "" {
			return fieldErr(fmt.Sprintf("observation.images[%d]", i), "needs both key and input")
		}
		if prev, dup := seen[im.Key]; dup {
			return fieldErr(fmt.Sprintf("observation.images[%d].key", i), "%q already used by %s", im.Key, prev)
		}
		seen[im.Key] = fmt.Sprintf("observation.images[%d]", i)
	}
	if m.Obs.ImageHeight <= 0 || m.Obs.ImageHeight > 4096 {
		return fieldErr("observation.image_height", "is %d, want 1..4096", m.Obs.ImageHeight)
	}
	if m.Obs.ImageWidth <= 0 || m.Obs.ImageWidth > 4096 {
		return fieldErr("observation.image_width", "is %d, want 1..4096", m.Obs.ImageWidth)
	}
	switch m.Obs.Resize {
	case "resize_with_pad", "stretch", "none":
	default:
		return fieldErr("observation.resize", "is %q, want resize_with_pad, stretch or none", m.Obs.Resize)
	}
	if err := m.CameraSpec().Validate(); err != nil {
		return fieldErr("observation", "%s", strings.TrimPrefix(err.Error(), "camera spec: "))
	}
	if m.Obs.State.Dim <= 0 || m.Obs.State.Dim > 1024 {
		return fieldErr("observation.state.dim", "is %d, want 1..1024", m.Obs.State.Dim)
	}
	if rb := m.Obs.State.RobotBase; rb != nil {
		if len(rb) != 3 || m.Obs.State.Dim < 3 {
			return fieldErr("observation.state.robot_base", "has %d values, want 3 (x, y, z) and a state of at least 3", len(rb))
		}
		for i, v := range rb {
			if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 100 {
				return fieldErr(fmt.Sprintf("observation.state.robot_base[%d]", i), "is %v, want a finite position in metres", v)
			}
		}
	}
	if m.Obs.Prompt.MaxBytes < 0 || m.Obs.Prompt.MaxBytes > 1<<20 {
		return fieldErr("observation.prompt.max_bytes", "is %d, want 1..1048576", m.Obs.Prompt.MaxBytes)
	}
	if m.Text.MaxTokens <= 0 || m.Text.MaxTokens > 4096 {
		return fieldErr("text.max_tokens", "is %d, want 1..4096", m.Text.MaxTokens)
	}
	switch m.Text.Truncation {
	case "", TruncateRight, TruncateLeft, TruncateRefuse:
	default:
		return fieldErr("text.truncation", "is %q, want right, left or refuse", m.Text.Truncation)
	}
	if t := m.Text.Template; t != "" && strings.Count(t, "{instruction}") != 1 {
		return fieldErr("text.template", "%q must contain {instruction} once", t)
	}
	return nil
}

// validateAutoregressive checks the encoder, the decoder and the action
// tokenizer.
func (m *Manifest) validateAutoregressive() error {
	for _, f := range []struct{ name, v string }{
		{"encoder.file", m.Encoder.File}, {"encoder.prefix_mask", m.Encoder.PrefixMask},
		{"decoder.file", m.Decoder.File}, {"decoder.input_ids", m.Decoder.InputIDs},
		{"decoder.attention_mask", m.Decoder.AttentionMask}, {"decoder.logits", m.Decoder.Logits},
		{"action.tokenizer.kind", m.Action.Tokenizer.Kind},
	} {
		if strings.TrimSpace(f.v) == "" {
			return fieldErr(f.name, "is required")
		}
	}
	for _, f := range []struct{ name, v string }{
		{"encoder.present_key", m.Encoder.PresentKey}, {"encoder.present_value", m.Encoder.PresentValue},
		{"decoder.past_key", m.Decoder.PastKey}, {"decoder.past_value", m.Decoder.PastValue},
		{"decoder.present_key", m.Decoder.PresentKey}, {"decoder.present_value", m.Decoder.PresentValue},
	} {
		if strings.Count(f.v, "%d") != 1 || strings.Count(f.v, "%") != 1 {
			return fieldErr(f.name, "%q must contain exactly one %%d for the layer index", f.v)
		}
	}
	d := m.Decoder
	for _, f := range []struct {
		name string
		v    int
	}{{"decoder.layers", d.Layers}, {"decoder.heads", d.Heads}, {"decoder.head_dim", d.HeadDim}, {"decoder.vocab_size", d.VocabSize}, {"encoder.prefix_len", m.Encoder.PrefixLen}} {
		if f.v <= 0 {
			return fieldErr(f.name, "is %d, must be positive", f.v)
		}
	}
	if d.Positions != "" && d.Positions != PositionsPrefix && d.Positions != PositionsAttended {
		return fieldErr("decoder.positions", "is %q, want prefix or attended", d.Positions)
	}
	if d.StartToken < 0 || d.StartToken >= int64(d.VocabSize) {
		return fieldErr("decoder.start_token", "is %d, outside the vocabulary [0, %d)", d.StartToken, d.VocabSize)
	}
	if m.Text.PadID < 0 || m.Text.PadID >= int64(d.VocabSize) {
		return fieldErr("text.pad_id", "is %d, outside the vocabulary [0, %d)", m.Text.PadID, d.VocabSize)
	}
	t := m.Action.Tokenizer
	switch t.Kind {
	case "vq":
		if t.Codebook == "" {
			return fieldErr("action.tokenizer.codebook", "is required for kind vq")
		}
		if t.Direction != "down" && t.Direction != "up" {
			return fieldErr("action.tokenizer.direction", "is %q, want down or up", t.Direction)
		}
		if t.TokenBase < 0 || t.TokenBase >= int64(d.VocabSize) {
			return fieldErr("action.tokenizer.token_base", "is %d, outside the vocabulary [0, %d)", t.TokenBase, d.VocabSize)
		}
		if ld := t.LatentDecoder; ld != nil && (ld.File == "" || ld.Input == "" || ld.Output == "") {
			return fieldErr("action.tokenizer.latent_decoder", "needs file, input and output")
		}
	case "bins":
		if t.TokenizerVocab < t.Bins || t.TokenizerVocab > d.VocabSize {
			return fieldErr("action.tokenizer.tokenizer_vocab", "is %d, want bins (%d) .. decoder.vocab_size (%d)", t.TokenizerVocab, t.Bins, d.VocabSize)
		}
		if t.Bins < 2 || t.Bins > d.VocabSize {
			return fieldErr("action.tokenizer.bins", "is %d, want 2..decoder.vocab_size", t.Bins)
		}
		if t.Codebook != "" || t.LatentDecoder != nil {
			return fieldErr("action.tokenizer", "codebook and latent_decoder belong to kind vq, not bins")
		}
	case "fast":
		if err := validateFast(t, d.VocabSize); err != nil {
			return err
		}
		if m.Action.Normalization.Kind != NormBoundsQ99 {
			return fieldErr("action.normalization.kind", "is %q; kind fast un-normalises with q01/q99 (bounds_q99)", m.Action.Normalization.Kind)
		}
	default:
		return fieldErr("action.tokenizer.kind", "is %q, want vq, bins or fast", t.Kind)
	}
	if t.Kind != "fast" && (t.Vocab != "" || t.Scale != 0 || t.MinToken != 0 || t.EndToken != nil || t.MaxTokens != 0 || t.NormEps != 0) {
		return fieldErr("action.tokenizer", "vocab, scale, min_token, end_token, max_tokens and norm_eps belong to kind fast, not %s", t.Kind)
	}
	return nil
}

// validateFast checks action.tokenizer for kind fast (the band against
// the vocabulary is checked when the vocabulary is loaded).
func validateFast(t ActionTokenizer, vocab int) error {
	switch {
	case t.Vocab == "":
		return fieldErr("action.tokenizer.vocab", "is required for kind fast")
	case t.Codebook != "" || t.LatentDecoder != nil || t.Bins != 0 || t.TokenizerVocab != 0:
		return fieldErr("action.tokenizer", "codebook, latent_decoder, bins and tokenizer_vocab belong to kinds vq and bins, not fast")
	case t.Direction != "down" && t.Direction != "up":
		return fieldErr("action.tokenizer.direction", "is %q, want down or up", t.Direction)
	case t.TokenBase < 0 || t.TokenBase >= int64(vocab):
		return fieldErr("action.tokenizer.token_base", "is %d, outside the vocabulary [0, %d)", t.TokenBase, vocab)
	case t.EndToken == nil:
		return fieldErr("action.tokenizer.end_token", "is required for kind fast (π0-FAST: the id of \"|\")")
	case *t.EndToken < 0 || *t.EndToken >= int64(vocab):
		return fieldErr("action.tokenizer.end_token", "is %d, outside the vocabulary [0, %d)", *t.EndToken, vocab)
	case t.MaxTokens <= 0 || t.MaxTokens > 4096:
		return fieldErr("action.tokenizer.max_tokens", "is %d, want 1..4096", t.MaxTokens)
	case !(t.Scale > 0) || math.IsInf(t.Scale, 0):
		return fieldErr("action.tokenizer.scale", "is %v, want a finite positive number", t.Scale)
	case t.MinToken < -1<<20 || t.MinToken > 1<<20:
		return fieldErr("action.tokenizer.min_token", "is %d, want -1048576..1048576", t.MinToken)
	case !(t.NormEps >= 0) || t.NormEps > 1:
		return fieldErr("action.tokenizer.norm_eps", "is %v, want 0..1", t.NormEps)
	}
	return nil
}

// validateAction checks the chunk's geometry and its statistics.
func (m *Manifest) validateAction() error {
	a := m.Action
	if a.Dim <= 0 || a.Dim > 64 {
		return fieldErr("action.dim", "is %d, want 1..64", a.Dim)
	}
	if a.Horizon <= 0 || a.Horizon > 1024 {
		return fieldErr("action.horizon", "is %d, want 1..1024", a.Horizon)
	}
	if !(a.StepHz > 0 && a.StepHz <= 10000) {
		return fieldErr("action.step_hz", "is %v, want (0, 10000]", a.StepHz)
	}
	if !(a.MaxLagSteps >= 0 && a.MaxLagSteps <= float64(a.Horizon)) {
		return fieldErr("action.max_lag_steps", "is %v, want 0 (not declared) .. action.horizon (%d)", a.MaxLagSteps, a.Horizon)
	}
	switch a.Space {
	case "", SpaceLIBERO:
	case SpaceQuadrupedCommand:
		if a.Dim != 7 {
			return fieldErr("action.space", "is %s with action.dim %d, want 7 (vx, vy, wz, height, gait_hz, swing, stop)", a.Space, a.Dim)
		}
	default:
		return fieldErr("action.space", "is %q, want %s, %s or nothing", a.Space, SpaceLIBERO, SpaceQuadrupedCommand)
	}
	if m.LayoutName() != LayoutAutoregressive && a.Tokenizer != (ActionTokenizer{}) {
		return fieldErr("action.tokenizer", "belongs to the autoregressive layout; %s outputs actions", m.LayoutName())
	}
	n := a.Normalization
	if n.Mask != nil && len(n.Mask) != a.Dim {
		return fieldErr("action.normalization.mask", "has %d values, want action.dim = %d", len(n.Mask), a.Dim)
	}
	switch n.Kind {
	case NormBoundsQ99:
		if len(n.Q01) != a.Dim || len(n.Q99) != a.Dim || n.Mean != nil || n.Std != nil {
			return fieldErr("action.normalization", "q01 has %d values and q99 %d, want action.dim = %d each (and no mean/std for bounds_q99)", len(n.Q01), len(n.Q99), a.Dim)
		}
		for i := range n.Q01 {
			if !finite(n.Q01[i]) || !finite(n.Q99[i]) {
				return fieldErr(fmt.Sprintf("action.normalization[%d]", i), "q01/q99 must be finite")
			}
			if n.Q99[i] < n.Q01[i] {
				return fieldErr(fmt.Sprintf("action.normalization.q99[%d]", i), "%v is below q01 %v", n.Q99[i], n.Q01[i])
			}
		}
	case NormMeanStd:
		if len(n.Mean) != a.Dim || len(n.Std) != a.Dim || n.Q01 != nil || n.Q99 != nil {
			return fieldErr("action.normalization", "mean has %d values and std %d, want action.dim = %d each (and no q01/q99 for mean_std)", len(n.Mean), len(n.Std), a.Dim)
		}
		for i := range n.Mean {
			if !finite(n.Mean[i]) || !finite(n.Std[i]) || n.Std[i] < 0 {
				return fieldErr(fmt.Sprintf("action.normalization[%d]", i), "mean %v, std %v: want finite values, std ≥ 0", n.Mean[i], n.Std[i])
			}
		}
	default:
		return fieldErr("action.normalization.kind", "is %q, want bounds_q99 or mean_std", n.Kind)
	}
	return nil
}

// checkFiles verifies that every file the manifest names exists.
func (m *Manifest) checkFiles() error {
	files := []struct{ field, name string }{{"text.tokenizer", m.Text.Tokenizer}}
	for _, g := range m.Graphs() {
		files = append(files, struct{ field, name string }{g.Field, g.File})
	}
	if m.Action.Tokenizer.Codebook != "" {
		files = append(files, struct{ field, name string }{"action.tokenizer.codebook", m.Action.Tokenizer.Codebook})
	}
	if m.Action.Tokenizer.Vocab != "" {
		files = append(files, struct{ field, name string }{"action.tokenizer.vocab", m.Action.Tokenizer.Vocab})
	}
	if m.Golden != "" {
		files = append(files, struct{ field, name string }{"golden", m.Golden})
	}
	for _, f := range files {
		if !fs.ValidPath(f.name) {
			return fieldErr(f.field, "%q must be a relative path inside the model directory", f.name)
		}
		st, err := fs.Stat(m.FS, f.name)
		if err != nil {
			return fieldErr(f.field, "%v", err)
		}
		if st.IsDir() {
			return fieldErr(f.field, "%q is a directory", f.name)
		}
	}
	return nil
}

// ReadFile reads a file named by the manifest, relative to the model
// directory, refusing files over limit bytes.
func (m *Manifest) ReadFile(name string, limit int64) ([]byte, error) {
	f, err := m.FS.Open(name)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", m.Source, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("model %s: %s: %w", m.Source, name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("model %s: %s is larger than %d bytes", m.Source, name, limit)
	}
	return data, nil
}

// Path is the operating system path of a file named by the manifest, when
// the model was loaded from a directory (not an embedded model): ONNX
// Runtime loads a graph by path, so that its external data files are found
// beside it and nothing is read into memory twice.
func (m *Manifest) Path(name string) (string, bool) {
	if m.Source == "" || strings.HasPrefix(m.Source, "embedded:") || !fs.ValidPath(name) {
		return "", false
	}
	// Only a directory on disk: an in-memory model (a test's overlay) is
	// read from its FS.
	p := filepath.Join(m.Source, filepath.FromSlash(name))
	if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
		return "", false
	}
	return p, true
}

// CameraSpec is the preprocessing the manifest declares, for camera/cv.
func (m *Manifest) CameraSpec() camera.Spec {
	return camera.Spec{
		Height: m.Obs.ImageHeight, Width: m.Obs.ImageWidth, Resize: camera.Resize(m.Obs.Resize),
		Interpolation: m.Obs.Interpolation, Rotate: m.Obs.Rotate, CenterCrop: m.Obs.CenterCrop, Color: m.Obs.Color,
	}.WithDefaults()
}

// Metadata derives the policy metadata from the manifest.
func (m *Manifest) Metadata() Metadata {
	keys := make([]string, len(m.Obs.Images))
	for i, im := range m.Obs.Images {
		keys[i] = im.Key
	}
	return Metadata{
		Name: m.Name, Version: m.Version, Weights: m.Weights,
		ImageKeys: keys, ImageHeight: m.Obs.ImageHeight, ImageWidth: m.Obs.ImageWidth, Resize: m.Obs.Resize,
		StateKey: m.Obs.State.Key, StateDim: m.Obs.State.Dim, RobotBase: m.Obs.State.RobotBase,
		PromptKey: m.Obs.Prompt.Key, PromptRequired: m.Obs.Prompt.Required, MaxPromptBytes: m.Obs.Prompt.MaxBytes,
		Horizon: m.Action.Horizon, Dim: m.Action.Dim, StepPeriod: m.Action.StepPeriod(), MaxLagSteps: m.Action.MaxLagSteps, ActionSpace: m.Action.Space,
		TokenizerKind: m.Action.Tokenizer.Kind, CameraSizes: m.cameraSizes(),
	}
}

// LayerName expands a per-layer tensor name pattern such as
// "past_key_values.%d.key".
func LayerName(pattern string, layer int) string { return fmt.Sprintf(pattern, layer) }
