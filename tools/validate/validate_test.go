package validate

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/tools/dataset"
)

func read(t *testing.T, csv string, o dataset.Options) *dataset.Frame {
	t.Helper()
	f, err := dataset.ReadCSV(strings.NewReader(csv), "data.csv", o)
	require.NoError(t, err)
	return f
}

func rules(r *Report) map[string]Severity {
	out := map[string]Severity{}
	for _, f := range r.Findings {
		out[f.Rule+":"+f.Column] = f.Severity
	}
	return out
}

func TestOracleData(t *testing.T) {
	t.Parallel()
	train, err := dataset.Read("../../testdata/drift/train.csv", dataset.Options{})
	require.NoError(t, err)
	s := Infer(train, InferOptions{Label: "target"})
	require.Equal(t, []string{"0", "1"}, s.Label.Classes)
	// The reference passes its own schema.
	r := Validate(train, s, Options{})
	require.True(t, r.Valid, "%+v", r.Findings)
	require.Greater(t, r.Checks, 60)

	drifted, err := dataset.Read("../../testdata/drift/holdout-drifted.csv", s.ReadOptions())
	require.NoError(t, err)
	r = Validate(drifted, s, Options{})
	require.False(t, r.Valid)
	got := rules(r)
	require.Equal(t, Error, got["completeness:worst_fractal_dimension"])
	// Shifted columns stray outside the inferred range (drift decides
	// whether that is drift; a few strays only warn).
	for _, col := range []string{"mean_radius", "mean_texture", "worst_area"} {
		require.Contains(t, got, "range:"+col, col)
	}
	require.Equal(t, 1, r.Failures)

	// The clean holdout passes the schema inferred from the training data.
	clean, err := dataset.Read("../../testdata/drift/holdout.csv", s.ReadOptions())
	require.NoError(t, err)
	require.True(t, Validate(clean, s, Options{}).Valid)
	for _, f := range r.Findings {
		require.LessOrEqual(t, len(f.Rows), 5)
		if f.Rule == "completeness" {
			require.NotEmpty(t, f.Rows)
		}
	}
}

func TestRules(t *testing.T) {
	t.Parallel()
	var ref strings.Builder
	ref.WriteString("id,color,x,target\n")
	for i := range 200 {
		ref.WriteString(strings.Join([]string{"id" + string(rune('A'+i%26)) + strings.Repeat("x", i/26), []string{"red", "green", "blue"}[i%3], "1." + strings.Repeat("5", 1+i%3), []string{"0", "1"}[i%2]}, ",") + "\n")
	}
	s := Infer(read(t, ref.String(), dataset.Options{}), InferOptions{Label: "target"})
	idc, _ := s.Col("id")
	require.True(t, idc.Unique)
	color, _ := s.Col("color")
	require.Equal(t, []string{"blue", "green", "red"}, color.Values)
	require.Equal(t, 0.25, s.Label.MinClassShare)

	tests := []struct {
		name  string
		csv   string
		env   string
		want  map[string]Severity
		valid bool
	}{
		{name: "clean", csv: "id,color,x,target\na,red,1.5,0\nb,blue,1.55,1\n", valid: true, want: map[string]Severity{}},
		{name: "serving without label", csv: "id,color,x\na,red,1.5\n", env: Serving, valid: true, want: map[string]Severity{}},
		{name: "training without label", csv: "id,color,x\na,red,1.5\n", want: map[string]Severity{"label:target": Error}},
		{name: "missing column and unexpected", csv: "id,x,target,extra\na,1.5,0,1\nb,1.5,1,2\n",
			want: map[string]Severity{"missing_column:color": Error, "unexpected_column:extra": Warning}},
		{name: "type with example rows", csv: "id,color,x,target\na,red,1.5,0\nb,red,abc,1\n", want: map[string]Severity{"type:x": Error}},
		{name: "range", csv: "id,color,x,target\na,red,9,0\nb,red,1.5,1\n", want: map[string]Severity{"range:x": Error}},
		{name: "duplicates", csv: "id,color,x,target\na,red,1.5,0\na,red,1.5,1\n", want: map[string]Severity{"unique:id": Error}},
		{name: "new category fails", csv: "id,color,x,target\na,pink,1.5,0\nb,red,1.5,1\n", want: map[string]Severity{"domain:color": Error}},
		{name: "class balance", csv: "id,color,x,target\na,red,1.5,0\nb,red,1.5,0\n", want: map[string]Severity{"class_balance:target": Error}},
		{name: "completeness", csv: "id,color,x,target\na,,1.5,0\nb,red,1.5,1\n", want: map[string]Severity{"completeness:color": Error}},
		{name: "zero rows", csv: "id,color,x,target\n", want: map[string]Severity{"row_count:": Error, "class_balance:target": Error}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := Validate(read(t, tt.csv, s.ReadOptions()), s, Options{Environment: tt.env})
			require.Equal(t, tt.want, rules(r), "%+v", r.Findings)
			require.Equal(t, tt.valid, r.Valid)
		})
	}

	// A rare new category within the domain mass only warns.
	var many strings.Builder
	many.WriteString("id,color,x,target\n")
	for i := range 300 {
		c := "red"
		if i == 7 {
			c = "pink"
		}
		many.WriteString("i" + strings.Repeat("z", i) + "," + c + ",1.5," + []string{"0", "1"}[i%2] + "\n")
	}
	r := Validate(read(t, many.String(), s.ReadOptions()), s, Options{})
	require.Equal(t, map[string]Severity{"domain:color": Warning}, rules(r))
	require.Equal(t, []int{8}, r.Findings[0].Rows)
	require.True(t, r.Valid)
}

