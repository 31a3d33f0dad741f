package validate_test

import (
	"fmt"
	"strings"

	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/validate"
)

func ExampleValidate() {
	ref, _ := dataset.ReadCSV(strings.NewReader("age,plan,target\n30,basic,0\n41,pro,1\n25,basic,0\n38,pro,1\n"), "train.csv", dataset.Options{})
	schema := validate.Infer(ref, validate.InferOptions{Label: "target"})

	serving := "age,plan\n33,basic\n,pro\n29,enterprise\n"
	s, _ := dataset.ReadCSV(strings.NewReader(serving), "today.csv", schema.ReadOptions())
	r := validate.Validate(s, schema, validate.Options{Environment: validate.Serving})
	for _, f := range r.Findings {
		fmt.Printf("%s %s %s rows=%v\n", f.Severity, f.Rule, f.Column, f.Rows)
	}
	fmt.Println("valid:", r.Valid)
	// Output:
	// error completeness age rows=[2]
	// error domain plan rows=[3]
	// valid: false
}
