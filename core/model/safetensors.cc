// safetensors reader (mmap + one validated copy per tensor) and atomic writer.
// Layout: u64 LE header length N | N bytes of JSON (space padded) | data buffer.
#include "core/model/safetensors.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string_view>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/common/utf8.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; this code copies bytes as they are");

namespace dpo {
namespace {

using Json = nlohmann::json;

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  std::uint64_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", at::kDouble, 8},    {"F32", at::kFloat, 4}, {"F16", at::kHalf, 2},
    {"BF16", at::kBFloat16, 2}, {"I64", at::kLong, 8},  {"I32", at::kInt, 4},
    {"I16", at::kShort, 2},     {"I8", at::kChar, 1},   {"U8", at::kByte, 1},
    {"BOOL", at::kBool, 1},
};
constexpr char kSupportedDtypes[] = "F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL";
constexpr char kMetadataKey[] = "__metadata__";
constexpr std::uint64_t kLengthFieldBytes = 8;

// One validated header entry.
struct TensorEntry {
  std::string name;
  const DtypeInfo* dtype = nullptr;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

struct ParsedHeader {
  std::map<std::string, std::string> metadata;
  std::vector<TensorEntry> entries;  // sorted by data offsets
};

// Control bytes (and, with `ascii_only`, every non-ASCII byte) as \xNN, so that a message from a
// hostile file stays one printable line.
std::string Printable(const std::string& text, bool ascii_only) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || (ascii_only && byte >= 0x80)) {
      constexpr char kHex[] = "0123456789abcdef";
      out += {'\\', 'x', kHex[byte >> 4], kHex[byte & 15]};
    } else {
      out += c;
    }
  }
  return out;
}

std::string Quote(const std::string& text) { return "\"" + Printable(text, false) + "\""; }

std::string ShapeString(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

std::string OffsetsString(std::uint64_t begin, std::uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// A JSON value for a message: scalars as written, containers by kind (they may be huge).
std::string Describe(const Json& value) {
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return value.dump();
}

// Read-only private mapping of a whole file; the bytes stay valid while this lives.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw InvalidInput("cannot open " + path + ": " + std::strerror(errno));
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
      ::close(fd);
      throw InvalidInput("cannot read " + path + ": not a regular file");
    }
    size_ = static_cast<std::uint64_t>(info.st_size);
    if (size_ > 0) {
      void* address = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (address == MAP_FAILED) {
        const std::string reason = std::strerror(errno);
        ::close(fd);
        throw InvalidInput("cannot map " + path + ": " + reason);
      }
      data_ = static_cast<const unsigned char*>(address);
    }
    ::close(fd);  // the mapping keeps the file referenced
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<unsigned char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  std::uint64_t size() const { return size_; }

 private:
  const unsigned char* data_ = nullptr;
  std::uint64_t size_ = 0;
};

// A non-negative integer JSON value, or nullopt (the parser stores those as unsigned).
std::optional<std::uint64_t> AsCount(const Json& value) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  return std::nullopt;
}

