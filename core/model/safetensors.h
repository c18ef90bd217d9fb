// Our own reader and writer of the safetensors format (Hugging Face): an 8-byte little-endian
// header length N, N bytes of UTF-8 JSON describing each tensor, then the raw row-major
// little-endian bytes. Reading validates every field and never trusts an offset or a size.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dpo {

// A tensor together with its name in the file (e.g. "h.0.attn.c_attn.weight").
struct NamedTensor {
  std::string name;
  at::Tensor tensor;
};

// Everything a safetensors file holds.
struct SafetensorsContents {
  std::vector<NamedTensor> tensors;             // in file order (ascending data offsets)
  std::map<std::string, std::string> metadata;  // the "__metadata__" object; empty if absent
};

// Headers above this size are rejected before anything is allocated (the reference
// implementation's limit).
inline constexpr std::uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

// Writes `tensors` to `path` atomically (temp file, fsync, rename; see WriteFileAtomically).
// Supported dtypes: float64/32/16, bfloat16, int64/32/16/8, uint8, bool (stored as F64, F32,
// F16, BF16, I64, I32, I16, I8, U8, BOOL). Each tensor is written as a contiguous CPU copy of
// its values (device, strides and autograd state are not stored). The data buffer holds the
// tensors ordered by element size, largest first, and in the caller's order within one size,
// so every tensor's offset is aligned to its element size; the JSON header is padded with
// spaces to a multiple of 8 bytes like the reference implementation. `metadata` becomes the
// "__metadata__" object (omitted when empty).
// Throws Error(kInvalidInput) for an empty, duplicate or reserved ("__metadata__") name, an
// invalid UTF-8 name or metadata string, an unsupported dtype or a sparse tensor; throws
// Error(kInternal) on I/O failure. The file is untouched when anything throws.
void WriteSafetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// Reads a whole file. Tensors are new CPU tensors in the file's dtype (callers convert) and
// shape; the file is memory-mapped and each tensor's bytes are copied once into it.
// Throws Error(kInvalidInput) naming the path, the tensor and expected vs found for any
// malformed input: file shorter than 8 bytes, header length over kSafetensorsMaxHeaderBytes or
// past the end of the file, invalid JSON or UTF-8, a header that is not an object, a bad
// "__metadata__" (not an object of strings), an entry missing or with a malformed dtype /
// shape / data_offsets, an unknown dtype, offsets past the data buffer, a byte size that is
// not numel * element size, overlapping ranges, bytes not covered by any tensor, duplicate
// names, BOOL bytes other than 0 and 1. Never crashes or over-allocates on hostile input.
SafetensorsContents ReadSafetensors(const std::string& path);

// Reads and validates only the header and returns its "__metadata__" (e.g. to check a format
// tag without loading weights). The same errors as ReadSafetensors, except that the data
// buffer is not read and so BOOL values are not checked.
std::map<std::string, std::string> ReadSafetensorsMetadata(const std::string& path);

}  // namespace dpo
