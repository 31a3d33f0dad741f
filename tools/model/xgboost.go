package model

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// maxModelBytes bounds what LoadXGBoost reads: the largest real XGBoost
// JSON models are a few hundred MB; anything bigger is not a model.
const maxModelBytes = 1 << 30

// objective says how a model's summed margin becomes its output.
type objective struct {
	kind      Kind
	toMargin  func(base float32) (float32, error) // base_score (probability space) to margin space
	transform func(margins []float32, out []float64)
}

var objectives = map[string]objective{
	"binary:logistic":      {kind: Binary, toMargin: logit, transform: sigmoidAll},
	"reg:logistic":         {kind: Regression, toMargin: logit, transform: sigmoidAll},
	"reg:squarederror":     {kind: Regression, toMargin: identity, transform: identityAll},
	"reg:squaredlogerror":  {kind: Regression, toMargin: identity, transform: identityAll},
	"reg:pseudohubererror": {kind: Regression, toMargin: identity, transform: identityAll},
	"reg:absoluteerror":    {kind: Regression, toMargin: identity, transform: identityAll},
	"count:poisson":        {kind: Regression, toMargin: logMargin, transform: expAll},
	"reg:gamma":            {kind: Regression, toMargin: logMargin, transform: expAll},
	"reg:tweedie":          {kind: Regression, toMargin: logMargin, transform: expAll},
	"multi:softprob":       {kind: Multiclass, toMargin: identity, transform: softmax},
	"multi:softmax":        {kind: Multiclass, toMargin: identity, transform: softmax},
}