TensorEntry ParseEntry(const std::string& where, const std::string& name, const Json& value,
                       std::uint64_t buffer_size) {
  const std::string prefix = where + "tensor " + Quote(name) + ": ";
  if (!value.is_object()) {
    throw InvalidInput(prefix + "entry is " + Describe(value) +
                       ", expected an object with \"dtype\", \"shape\" and \"data_offsets\"");
  }
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(field)) throw InvalidInput(prefix + "missing \"" + field + "\"");
  }
  TensorEntry entry;
  entry.name = name;

  const Json& dtype = value.at("dtype");
  if (!dtype.is_string())
    throw InvalidInput(prefix + "\"dtype\" is " + Describe(dtype) + ", expected a string");
  const std::string& dtype_name = dtype.get_ref<const std::string&>();
  for (const DtypeInfo& info : kDtypes) {
    if (dtype_name == info.name) entry.dtype = &info;
  }
  if (entry.dtype == nullptr) {
    throw InvalidInput(prefix + "unknown dtype " + Quote(dtype_name) +
                       " (supported: " + kSupportedDtypes + ")");
  }

  const Json& shape = value.at("shape");
  if (!shape.is_array()) {
    throw InvalidInput(prefix + "\"shape\" is " + Describe(shape) +
                       ", expected an array of non-negative integers");
  }
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const std::optional<std::uint64_t> dim = AsCount(shape[i]);
    if (!dim || *dim > static_cast<std::uint64_t>(INT64_MAX)) {
      throw InvalidInput(prefix + "shape dimension " + std::to_string(i) + " is " +
                         Describe(shape[i]) + ", expected a non-negative integer");
    }
    entry.shape.push_back(static_cast<std::int64_t>(*dim));
  }

  const Json& offsets = value.at("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2) {
    const std::string found =
        offsets.is_array() ? "an array of " + std::to_string(offsets.size()) : Describe(offsets);
    throw InvalidInput(prefix + "\"data_offsets\" is " + found + ", expected [begin, end]");
  }
  const std::optional<std::uint64_t> begin = AsCount(offsets[0]);
  const std::optional<std::uint64_t> end = AsCount(offsets[1]);
  if (!begin || !end) {
    throw InvalidInput(prefix + "\"data_offsets\" [" + Describe(offsets[0]) + ", " +
                       Describe(offsets[1]) + "] must be non-negative integers");
  }
  entry.begin = *begin;
  entry.end = *end;
  const std::string range = "data_offsets " + OffsetsString(entry.begin, entry.end);
  if (entry.begin > entry.end) throw InvalidInput(prefix + range + ": begin is after end");
  if (entry.end > buffer_size) {
    throw InvalidInput(prefix + range + " end past the " + std::to_string(buffer_size) +
                       "-byte data buffer");
  }

  // numel * element size, with overflow checks (a zero dimension makes everything 0).
  const bool has_zero = std::find(entry.shape.begin(), entry.shape.end(), 0) != entry.shape.end();
  std::uint64_t needed = has_zero ? 0 : entry.dtype->size;
  bool overflow = false;
  for (const std::int64_t dim : entry.shape) {
    overflow = overflow || __builtin_mul_overflow(needed, static_cast<std::uint64_t>(dim), &needed);
  }
  const std::uint64_t held = entry.end - entry.begin;
  if (overflow || needed != held) {
    throw InvalidInput(prefix + range + " hold " + std::to_string(held) + " bytes, but shape " +
                       ShapeString(entry.shape) + " of " + entry.dtype->name + " needs " +
                       (overflow ? std::string("more than 2^64") : std::to_string(needed)));
  }
  return entry;
}

