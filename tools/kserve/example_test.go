package kserve_test

import (
	"fmt"

	"github.com/modelgate/modelgate/tools/kserve"
)

func ExampleRender() {
	y, err := kserve.Render(kserve.Params{Name: "fraud-detector", StorageURI: "s3://models/fraud/v2", Version: "v2"}, 25)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(y))
	// Output:
	// apiVersion: serving.kserve.io/v1beta1
	// kind: InferenceService
	// metadata:
	//   name: fraud-detector
	//   namespace: default
	//   labels:
	//     app.kubernetes.io/managed-by: modelgate
	//     modelgate.io/version: v2
	// spec:
	//   predictor:
	//     canaryTrafficPercent: 25
	//     model:
	//       modelFormat:
	//         name: xgboost
	//       protocolVersion: v2
	//       storageUri: s3://models/fraud/v2
}