func TestSchemaRoundTripAndErrors(t *testing.T) {
	t.Parallel()
	train, err := dataset.Read("../../testdata/drift/train.csv", dataset.Options{})
	require.NoError(t, err)
	s := Infer(train, InferOptions{Label: "target"})
	path := filepath.Join(t.TempDir(), "schema.yaml")
	require.NoError(t, s.Write(path))
	back, err := Load(path)
	require.NoError(t, err)
	require.Equal(t, s, back)

	_, err = Parse("s.yaml", []byte("version: 1\ncolumns:\n  - name: a\n    type: numbr\n    colour: x\n"))
	require.ErrorContains(t, err, `line 5`)
	require.ErrorContains(t, err, `unknown key "colour"`)
	_, err = Parse("s.yaml", []byte("version: 1\ncolumns:\n  - name: a\n    type: numbr\n"))
	require.ErrorContains(t, err, "columns[0].type")
	_, err = Parse("s.yaml", []byte("version: 1\nlabel: {name: y}\ncolumns:\n  - {name: a, type: numeric, max_null_fraction: 2}\n  - {name: a, type: numeric}\n"))
	require.ErrorContains(t, err, "max_null_fraction")
	require.ErrorContains(t, err, "duplicate column")
	require.ErrorContains(t, err, `"y" is not in columns`)
	_, err = Load(filepath.Join(t.TempDir(), "none.yaml"))
	require.Error(t, err)
}

func FuzzParseSchema(f *testing.F) {
	f.Add([]byte("version: 1\nrows: {min: 1}\ncolumns:\n  - {name: a, type: numeric, min: 0, max: 1}\n"))
	f.Add([]byte("version: 1\nlabel: {name: t, classes: [a, b], min_class_share: 0.1}\ncolumns:\n  - {name: t, type: categorical, values: [a, b], environments: [training]}\n"))
	f.Add([]byte("{"))
	f.Add([]byte("version: 1\ncolumns: [{name: x, type: boolean, unique: true, min_domain_mass: 0.5}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		out, err := s.Marshal()
		if err != nil {
			t.Fatalf("marshal a parsed schema: %v", err)
		}
		if _, err := Parse("again.yaml", out); err != nil {
			t.Fatalf("a marshalled schema does not parse: %v\n%s", err, out)
		}
	})
}
