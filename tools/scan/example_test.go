package scan_test

import (
	"context"
	"fmt"

	"github.com/modelgate/modelgate/tools/scan"
)

func ExampleFile() {
	res, err := scan.File(context.Background(), "../../testdata/scan/fixtures/malicious/os-system-p0.pkl", scan.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Format, res.Verdict)
	for _, f := range res.Findings {
		fmt.Println(f.Severity, f.Code, f.Location)
	}
	// Output:
	// pickle unsafe
	// critical scan.pickle.global offset 0
}

func ExamplePaths() {
	rep, err := scan.Paths(context.Background(), []string{"../../testdata/scan/fixtures/benign"}, scan.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range rep.Files {
		fmt.Println(f.Verdict, f.Format)
	}
	fmt.Printf("%+v\n", rep.Summary)
	// Output:
	// safe pickle
	// safe pickle
	// safe onnx
	// safe pickle
	// safe pytorch
	// safe safetensors
	// {Safe:6 Unsafe:0 Invalid:0}
}