func supportedObjectives() string {
	names := make([]string, 0, len(objectives))
	for n := range objectives {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func identity(b float32) (float32, error) { return b, nil }

func logit(b float32) (float32, error) {
	if !(b > 0 && b < 1) {
		return 0, fmt.Errorf("base_score %g must be in (0, 1) for a logistic objective", b)
	}
	return float32(-math.Log(1/float64(b) - 1)), nil
}

func logMargin(b float32) (float32, error) {
	if !(b > 0) {
		return 0, fmt.Errorf("base_score %g must be positive for a log-link objective", b)
	}
	return float32(math.Log(float64(b))), nil
}

func sigmoidAll(m []float32, out []float64) {
	for i, x := range m {
		// as XGBoost: 1.0f / (expf(-x) + 1.0f) in float32
		e := float32(math.Exp(-float64(x)))
		out[i] = float64(1 / (e + 1))
	}
}

func identityAll(m []float32, out []float64) {
	for i, x := range m {
		out[i] = float64(x)
	}
}

func expAll(m []float32, out []float64) {
	for i, x := range m {
		out[i] = float64(float32(math.Exp(float64(x))))
	}
}

// softmax works per row of len(out)/rows classes; callers pass one row.
func softmax(m []float32, out []float64) {
	wmax := m[0]
	for _, x := range m[1:] {
		if x > wmax {
			wmax = x
		}
	}
	var sum float64
	for i, x := range m {
		e := float32(math.Exp(float64(x - wmax)))
		out[i] = float64(e)
		sum += float64(e)
	}
	s := float32(sum)
	for i := range out {
		out[i] = float64(float32(out[i]) / s)
	}
}

// node is one tree node packed for traversal. Leaves have left < 0 and
// keep their value in cond. Children are absolute indices into the
// model's node slice so that all trees share one allocation. XGBoost
// numbers a split's children consecutively (right = left + 1), which
// lets traversal pick the child without a branch; models that do not
// (hand-edited ones) take the general path.
type node struct {
	left, right int32
	feat        uint32 // feature index; top bit set = missing goes left
	cond        float32
}

const defaultLeftBit = 1 << 31

// XGBoost is a gradient-boosted tree ensemble loaded from XGBoost's JSON
// model format, evaluated natively in float32 exactly as XGBoost does.
type XGBoost struct {
	name      string
	obj       objective
	objName   string
	features  []string
	nFeatures int
	classes   int // output groups: 1, or the number of classes
	base      float32
	nodes     []node
	roots     []int32 // root node of each tree
	group     []int32 // output group of each tree
	weights   []float32
	threads   int
	adjacent  bool // every split has right == left + 1

	// flat is the padded level-order layout (flat.go); nil when the
	// trees are too deep for it.
	flat       []flatTree
	flatNodes  []flatNode
	flatLeaves []float32

	// missing is the feature value that means "absent" besides NaN
	// (XGBoost's DMatrix(missing=...)); NaN means only NaN is.
	missing       float32
	missingSource MissingSource
	// limit is how many trees Predict uses: all of them, or those up to
	// best_iteration, as the sklearn wrapper's predict_proba does.
	limit         int
	bestIteration int // -1 when the model records none
	treesPerRound int
}

// MissingSource says where a model's missing value came from.
type MissingSource string

const (
	MissingDefault  MissingSource = "default"  // nothing recorded: NaN, as xgboost's default
	MissingRecorded MissingSource = "recorded" // learner.attributes.scikit_learn "missing"
	MissingOption   MissingSource = "option"   // set by the caller (--missing, candidate.missing)
)

// xgbJSON mirrors the parts of XGBoost's JSON model schema that prediction
// needs (doc/model.schema in the XGBoost repository).
type xgbJSON struct {
	Learner *struct {
		FeatureNames []string `json:"feature_names"`
		Params       struct {
			BaseScore  string `json:"base_score"`
			NumClass   string `json:"num_class"`
			NumFeature string `json:"num_feature"`
			NumTarget  string `json:"num_target"`
		} `json:"learner_model_param"`
		Objective struct {
			Name string `json:"name"`
		} `json:"objective"`
		// Attributes are strings: best_iteration as a decimal, and
		// scikit_learn as the wrapper's parameters encoded in JSON.
		Attributes map[string]string `json:"attributes"`
		Booster    *struct {
			Name  string        `json:"name"`
			Model *xgbTreeModel `json:"model"`
			Param *struct {
				NumParallelTree string `json:"num_parallel_tree"`
			} `json:"gbtree_model_param"`
			Gbtree *struct {
				Model *xgbTreeModel `json:"model"`
			} `json:"gbtree"`
			WeightDrop []float64 `json:"weight_drop"`
		} `json:"gradient_booster"`
	} `json:"learner"`
}

type xgbTreeModel struct {
	Param struct {
		NumParallelTree string `json:"num_parallel_tree"`
	} `json:"gbtree_model_param"`
	TreeInfo []int     `json:"tree_info"`
	Trees    []xgbTree `json:"trees"`
}

type xgbTree struct {
	Left        []int     `json:"left_children"`
	Right       []int     `json:"right_children"`
	SplitIdx    []int64   `json:"split_indices"`
	SplitCond   []float64 `json:"split_conditions"`
	DefaultLeft []int     `json:"default_left"`
	SplitType   []int     `json:"split_type"`
	Param       struct {
		NumNodes string `json:"num_nodes"`
	} `json:"tree_param"`
}

// Load opens an XGBoost JSON model file.
func Load(path string) (Predictor, error) {
	m, err := LoadXGBoostFile(path)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// LoadXGBoostFile is Load returning the concrete type.
func LoadXGBoostFile(path string) (*XGBoost, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open model: %w", err)
	}
	defer f.Close()
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	m, err := LoadXGBoost(f, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// LoadXGBoost reads an XGBoost JSON model (the format of save_model("x.json"),
// XGBoost 1.0 and later) and checks that every tree is well formed, so that
// prediction can never index out of range or loop.
func LoadXGBoost(r io.Reader, name string) (*XGBoost, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxModelBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	if len(data) > maxModelBytes {
		return nil, fmt.Errorf("model larger than %d bytes", maxModelBytes)
	}
	if len(data) > 1 && data[0] == '{' && strings.IndexByte("iUILl$#", data[1]) >= 0 {
		return nil, errors.New("not a JSON model: this looks like UBJSON; save the model with a .json file name")
	}
	var raw xgbJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not an XGBoost JSON model: %w", err)
	}
	return buildXGBoost(&raw, name)
}

func buildXGBoost(raw *xgbJSON, name string) (*XGBoost, error) {
	L := raw.Learner
	if L == nil {
		return nil, errors.New(`not an XGBoost JSON model: no "learner" object`)
	}
	obj, ok := objectives[L.Objective.Name]
	if !ok {
		if L.Objective.Name == "" {
			return nil, errors.New("learner.objective.name is missing")
		}
		return nil, fmt.Errorf("unsupported objective %q (supported: %s)", L.Objective.Name, supportedObjectives())
	}
	if L.Booster == nil {
		return nil, errors.New("learner.gradient_booster is missing")
	}
	var tm *xgbTreeModel
	switch L.Booster.Name {
	case "gbtree":
		tm = L.Booster.Model
	case "dart":
		if L.Booster.Gbtree != nil {
			tm = L.Booster.Gbtree.Model
		}
	default:
		return nil, fmt.Errorf("unsupported booster %q (supported: gbtree, dart)", L.Booster.Name)
	}
	if tm == nil {
		return nil, fmt.Errorf("booster %s has no model", L.Booster.Name)
	}
	nFeat, err := parseIntParam("learner_model_param.num_feature", L.Params.NumFeature, 0)
	if err != nil {
		return nil, err
	}
	if nFeat <= 0 || nFeat > 1<<24 {
		return nil, fmt.Errorf("learner_model_param.num_feature %d is out of range", nFeat)
	}
	numClass, err := parseIntParam("learner_model_param.num_class", L.Params.NumClass, 0)
	if err != nil {
		return nil, err
	}
	if t, _ := parseIntParam("learner_model_param.num_target", L.Params.NumTarget, 1); t > 1 {
		return nil, fmt.Errorf("multi-target models (num_target %d) are not supported", t)
	}
	groups := 1
	if obj.kind == Multiclass {
		if numClass < 2 || numClass > 1<<16 {
			return nil, fmt.Errorf("objective %s needs num_class >= 2, got %d", L.Objective.Name, numClass)
		}
		groups = numClass
	} else if numClass > 1 {
		return nil, fmt.Errorf("objective %s with num_class %d is inconsistent", L.Objective.Name, numClass)
	}
	bs, err := parseBaseScore(L.Params.BaseScore)
	if err != nil {
		return nil, err
	}
	base, err := obj.toMargin(bs)
	if err != nil {
		return nil, fmt.Errorf("learner_model_param: %w", err)
	}
	if len(L.FeatureNames) != 0 && len(L.FeatureNames) != nFeat {
		return nil, fmt.Errorf("learner.feature_names has %d names for num_feature %d", len(L.FeatureNames), nFeat)
	}
	if len(tm.TreeInfo) != len(tm.Trees) {
		return nil, fmt.Errorf("tree_info has %d entries for %d trees", len(tm.TreeInfo), len(tm.Trees))
	}
	m := &XGBoost{
		name: name, obj: obj, objName: L.Objective.Name, features: L.FeatureNames,
		nFeatures: nFeat, classes: groups, base: base, threads: runtime.GOMAXPROCS(0), adjacent: true,
	}
	if L.Booster.Name == "dart" {
		if len(L.Booster.WeightDrop) != len(tm.Trees) {
			return nil, fmt.Errorf("dart weight_drop has %d entries for %d trees", len(L.Booster.WeightDrop), len(tm.Trees))
		}
		m.weights = make([]float32, len(tm.Trees))
		for i, w := range L.Booster.WeightDrop {
			m.weights[i] = float32(w)
		}
	}
	for i := range tm.Trees {
		g := tm.TreeInfo[i]
		if g < 0 || g >= groups {
			return nil, fmt.Errorf("tree %d: tree_info group %d out of range [0, %d)", i, g, groups)
		}
		if err := m.addTree(&tm.Trees[i]); err != nil {
			return nil, fmt.Errorf("tree %d: %w", i, err)
		}
		m.group = append(m.group, int32(g))
	}
	if err := m.readAttributes(L.Attributes, tm); err != nil {
		return nil, err
	}
	m.buildFlat()
	return m, nil
}

// readAttributes takes the missing value and best_iteration a model
// records. A model saved by the sklearn wrapper keeps its constructor's
// parameters in attributes.scikit_learn; XGBClassifier(missing=0.0)
// treats zeros as absent when it predicts, so ignoring the record would
// score such a model on values it never saw. best_iteration is what the
// wrapper's predict_proba stops at after early stopping.
func (m *XGBoost) readAttributes(attrs map[string]string, tm *xgbTreeModel) error {
	m.missing = float32(math.NaN())
	m.missingSource = MissingDefault
	m.bestIteration = -1
	per, err := parseIntParam("gbtree_model_param.num_parallel_tree", tm.Param.NumParallelTree, 1)
	if err != nil {
		return err
	}
	if per < 1 {
		per = 1
	}
	m.treesPerRound = per * m.classes
	m.limit = len(m.roots)
	if sk, ok := attrs["scikit_learn"]; ok {
		v, found, err := recordedMissing(sk)
		if err != nil {
			return fmt.Errorf("learner.attributes.scikit_learn: %w", err)
		}
		if found {
			m.missing, m.missingSource = v, MissingRecorded
		}
	}
	if bi, ok := attrs["best_iteration"]; ok {
		it, err := strconv.Atoi(strings.TrimSpace(bi))
		if err != nil || it < 0 {
			return fmt.Errorf("learner.attributes.best_iteration %q is not a round number", bi)
		}
		if (it+1)*m.treesPerRound > len(m.roots) {
			return fmt.Errorf("learner.attributes.best_iteration %d needs %d trees, the model has %d", it, (it+1)*m.treesPerRound, len(m.roots))
		}
		m.bestIteration = it
		m.limit = (it + 1) * m.treesPerRound
	}
	return nil
}

// recordedMissing reads "missing" from the sklearn wrapper's parameters.
// Python's json writes NaN and Infinity bare, which encoding/json
// rejects, so the value is taken from the raw text of that one field.
func recordedMissing(sk string) (float32, bool, error) {
	var params map[string]json.RawMessage
	if err := json.Unmarshal(quotePyConstants(sk), &params); err != nil {
		return 0, false, fmt.Errorf("not JSON: %w", err)
	}
	raw, ok := params["missing"]
	if !ok || string(raw) == "null" {
		return 0, false, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "NaN":
			return float32(math.NaN()), true, nil
		case "Infinity":
			return float32(math.Inf(1)), true, nil
		case "-Infinity":
			return float32(math.Inf(-1)), true, nil
		}
		return 0, false, fmt.Errorf("missing %q is not a number", s)
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, false, fmt.Errorf("missing %s is not a number", raw)
	}
	return float32(f), true, nil
}

// quotePyConstants turns Python's bare NaN, Infinity and -Infinity
// outside strings into JSON strings, so that a NaN anywhere (evals_result_
// lists hold them after a diverged round) does not fail the whole decode.
func quotePyConstants(s string) []byte {
	out := make([]byte, 0, len(s)+16)
	inStr, esc := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inStr {
			out = append(out, c)
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		if c == '"' {
			inStr = true
			out = append(out, c)
			continue
		}
		matched := false
		for _, tok := range []string{"NaN", "-Infinity", "Infinity"} {
			if strings.HasPrefix(s[i:], tok) {
				out = append(out, '"')
				out = append(out, tok...)
				out = append(out, '"')
				i += len(tok) - 1
				matched = true
				break
			}
		}
		if !matched {
			out = append(out, c)
		}
	}
	return out
}

// Missing is the value treated as absent besides NaN, and where it came
// from. NaN means only NaN is missing.
func (m *XGBoost) Missing() (float64, MissingSource) {
	return float64(m.missing), m.missingSource
}

// SetMissing makes v (as float32, the way XGBoost compares it) mean
// "absent", overriding what the model records: for models trained with
// xgb.train on a DMatrix(missing=v), which record nothing.
func (m *XGBoost) SetMissing(v float64) {
	m.missing, m.missingSource = float32(v), MissingOption
}

// Inference describes the missing value and the trees Predict uses, for
// reports: both change every score, and neither shows in the output.
func (m *XGBoost) Inference() string {
	from := map[MissingSource]string{
		MissingDefault:  "xgboost's default; the model records none",
		MissingRecorded: "recorded by the sklearn wrapper",
		MissingOption:   "set by --missing / candidate.missing",
	}[m.missingSource]
	miss := fmt.Sprintf("missing value nan (%s)", from)
	if m.missing == m.missing {
		miss = fmt.Sprintf("missing value %g (%s) and nan", m.missing, from)
	}
	var trees string
	switch {
	case m.bestIteration < 0 || (m.bestIteration+1)*m.treesPerRound == len(m.roots):
		// xgboost 1.7 records best_iteration as the last round even
		// without early stopping: nothing to choose then.
		trees = fmt.Sprintf("all %d trees", len(m.roots))
	case m.limit < len(m.roots):
		trees = fmt.Sprintf("%d of %d trees (up to best_iteration %d, as predict_proba; --all-trees for all)", m.limit, len(m.roots), m.bestIteration)
	default:
		trees = fmt.Sprintf("all %d trees (--all-trees; best_iteration %d would use %d)", len(m.roots), m.bestIteration, (m.bestIteration+1)*m.treesPerRound)
	}
	return miss + "; " + trees
}

// BestIteration is the recorded best_iteration, or -1.
func (m *XGBoost) BestIteration() int { return m.bestIteration }

// TreesUsed is how many trees Predict sums.
func (m *XGBoost) TreesUsed() int { return m.limit }

// UseAllTrees makes Predict sum every tree even when the model records
// best_iteration (xgboost's iteration_range=(0, num_boosted_rounds)).
func (m *XGBoost) UseAllTrees(all bool) {
	m.limit = len(m.roots)
	if !all && m.bestIteration >= 0 {
		m.limit = (m.bestIteration + 1) * m.treesPerRound
	}
}

func parseIntParam(field, s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<31 {
			return 0, fmt.Errorf("%s: %q is not an integer", field, s)
		}
		v = int(f)
	}
	return v, nil
}

// parseBaseScore reads base_score as XGBoost writes it: "5E-1" in 1.x,
// "[5E-1]" (a vector) in 2.x.
func parseBaseScore(s string) (float32, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0.5, nil
	}
	if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
		t = strings.TrimSpace(t[1 : len(t)-1])
		if strings.Contains(t, ",") {
			return 0, fmt.Errorf("learner_model_param.base_score %q: vector base scores are not supported", s)
		}
	}
	v, err := strconv.ParseFloat(t, 32)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("learner_model_param.base_score %q is not a number", s)
	}
	return float32(v), nil
}

