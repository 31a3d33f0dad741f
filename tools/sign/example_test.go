package sign_test

import (
	"fmt"

	"github.com/modelgate/modelgate/tools/sign"
)

func ExampleManifest_Canonical() {
	m, _ := sign.NewManifest([]sign.Entry{
		{Path: "weights.safetensors", SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Size: 4},
		{Path: "config.json", SHA256: "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", Size: 2},
	})
	fmt.Println(string(m.Canonical()))
	// Output:
	// {"files":[{"path":"config.json","sha256":"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},{"path":"weights.safetensors","sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","size":4}]}
}
