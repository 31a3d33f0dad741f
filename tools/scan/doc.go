// Package scan checks model artifacts for code that runs on load, for
// malformed structure and for leaked credentials, without ever loading
// them. Formats are recognised by content (magic bytes and structure,
// never the extension): pickle (protocols 0–5), joblib, PyTorch zip and
// legacy checkpoints, numpy .npy/.npz, safetensors, ONNX, Keras (.keras
// and HDF5), GGUF, XGBoost JSON, JSON and text; anything else is
// invalid unless Options.AllowUnknown.
//
// Each file gets a verdict: safe, unsafe (a critical or high finding:
// code execution, a leaked secret, a path that escapes its folder) or
// invalid (malformed or over a limit; the finding marked Reason says
// why). Unsafe wins over invalid because a pickle executes its calls
// before the loader notices the stream is cut short. Files are streamed
// and hashed while they are parsed, so memory stays flat with size;
// archives are bounded in member count, compression ratio and nesting.
//
// Pickles are analysed by the opcode walker of the pickle sub-package;
// safetensors by the safetensors sub-package. File scans one file,
// Paths files and folders, Reader any io.ReaderAt.
package scan