// Validates the length field and the JSON header of a mapped file.
ParsedHeader ParseHeader(const std::string& path, const MappedFile& file,
                         std::uint64_t* data_start) {
  const std::string where = path + ": ";
  if (file.size() < kLengthFieldBytes) {
    throw InvalidInput(where + "truncated: the file has " + std::to_string(file.size()) +
                       " bytes, fewer than the 8-byte header length field");
  }
  std::uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = (header_bytes << 8) | file.data()[i];
  if (header_bytes > kSafetensorsMaxHeaderBytes) {
    throw InvalidInput(where + "header length " + std::to_string(header_bytes) +
                       " exceeds the limit of " + std::to_string(kSafetensorsMaxHeaderBytes) +
                       " bytes");
  }
  const std::uint64_t after_length = file.size() - kLengthFieldBytes;
  if (header_bytes > after_length) {
    throw InvalidInput(where + "truncated: header says " + std::to_string(header_bytes) +
                       " bytes but the file has " + std::to_string(after_length) +
                       " after the length field");
  }
  *data_start = kLengthFieldBytes + header_bytes;
  const std::uint64_t buffer_size = file.size() - *data_start;

  // nlohmann keeps the last of duplicate keys silently, so top-level keys are checked here.
  std::set<std::string> seen;
  std::optional<std::string> duplicate;
  const auto on_event = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::key && depth == 1 && !duplicate) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!seen.insert(key).second) duplicate = key;
    }
    return true;
  };
  const char* text = reinterpret_cast<const char*>(file.data()) + kLengthFieldBytes;
  Json header;
  try {
    header = Json::parse(text, text + header_bytes, on_event);
  } catch (const Json::parse_error& error) {
    std::string reason = error.what();
    const std::size_t column = reason.find("column ");
    const std::size_t colon = reason.find(": ", column == std::string::npos ? 0 : column);
    if (colon != std::string::npos) reason = reason.substr(colon + 2);
    throw InvalidInput(where + "header is not valid JSON: " + Printable(reason, true) +
                       " (at byte " + std::to_string(error.byte) + " of the " +
                       std::to_string(header_bytes) + "-byte header)");
  }
  if (!header.is_object()) {
    throw InvalidInput(where + "header is " + Describe(header) + ", expected a JSON object");
  }
  if (duplicate) {
    throw InvalidInput(
        where + (*duplicate == kMetadataKey ? Quote(*duplicate) : "tensor " + Quote(*duplicate)) +
        " appears more than once in the header");
  }

  ParsedHeader parsed;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      if (!value.is_object()) {
        throw InvalidInput(where + "\"__metadata__\" is " + Describe(value) +
                           ", expected an object of strings");
      }
      for (const auto& [key, item] : value.items()) {
        if (!item.is_string()) {
          throw InvalidInput(where + "\"__metadata__\" key " + Quote(key) + ": value is " +
                             Describe(item) + ", expected a string");
        }
        parsed.metadata[key] = item.get<std::string>();
      }
      continue;
    }
    parsed.entries.push_back(ParseEntry(where, name, value, buffer_size));
  }

  // Sorted by range, the tensors must tile the buffer exactly: no overlap, no gap.
  std::stable_sort(parsed.entries.begin(), parsed.entries.end(),
                   [](const TensorEntry& a, const TensorEntry& b) {
                     return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
                   });
  std::uint64_t cursor = 0;
  const TensorEntry* previous = nullptr;
  const auto gap = [&](std::uint64_t from, std::uint64_t to) {
    return InvalidInput(where + "bytes [" + std::to_string(from) + ", " + std::to_string(to) +
                        ") of the " + std::to_string(buffer_size) +
                        "-byte data buffer are not covered by any tensor");
  };
  for (const TensorEntry& entry : parsed.entries) {
    if (entry.begin < cursor) {
      throw InvalidInput(where + "tensors " + Quote(previous->name) + " (data_offsets " +
                         OffsetsString(previous->begin, previous->end) + ") and " +
                         Quote(entry.name) + " (data_offsets " +
                         OffsetsString(entry.begin, entry.end) + ") overlap");
    }
    if (entry.begin > cursor) throw gap(cursor, entry.begin);
    cursor = entry.end;
    previous = &entry;
  }
  if (cursor < buffer_size) throw gap(cursor, buffer_size);
  return parsed;
}

}  // namespace

SafetensorsContents ReadSafetensors(const std::string& path) {
  const MappedFile file(path);
  std::uint64_t data_start = 0;
  ParsedHeader header = ParseHeader(path, file, &data_start);
  SafetensorsContents contents;
  contents.metadata = std::move(header.metadata);
  contents.tensors.reserve(header.entries.size());
  for (TensorEntry& entry : header.entries) {
    const unsigned char* bytes = file.data() + data_start + entry.begin;
    const std::uint64_t size = entry.end - entry.begin;
    if (entry.dtype->type == at::kBool) {
      for (std::uint64_t i = 0; i < size; ++i) {
        if (bytes[i] > 1) {
          throw InvalidInput(path + ": tensor " + Quote(entry.name) + ": BOOL element " +
                             std::to_string(i) + " is byte " + std::to_string(bytes[i]) +
                             ", expected 0 or 1");
        }
      }
    }
    at::Tensor tensor = at::empty(entry.shape, at::TensorOptions().dtype(entry.dtype->type));
    if (size > 0) std::memcpy(tensor.data_ptr(), bytes, size);
    contents.tensors.push_back({std::move(entry.name), std::move(tensor)});
  }
  return contents;
}