func (m *XGBoost) addTree(t *xgbTree) error {
	n := len(t.Left)
	if n == 0 {
		return errors.New("tree has no nodes")
	}
	if t.Param.NumNodes != "" {
		if k, err := strconv.Atoi(t.Param.NumNodes); err == nil && k != n {
			return fmt.Errorf("tree_param.num_nodes %d but %d left_children", k, n)
		}
	}
	for _, l := range []struct {
		name string
		n    int
	}{{"right_children", len(t.Right)}, {"split_indices", len(t.SplitIdx)}, {"split_conditions", len(t.SplitCond)}, {"default_left", len(t.DefaultLeft)}} {
		if l.n != n {
			return fmt.Errorf("%s has %d entries for %d nodes", l.name, l.n, n)
		}
	}
	if len(t.SplitType) != 0 && len(t.SplitType) != n {
		return fmt.Errorf("split_type has %d entries for %d nodes", len(t.SplitType), n)
	}
	if len(m.nodes)+n > math.MaxInt32/2 {
		return errors.New("model too large")
	}
	off := int32(len(m.nodes))
	// Walk from the root so that every reachable node is checked once:
	// a child index out of range or a node reached twice (a cycle or a
	// shared subtree) would make prediction loop or crash.
	seen := make([]bool, n)
	stack := []int{0}
	seen[0] = true
	nodes := make([]node, n)
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		l, r := t.Left[i], t.Right[i]
		if l == -1 {
			v := t.SplitCond[i]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("leaf %d has value %g", i, v)
			}
			nodes[i] = node{left: -1, right: -1, cond: float32(v)}
			continue
		}
		if len(t.SplitType) != 0 && t.SplitType[i] != 0 {
			return fmt.Errorf("node %d: categorical splits are not supported", i)
		}
		for _, c := range []int{l, r} {
			if c <= 0 || c >= n {
				return fmt.Errorf("node %d: child %d out of range [1, %d)", i, c, n)
			}
			if seen[c] {
				return fmt.Errorf("node %d: child %d is reached twice", i, c)
			}
			seen[c] = true
			stack = append(stack, c)
		}
		f := t.SplitIdx[i]
		if f < 0 || f >= int64(m.nFeatures) {
			return fmt.Errorf("node %d: split feature %d out of range [0, %d)", i, f, m.nFeatures)
		}
		if math.IsNaN(t.SplitCond[i]) {
			return fmt.Errorf("node %d: split condition is NaN", i)
		}
		feat := uint32(f)
		if t.DefaultLeft[i] != 0 {
			feat |= defaultLeftBit
		}
		nodes[i] = node{left: int32(l) + off, right: int32(r) + off, feat: feat, cond: float32(t.SplitCond[i])}
		if r != l+1 {
			m.adjacent = false
		}
	}
	m.nodes = append(m.nodes, nodes...)
	m.roots = append(m.roots, off)
	return nil
}

