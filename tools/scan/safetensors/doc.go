// Package safetensors validates safetensors files as the format defines
// them: an 8-byte little-endian header length within the format's limit
// and within the file, a UTF-8 JSON header that starts with '{', known
// dtypes, shapes that match their byte spans, data offsets that tile the
// data buffer exactly (sorted, contiguous, no overlap, no gap, no tail)
// and a __metadata__ map of strings to strings. It reads only the header;
// tensors are never loaded, so a file of any size validates in constant
// memory.
package safetensors