std::map<std::string, std::string> ReadSafetensorsMetadata(const std::string& path) {
  const MappedFile file(path);
  std::uint64_t data_start = 0;
  return ParseHeader(path, file, &data_start).metadata;
}

void WriteSafetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string where = path + ": ";
  const auto check_utf8 = [&](const std::string& text, const std::string& what) {
    if (const auto offset = FindInvalidUtf8(text)) {
      throw InvalidInput(where + what + " is not valid UTF-8 (byte " + std::to_string(*offset) +
                         ")");
    }
  };
  std::set<std::string> names;
  std::vector<const DtypeInfo*> dtypes;
  for (const NamedTensor& named : tensors) {
    const std::string prefix = where + "tensor " + Quote(named.name) + ": ";
    if (named.name.empty()) throw InvalidInput(where + "a tensor has an empty name");
    check_utf8(named.name, "a tensor name");
    if (named.name == kMetadataKey) throw InvalidInput(prefix + "the name is reserved");
    if (!names.insert(named.name).second) throw InvalidInput(prefix + "the name appears twice");
    if (!named.tensor.defined()) throw InvalidInput(prefix + "undefined tensor");
    if (named.tensor.layout() != at::kStrided)
      throw InvalidInput(prefix + "only dense tensors can be written");
    const DtypeInfo* found = nullptr;
    for (const DtypeInfo& info : kDtypes) {
      if (named.tensor.scalar_type() == info.type) found = &info;
    }
    if (found == nullptr) {
      throw InvalidInput(prefix + "dtype " +
                         std::string(c10::toString(named.tensor.scalar_type())) +
                         " cannot be stored (supported: " + kSupportedDtypes + ")");
    }
    dtypes.push_back(found);
  }
  for (const auto& [key, value] : metadata) {
    check_utf8(key, "a metadata key");
    check_utf8(value, "metadata value of " + Quote(key));
  }

  // Largest elements first keeps every offset aligned to its element size (the header is
  // padded to 8); the caller's order is kept within one element size.
  std::vector<std::size_t> order(tensors.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return dtypes[a]->size > dtypes[b]->size; });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::uint64_t offset = 0;
  for (const std::size_t i : order) {
    const at::Tensor& tensor = tensors[i].tensor;
    const std::uint64_t bytes = static_cast<std::uint64_t>(tensor.numel()) * dtypes[i]->size;
    header[tensors[i].name] = {{"dtype", dtypes[i]->name},
                               {"shape", tensor.sizes().vec()},
                               {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  std::string file;
  file.reserve(kLengthFieldBytes + header_text.size() + offset);
  const std::uint64_t header_bytes = header_text.size();
  for (int i = 0; i < 8; ++i) file.push_back(static_cast<char>((header_bytes >> (8 * i)) & 0xff));
  file += header_text;
  for (const std::size_t i : order) {
    // One tensor at a time, so at most one extra contiguous CPU copy is alive.
    const at::Tensor cpu = tensors[i].tensor.detach().to(at::kCPU).contiguous();
    const auto bytes = static_cast<std::size_t>(cpu.numel()) * dtypes[i]->size;
    if (bytes > 0) file.append(static_cast<const char*>(cpu.data_ptr()), bytes);
  }
  WriteFileAtomically(path, file);
}

}  // namespace dpo