// Info describes the model.
func (m *XGBoost) Info() Info {
	info := Info{Name: m.name, Kind: m.obj.kind, Features: m.features, Inference: m.Inference()}
	if m.obj.kind == Multiclass {
		info.Classes = m.classes
	}
	return info
}

// Objective is the XGBoost objective the model was trained with.
func (m *XGBoost) Objective() string { return m.objName }

// NumFeatures is the number of input features the model was trained on.
func (m *XGBoost) NumFeatures() int { return m.nFeatures }

// NumTrees is the number of trees.
func (m *XGBoost) NumTrees() int { return len(m.roots) }

// SetThreads bounds the goroutines Predict uses; n < 1 means GOMAXPROCS.
func (m *XGBoost) SetThreads(n int) {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	m.threads = n
}

// MissingFeatureError names the model features a batch does not have.
type MissingFeatureError struct {
	Missing []string
}

func (e *MissingFeatureError) Error() string {
	return fmt.Sprintf("data has no column for model feature(s) %s", strings.Join(e.Missing, ", "))
}

// columnMap gives, for each model feature, its column in the batch.
func (m *XGBoost) columnMap(b Batch) ([]int, error) {
	cols := make([]int, m.nFeatures)
	if len(m.features) == 0 {
		// A model trained on a bare matrix has no names: features are
		// positional, so the batch must have exactly that many columns.
		if len(b.Features) != m.nFeatures {
			return nil, fmt.Errorf("model has %d unnamed features but the data has %d columns", m.nFeatures, len(b.Features))
		}
		for i := range cols {
			cols[i] = i
		}
		return cols, nil
	}
	if len(b.Features) == len(m.features) {
		same := true
		for i, f := range b.Features {
			if f != m.features[i] {
				same = false
				break
			}
		}
		if same {
			// The common case (the server, BatchFromFrame with the
			// model's own names): no map needed.
			for i := range cols {
				cols[i] = i
			}
			return cols, nil
		}
	}
	idx := make(map[string]int, len(b.Features))
	for i, f := range b.Features {
		if _, dup := idx[f]; !dup {
			idx[f] = i
		}
	}
	var missing []string
	for i, f := range m.features {
		j, ok := idx[f]
		if !ok {
			missing = append(missing, f)
			continue
		}
		cols[i] = j
	}
	if len(missing) > 0 {
		return nil, &MissingFeatureError{Missing: missing}
	}
	return cols, nil
}

