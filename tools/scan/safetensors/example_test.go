package safetensors_test

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/modelgate/modelgate/tools/scan/safetensors"
)

func ExampleValidate() {
	hdr := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	file := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	file = append(file, hdr...)
	file = append(file, make([]byte, 4)...) // 4 of the 8 data bytes are missing
	_, err := safetensors.Validate(bytes.NewReader(file), int64(len(file)))
	fmt.Println(err)
	// Output:
	// tensor "w": data_offsets end 8 is beyond the 4-byte data buffer (end of file)
}
