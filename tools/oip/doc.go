// Package oip is the Open Inference Protocol V2 (KServe, Triton, MLServer) REST codec that the gateway and the model server and client share.
//
// # Messages
//
// Tensor, InferRequest and InferResponse are the protocol's JSON
// messages; CheckTensor bounds a tensor's datatype and shape before its
// data is read, and Numbers reads a tensor's data strictly (nested
// arrays flattened, null as NaN, exactly the shape's count), with the
// body rather than the declared shape bounding the allocation.
//
// # The proxy's path
//
// ParseOutputs reads outputs[0] of a response by walking the bytes
// (no maps, no reflection, the destination slice reused): the gateway
// runs it on every proxied response and it must not allocate there.
// ParseInputs reads a request's rows for the gateway's input sample, and
// EncodeRequest writes the [N, F] FP64 request that MLServer and KServe
// runtimes take.
package oip