// ValueError names a feature value a model cannot take, by data row
// (1-based) and column.
type ValueError struct {
	Row    int
	Column string
	Value  float64
	Msg    string
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("row %d column %q: %g: %s", e.Row, e.Column, e.Value, e.Msg)
}

// checkFinite refuses ±Inf features, as xgboost's DMatrix does ("Input
// data contains inf"): the CSV reader keeps inf as a number, so a file
// pandas reads the same way fails here with its row and column instead
// of being scored on a value xgboost never accepts. An Inf that is the
// model's missing value is simply missing.
func (m *XGBoost) checkFinite(b Batch, cols []int) error {
	width := len(b.Features)
	for r := 0; r < b.Rows; r++ {
		row := b.Values[r*width : (r+1)*width]
		for _, c := range cols {
			v := row[c]
			if math.IsInf(v, 0) && float32(v) != m.missing {
				name := b.Features[c]
				return &ValueError{Row: r + 1, Column: name, Value: v, Msg: "infinite feature values are refused (xgboost's DMatrix refuses them too); give the model a missing value or drop the row"}
			}
		}
	}
	return nil
}

// blockRows is how many rows are pushed through all trees together: the
// rows' features stay in L1 while the trees stream past.
const blockRows = 64

// Predict scores the batch, in parallel across row blocks.
func (m *XGBoost) Predict(ctx context.Context, b Batch) (Predictions, error) {
	if err := b.Check(); err != nil {
		return Predictions{}, err
	}
	cols, err := m.columnMap(b)
	if err != nil {
		return Predictions{}, err
	}
	// The flat layout's key pass reads every value anyway and flags a
	// float32 infinity, so checkFinite (one more pass over the whole
	// batch) runs only after a flag or a cut-short run, and returns what
	// it would have returned up front; the scores are then discarded.
	flat := m.flat != nil
	if !flat {
		if err := m.checkFinite(b, cols); err != nil {
			return Predictions{}, err
		}
	}
	var sawInf atomic.Bool
	refuse := func() error {
		if flat && (sawInf.Load() || ctx.Err() != nil) {
			return m.checkFinite(b, cols)
		}
		return nil
	}
	out := Predictions{Kind: m.obj.kind, Rows: b.Rows, Values: make([]float64, b.Rows*m.classes), Float32: true}
	if m.obj.kind == Multiclass {
		out.Classes = m.classes
	}
	nBlocks := (b.Rows + blockRows - 1) / blockRows
	workers := min(m.threads, nBlocks)
	if workers <= 1 {
		if m.predictBlocks(b, cols, out.Values, 0, nBlocks) {
			sawInf.Store(true)
		}
		if err := refuse(); err != nil {
			return Predictions{}, err
		}
		return out, ctx.Err()
	}
	// Blocks are handed out in chunks so that a slow core does not hold
	// up the rest and the context is checked often enough to cancel.
	var next int64
	var mu sync.Mutex
	chunk := max(1, min(256, nBlocks/(workers*8)))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				mu.Lock()
				lo := int(next)
				next += int64(chunk)
				mu.Unlock()
				if lo >= nBlocks {
					return
				}
				if m.predictBlocks(b, cols, out.Values, lo, min(lo+chunk, nBlocks)) {
					sawInf.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	if err := refuse(); err != nil {
		return Predictions{}, err
	}
	if err := ctx.Err(); err != nil {
		return Predictions{}, err
	}
	return out, nil
}

// predictBlocks scores blocks [lo, hi) into out. On the flat layout it
// reports whether a model feature was ±Inf as float32 and not missing
// (Predict then runs checkFinite); the walk's caller checked up front.
func (m *XGBoost) predictBlocks(b Batch, cols []int, out []float64, lo, hi int) (sawInf bool) {
	nf := m.nFeatures
	g := m.classes
	width := len(b.Features)
	bufRows := min(blockRows, b.Rows)
	sums := make([]float32, bufRows*g)
	var feats []float32 // the rows as float32 (pointer walk)
	var keys []uint32   // or their keys (flat layout, flat.go)
	var row []float64   // one row's model features when the batch has others
	inOrder := true     // the model's features are the batch's first columns
	for j, c := range cols {
		inOrder = inOrder && c == j
	}
	missKey := orderKey(m.missing)
	var inf uint32
	if m.flat != nil {
		keys = make([]uint32, bufRows*2*nf)
		row = make([]float64, nf)
	} else {
		feats = make([]float32, bufRows*nf)
	}
	for blk := lo; blk < hi; blk++ {
		r0 := blk * blockRows
		r1 := min(r0+blockRows, b.Rows)
		n := r1 - r0
		for i := 0; i < n; i++ {
			src := b.Values[(r0+i)*width : (r0+i+1)*width]
			if keys != nil {
				if !inOrder {
					for j, c := range cols {
						row[j] = src[c]
					}
					src = row
				}
				inf |= flatKeys(src[:nf], missKey, keys[i*2*nf:(i+1)*2*nf])
				continue
			}
			dst := feats[i*nf : (i+1)*nf]
			for j, c := range cols {
				dst[j] = float32(src[c])
			}
			if miss := m.missing; miss == miss {
				// XGBoost drops entries equal to missing (compared in
				// float32) when it builds the DMatrix: NaN routes them.
				for j, v := range dst {
					if v == miss {
						dst[j] = float32(math.NaN())
					}
				}
			}
		}
		for i := range sums[:n*g] {
			sums[i] = m.base
		}
		if m.flat != nil {
			m.sumTreesFlat(keys, sums[:n*g], n)
		} else {
			m.sumTrees(feats[:n*nf], sums[:n*g], n)
		}
		if g == 1 {
			m.obj.transform(sums[:n], out[r0:r1])
		} else {
			for i := 0; i < n; i++ {
				m.obj.transform(sums[i*g:(i+1)*g], out[(r0+i)*g:(r0+i+1)*g])
			}
		}
	}
	return inf != 0
}

// sumTrees adds every tree's leaf to the rows' float32 sums, tree by tree
// in model order, which is how XGBoost accumulates (order matters in
// float32).
func (m *XGBoost) sumTrees(feats, sums []float32, n int) {
	nodes := m.nodes
	nf := m.nFeatures
	g := m.classes
	for t, root := range m.roots[:m.limit] {
		grp := int(m.group[t])
		var w float32 = 1
		if m.weights != nil {
			w = m.weights[t]
		}
		if m.adjacent {
			var leaves [lanes]float32
			for i0 := 0; i0 < n; i0 += lanes {
				cnt := min(lanes, n-i0)
				walkLanes(nodes, feats[i0*nf:(i0+cnt)*nf], nf, root, cnt, &leaves)
				for j := 0; j < cnt; j++ {
					if m.weights != nil {
						sums[(i0+j)*g+grp] += w * leaves[j]
					} else {
						sums[(i0+j)*g+grp] += leaves[j]
					}
				}
			}
			continue
		}
		for i := 0; i < n; i++ {
			leaf := walk(nodes, feats[i*nf:(i+1)*nf], root)
			if m.weights != nil {
				sums[i*g+grp] += w * leaf
			} else {
				sums[i*g+grp] += leaf
			}
		}
	}
}

// walk follows a row from root to its leaf: x < cond goes left, a missing
// (NaN) x goes the learnt default way.
func walk(nodes []node, row []float32, k int32) float32 {
	for {
		nd := &nodes[k]
		if nd.left < 0 {
			return nd.cond
		}
		v := row[nd.feat&^defaultLeftBit]
		switch {
		case v != v:
			if nd.feat&defaultLeftBit != 0 {
				k = nd.left
			} else {
				k = nd.right
			}
		case v < nd.cond:
			k = nd.left
		default:
			k = nd.right
		}
	}
}

// lanes is how many rows walk a tree side by side. Each step of a walk
// waits on the load of the previous node; stepping several independent
// rows at once keeps the CPU's load units busy instead.
const lanes = 16

// walkLanes walks cnt <= lanes rows (feats holds their features) through
// one tree with the right == left + 1 layout and stores their leaves.
func walkLanes(nodes []node, feats []float32, nf int, root int32, cnt int, leaves *[lanes]float32) {
	var k [lanes]int32
	for j := 0; j < cnt; j++ {
		k[j] = root
	}
	for {
		moved := false
		for j := 0; j < cnt; j++ {
			nd := &nodes[k[j]]
			if nd.left < 0 {
				continue
			}
			moved = true
			v := feats[j*nf+int(nd.feat&^defaultLeftBit)]
			if v != v {
				k[j] = nd.left + int32(1-(nd.feat>>31))
			} else {
				k[j] = nd.left + b2i(!(v < nd.cond))
			}
		}
		if !moved {
			break
		}
	}
	for j := 0; j < cnt; j++ {
		leaves[j] = nodes[k[j]].cond
	}
}

func b2i(b bool) int32 {
	var i int32
	if b {
		i = 1
	}
	return i
}
