// Tests of the safetensors reader/writer: bit-exact round trips for every dtype, a file from an
// independent writer (tests/fixtures/safetensors/make_fixture.py), and one test per corruption.
#include "core/model/safetensors.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/file_io.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "safetensors_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string PathOf(const std::string& name) const { return (dir_ / name).string(); }

  // Writes raw bytes, bypassing our writer.
  std::string WriteBytes(const std::string& name, const std::string& bytes) const {
    const std::string path = PathOf(name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  fs::path dir_;
};

// The raw bytes of a tensor's values in row-major order.
std::string RawBytes(const at::Tensor& tensor) {
  const at::Tensor cpu = tensor.contiguous();
  return std::string(static_cast<const char*>(cpu.data_ptr()), cpu.numel() * cpu.element_size());
}

// A tensor of `view_type` whose bytes are exactly `bits`.
template <typename T>
at::Tensor FromBits(std::vector<T> bits, at::ScalarType storage_type, at::ScalarType view_type) {
  const auto size = static_cast<int64_t>(bits.size());
  return at::from_blob(bits.data(), {size}, storage_type).clone().view(view_type);
}

// An 8-byte little-endian length field.
std::string LengthField(uint64_t length) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  return out;
}

// The length field, the header, then the data buffer.
std::string FileBytes(const std::string& header, const std::string& data = "") {
  return LengthField(header.size()) + header + data;
}

struct DtypeCase {
  std::string name;
  at::Tensor tensor;  // special values given as bit patterns
};

// Test names, not bytes, in gtest's output.
void PrintTo(const DtypeCase& param, std::ostream* out) { *out << param.name; }

std::vector<DtypeCase> DtypeCases() {
  constexpr auto kI64Min = std::numeric_limits<int64_t>::min();
  constexpr auto kI64Max = std::numeric_limits<int64_t>::max();
  return {
      // quiet NaN with payload, -NaN, +-inf, -0.0, smallest denormal, 1.0, max
      {"F64", FromBits<int64_t>({0x7ff8000000000001, -1, 0x7ff0000000000000, -0x10000000000000,
                                 kI64Min, 1, 0x3ff0000000000000, 0x7fefffffffffffff},
                                at::kLong, at::kDouble)},
      {"F32", FromBits<int32_t>({0x7fc00001, -1, 0x7f800000, static_cast<int32_t>(0xff800000),
                                 static_cast<int32_t>(0x80000000), 1, 0x3f800000, 0x7f7fffff},
                                at::kInt, at::kFloat)},
      {"F16", FromBits<int16_t>({0x7e01, -1, 0x7c00, static_cast<int16_t>(0xfc00),
                                 static_cast<int16_t>(0x8000), 1, 0x3c00, 0x7bff},
                                at::kShort, at::kHalf)},
      {"BF16", FromBits<int16_t>({0x7fc1, -1, 0x7f80, static_cast<int16_t>(0xff80),
                                  static_cast<int16_t>(0x8000), 1, 0x3f80, 0x7f7f},
                                 at::kShort, at::kBFloat16)},
      {"I64",
       FromBits<int64_t>({kI64Min, kI64Max, -1, 0, (int64_t{1} << 53) + 1}, at::kLong, at::kLong)},
      {"I32", FromBits<int32_t>({INT32_MIN, INT32_MAX, -1, 0}, at::kInt, at::kInt)},
      {"I16", FromBits<int16_t>({INT16_MIN, INT16_MAX, -1, 0}, at::kShort, at::kShort)},
      {"I8", FromBits<int8_t>({INT8_MIN, INT8_MAX, -1, 0}, at::kChar, at::kChar)},
      {"U8", FromBits<uint8_t>({0, 1, 128, 255}, at::kByte, at::kByte)},
      {"BOOL", FromBits<uint8_t>({1, 0, 0, 1, 1}, at::kByte, at::kByte).to(at::kBool)},
  };
}

class SafetensorsDtypeTest : public SafetensorsTest,
                             public ::testing::WithParamInterface<DtypeCase> {};

TEST_P(SafetensorsDtypeTest, RoundTripIsBitExact) {
  const at::Tensor tensor = GetParam().tensor.reshape({1, -1});
  const std::string path = PathOf("t.safetensors");
  WriteSafetensors(path, {{"values", tensor}});

  const SafetensorsContents contents = ReadSafetensors(path);
  ASSERT_EQ(contents.tensors.size(), 1u);
  EXPECT_EQ(contents.tensors[0].name, "values");
  EXPECT_EQ(contents.tensors[0].tensor.scalar_type(), tensor.scalar_type());
  EXPECT_EQ(contents.tensors[0].tensor.sizes(), tensor.sizes());
  EXPECT_EQ(RawBytes(contents.tensors[0].tensor), RawBytes(tensor));

  // The header names the safetensors dtype.
  const std::string bytes = ReadFile(path);
  EXPECT_NE(bytes.find("\"dtype\":\"" + GetParam().name + "\""), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, SafetensorsDtypeTest, ::testing::ValuesIn(DtypeCases()),
                         [](const auto& info) { return info.param.name; });

TEST_F(SafetensorsTest, MixedDtypesAreAlignedAndReadInFileOrder) {
  const std::vector<NamedTensor> tensors = {
      {"bytes", at::arange(5, at::kByte)},
      {"float", at::arange(6, at::kFloat).reshape({2, 3})},
      {"half", at::arange(3, at::kHalf)},
      {"double", at::arange(2, at::kDouble)},
      {"long", at::arange(4, at::kLong).reshape({2, 1, 2})},
  };
  const std::string path = PathOf("mixed.safetensors");
  WriteSafetensors(path, tensors);

  const SafetensorsContents contents = ReadSafetensors(path);
  std::vector<std::string> names;
  for (const NamedTensor& named : contents.tensors) names.push_back(named.name);
  // Largest element size first, caller order within one size.
  EXPECT_EQ(names, (std::vector<std::string>{"double", "long", "float", "half", "bytes"}));
  for (const NamedTensor& named : contents.tensors) {
    const auto original = std::find_if(tensors.begin(), tensors.end(),
                                       [&](const NamedTensor& t) { return t.name == named.name; });
    EXPECT_TRUE(at::equal(named.tensor, original->tensor)) << named.name;
  }

  const std::string bytes = ReadFile(path);
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, bytes.data(), 8);
  EXPECT_EQ(header_bytes % 8, 0u);
  const auto header = nlohmann::json::parse(bytes.substr(8, header_bytes));
  EXPECT_EQ(header.at("__metadata__"), (nlohmann::json{{"format", "pt"}}));
  for (const NamedTensor& named : tensors) {
    const uint64_t begin = header.at(named.name).at("data_offsets")[0];
    EXPECT_EQ(begin % named.tensor.element_size(), 0u) << named.name;
  }
  EXPECT_EQ(bytes.size(), 8 + header_bytes + 8 * 2 + 8 * 4 + 4 * 6 + 2 * 3 + 5);
}

TEST_F(SafetensorsTest, MetadataRoundTrips) {
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"empty", ""}, {"quote \" and newline \n", "ünïcødé ✓"}, {"step", "17"}};
  const std::string path = PathOf("meta.safetensors");
  WriteSafetensors(path, {{"w", at::ones({2})}}, metadata);
  EXPECT_EQ(ReadSafetensors(path).metadata, metadata);
  EXPECT_EQ(ReadSafetensorsMetadata(path), metadata);

  WriteSafetensors(path, {{"w", at::ones({2})}}, {});
  EXPECT_TRUE(ReadSafetensors(path).metadata.empty());
  EXPECT_EQ(ReadFile(path).find("__metadata__"), std::string::npos);
}

TEST_F(SafetensorsTest, EmptyAndScalarTensors) {
  const std::string path = PathOf("shapes.safetensors");
  WriteSafetensors(path, {{"empty", at::zeros({0, 3})},
                          {"scalar", at::scalar_tensor(7, at::kLong)},
                          {"inner_zero", at::zeros({2, 0, 5}, at::kHalf)}});
  const SafetensorsContents contents = ReadSafetensors(path);
  ASSERT_EQ(contents.tensors.size(), 3u);
  EXPECT_EQ(contents.tensors[0].name, "scalar");
  EXPECT_EQ(contents.tensors[0].tensor.dim(), 0);
  EXPECT_EQ(contents.tensors[0].tensor.item<int64_t>(), 7);
  EXPECT_EQ(contents.tensors[1].name, "empty");
  EXPECT_EQ(contents.tensors[1].tensor.sizes(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(contents.tensors[2].name, "inner_zero");
  EXPECT_EQ(contents.tensors[2].tensor.sizes(), (std::vector<int64_t>{2, 0, 5}));
  EXPECT_EQ(contents.tensors[2].tensor.scalar_type(), at::kHalf);
}

TEST_F(SafetensorsTest, NoTensors) {
  const std::string path = PathOf("none.safetensors");
  WriteSafetensors(path, {});
  const SafetensorsContents contents = ReadSafetensors(path);
  EXPECT_TRUE(contents.tensors.empty());
  EXPECT_EQ(contents.metadata.at("format"), "pt");
}

TEST_F(SafetensorsTest, StridedViewsAndGradTensorsAreWrittenByValue) {
  const at::Tensor base = at::arange(12, at::kFloat).reshape({3, 4});
  const at::Tensor transposed = base.t();            // (4, 3), not contiguous
  const at::Tensor narrowed = base.narrow(1, 1, 2);  // storage offset 1
  const at::Tensor trainable = at::ones({2}).requires_grad_();
  const std::string path = PathOf("views.safetensors");
  WriteSafetensors(path, {{"t", transposed}, {"n", narrowed}, {"g", trainable}});
  const SafetensorsContents contents = ReadSafetensors(path);
  ASSERT_EQ(contents.tensors.size(), 3u);
  EXPECT_TRUE(at::equal(contents.tensors[0].tensor, transposed));
  EXPECT_TRUE(at::equal(contents.tensors[1].tensor, narrowed));
  EXPECT_TRUE(at::equal(contents.tensors[2].tensor, trainable.detach()));
  EXPECT_FALSE(contents.tensors[2].tensor.requires_grad());
}

// Runs `write` and checks it throws kInvalidInput with `message`, leaving the old file as is.
void ExpectWriteError(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::string& message) {
  WriteSafetensors(path, {{"old", at::ones({1})}});
  const std::string before = ReadFile(path);
  try {
    WriteSafetensors(path, tensors);
    ADD_FAILURE() << "no error; expected " << message;
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidInput);
    EXPECT_EQ(std::string(error.what()), path + ": " + message);
  }
  EXPECT_EQ(ReadFile(path), before);
}

TEST_F(SafetensorsTest, WriterRejectsBadNamesAndDtypes) {
  const std::string path = PathOf("bad.safetensors");
  const at::Tensor x = at::ones({2});
  ExpectWriteError(path, {{"a", x}, {"b", x}, {"a", x}}, "tensor \"a\": the name appears twice");
  ExpectWriteError(path, {{"__metadata__", x}}, "tensor \"__metadata__\": the name is reserved");
  ExpectWriteError(path, {{"", x}}, "a tensor has an empty name");
  ExpectWriteError(path, {{"c", at::ones({2}, at::kComplexFloat)}},
                   "tensor \"c\": dtype ComplexFloat cannot be stored (supported: F64, F32, F16, "
                   "BF16, I64, I32, I16, I8, U8, BOOL)");
  ExpectWriteError(path, {{"u", at::Tensor()}}, "tensor \"u\": undefined tensor");
}

TEST_F(SafetensorsTest, ReadsFileFromIndependentWriter) {
  const std::string path = std::string(DPO_FIXTURES_DIR) + "/safetensors/reference.safetensors";
  const SafetensorsContents contents = ReadSafetensors(path);
  EXPECT_EQ(contents.metadata,
            (std::map<std::string, std::string>{{"format", "pt"}, {"source", "make_fixture.py"}}));
  std::vector<std::string> names;
  for (const NamedTensor& named : contents.tensors) names.push_back(named.name);
  EXPECT_EQ(names, (std::vector<std::string>{"ids", "empty", "bf16", "half", "weight", "scalar"}));

  const at::Tensor& ids = contents.tensors[0].tensor;
  ASSERT_EQ(ids.scalar_type(), at::kLong);
  const std::vector<int64_t> expected_ids = {0, -1, (int64_t{1} << 53) + 1,
                                             std::numeric_limits<int64_t>::min()};
  EXPECT_EQ(std::vector<int64_t>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + 4),
            expected_ids);

  const at::Tensor& empty = contents.tensors[1].tensor;
  EXPECT_EQ(empty.scalar_type(), at::kLong);
  EXPECT_EQ(empty.sizes(), (std::vector<int64_t>{0, 2}));

  const at::Tensor& bf16 = contents.tensors[2].tensor;
  ASSERT_EQ(bf16.scalar_type(), at::kBFloat16);
  EXPECT_EQ(bf16.sizes(), (std::vector<int64_t>{2, 2}));
  const at::Tensor expected_bf16 =
      at::tensor({1.0f, -3.0f, 0.15625f, 3.3895313892515355e38f}).reshape({2, 2});
  EXPECT_TRUE(at::equal(bf16.to(at::kFloat), expected_bf16));

  const at::Tensor& half = contents.tensors[3].tensor;
  ASSERT_EQ(half.scalar_type(), at::kHalf);
  EXPECT_TRUE(
      at::equal(half.to(at::kFloat), at::tensor({1.0f, -0.5f, 65504.0f, 5.960464477539063e-08f})));

  const at::Tensor& weight = contents.tensors[4].tensor;
  ASSERT_EQ(weight.scalar_type(), at::kFloat);
  EXPECT_EQ(weight.sizes(), (std::vector<int64_t>{2, 3}));
  const std::vector<float> expected_weight = {1.0f,  -2.5f,
                                              0.1f,  std::numeric_limits<float>::infinity(),
                                              -0.0f, std::numeric_limits<float>::denorm_min()};
  EXPECT_EQ(RawBytes(weight), std::string(reinterpret_cast<const char*>(expected_weight.data()),
                                          expected_weight.size() * sizeof(float)));

  const at::Tensor& scalar = contents.tensors[5].tensor;
  EXPECT_EQ(scalar.dim(), 0);
  EXPECT_EQ(scalar.item<float>(), 42.0f);
}

TEST_F(SafetensorsTest, MissingFileIsInvalidInput) {
  const std::string path = PathOf("absent.safetensors");
  try {
    ReadSafetensors(path);
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidInput);
    EXPECT_EQ(std::string(error.what()), "cannot open " + path + ": No such file or directory");
  }
}

// A corrupt file and the message expected after "<path>: ".
struct CorruptCase {
  std::string name;
  std::string bytes;
  std::string message;
};

void PrintTo(const CorruptCase& param, std::ostream* out) { *out << param.name; }

// `{"<name>":{<fields>}}` followed by `data_bytes` zero bytes.
std::string OneEntry(const std::string& fields, std::size_t data_bytes = 8,
                     const std::string& name = "w") {
  return FileBytes("{\"" + name + "\":{" + fields + "}}", std::string(data_bytes, '\0'));
}

std::vector<CorruptCase> CorruptCases() {
  const std::string pair = R"("dtype":"F32","shape":[2],"data_offsets":[0,8])";
  const std::string nested = std::string(100000, '[') + std::string(100000, ']');
  const std::string eight(8, '\0');
  // clang-format off
  return {
      {"EmptyFile", "",
       "truncated: the file has 0 bytes, fewer than the 8-byte header length field"},
      {"ShortFile", "\x01\x02\x03",
       "truncated: the file has 3 bytes, fewer than the 8-byte header length field"},
      {"HeaderOverLimit", LengthField(100000001) + "{}",
       "header length 100000001 exceeds the limit of 100000000 bytes"},
      {"HeaderLengthMax", LengthField(UINT64_MAX) + "{}",
       "header length 18446744073709551615 exceeds the limit of 100000000 bytes"},
      {"TruncatedHeader", LengthField(1234) + std::string(40, ' '),
       "truncated: header says 1234 bytes but the file has 40 after the length field"},
      {"EmptyHeader", FileBytes(""),
       "header is not valid JSON: syntax error while parsing value - unexpected end of input; "
       "expected '[', '{', or a literal (at byte 1 of the 0-byte header)"},
      {"InvalidJson", FileBytes(R"({"a": 1,})"),
       "header is not valid JSON: syntax error while parsing object key - unexpected '}'; "
       "expected string literal (at byte 9 of the 9-byte header)"},
      {"InvalidUtf8", FileBytes("{\"a\xff\":1}"),
       "header is not valid JSON: syntax error while parsing object key - invalid string: "
       "ill-formed UTF-8 byte; last read: '\"a\\xff'; expected string literal (at byte 4 of the "
       "8-byte header)"},
      {"HeaderNotObject", FileBytes("[1,2]"), "header is an array, expected a JSON object"},
      {"DeeplyNested", FileBytes(nested), "header is an array, expected a JSON object"},
      {"EntryNotObject", FileBytes(R"({"w":3})"),
       R"(tensor "w": entry is 3, expected an object with "dtype", "shape" and "data_offsets")"},
      {"MissingDtype", OneEntry(R"("shape":[2],"data_offsets":[0,8])"),
       R"(tensor "w": missing "dtype")"},
      {"MissingShape", OneEntry(R"("dtype":"F32","data_offsets":[0,8])"),
       R"(tensor "w": missing "shape")"},
      {"MissingOffsets", OneEntry(R"("dtype":"F32","shape":[2])"),
       R"(tensor "w": missing "data_offsets")"},
      {"DtypeNotString", OneEntry(R"("dtype":4,"shape":[2],"data_offsets":[0,8])"),
       R"(tensor "w": "dtype" is 4, expected a string)"},
      {"UnknownDtype", OneEntry(R"("dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8])"),
       R"(tensor "w": unknown dtype "F8_E4M3" )"
       "(supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)"},
      {"ShapeNotArray", OneEntry(R"("dtype":"F32","shape":"2","data_offsets":[0,8])"),
       R"(tensor "w": "shape" is "2", expected an array of non-negative integers)"},
      {"NegativeShape", OneEntry(R"("dtype":"F32","shape":[2,-1],"data_offsets":[0,8])"),
       R"(tensor "w": shape dimension 1 is -1, expected a non-negative integer)"},
      {"FractionalShape", OneEntry(R"("dtype":"F32","shape":[2.5],"data_offsets":[0,8])"),
       R"(tensor "w": shape dimension 0 is 2.5, expected a non-negative integer)"},
      {"ShapeDimOverInt64",
       OneEntry(R"("dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,8])"),
       R"(tensor "w": shape dimension 0 is 9223372036854775808, )"
       "expected a non-negative integer"},
      {"OffsetsNotArray", OneEntry(R"("dtype":"F32","shape":[2],"data_offsets":8)"),
       R"(tensor "w": "data_offsets" is 8, expected [begin, end])"},
      {"OffsetsWrongLength", OneEntry(R"("dtype":"F32","shape":[2],"data_offsets":[0,8,8])"),
       R"(tensor "w": "data_offsets" is an array of 3, expected [begin, end])"},
      {"OffsetsNegative", OneEntry(R"("dtype":"F32","shape":[2],"data_offsets":[-4,4])"),
       R"(tensor "w": "data_offsets" [-4, 4] must be non-negative integers)"},
      {"OffsetsReversed", OneEntry(R"("dtype":"F32","shape":[0],"data_offsets":[8,4])"),
       R"(tensor "w": data_offsets [8, 4]: begin is after end)"},
      {"EndPastBuffer", OneEntry(R"("dtype":"F32","shape":[25],"data_offsets":[0,100])", 64),
       R"(tensor "w": data_offsets [0, 100] end past the 64-byte data buffer)"},
      {"SizeMismatch",
       OneEntry(R"("dtype":"F32","shape":[16,48],"data_offsets":[0,100])", 100,
                "h.0.attn.c_attn.weight"),
       R"(tensor "h.0.attn.c_attn.weight": data_offsets [0, 100] hold 100 bytes, )"
       "but shape [16, 48] of F32 needs 3072"},
      {"SizeOverflow",
       OneEntry(R"("dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8])"),
       R"(tensor "w": data_offsets [0, 8] hold 8 bytes, )"
       "but shape [4294967296, 4294967296, 16] of F32 needs more than 2^64"},
      {"Overlap",
       FileBytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                 R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                 std::string(24, '\0')),
       R"(tensors "a" (data_offsets [0, 16]) and "b" (data_offsets [8, 24]) overlap)"},
      {"GapBetweenTensors",
       FileBytes("{\"a\":{" + pair + R"(},"b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}})",
                 std::string(24, '\0')),
       "bytes [8, 16) of the 24-byte data buffer are not covered by any tensor"},
      {"TrailingBytes", OneEntry(pair, 12),
       "bytes [8, 12) of the 12-byte data buffer are not covered by any tensor"},
      {"DuplicateNames", FileBytes("{\"a\":{" + pair + "},\"a\":{" + pair + "}}", eight),
       R"(tensor "a" appears more than once in the header)"},
      {"MetadataNotObject", FileBytes(R"({"__metadata__":[1]})"),
       R"("__metadata__" is an array, expected an object of strings)"},
      {"MetadataValueNotString", FileBytes(R"({"__metadata__":{"step":3}})"),
       R"("__metadata__" key "step": value is 3, expected a string)"},
      {"BoolNotZeroOrOne",
       FileBytes(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})",
                 std::string("\x00\x01\x02", 3)),
       R"(tensor "m": BOOL element 2 is byte 2, expected 0 or 1)"},
  };
  // clang-format on
}

class SafetensorsCorruptTest : public SafetensorsTest,
                               public ::testing::WithParamInterface<CorruptCase> {};

TEST_P(SafetensorsCorruptTest, ReadFailsWithExactMessage) {
  const std::string path = WriteBytes("corrupt.safetensors", GetParam().bytes);
  try {
    ReadSafetensors(path);
    ADD_FAILURE() << "no error; expected " << GetParam().message;
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidInput);
    EXPECT_EQ(std::string(error.what()), path + ": " + GetParam().message);
  }
}

INSTANTIATE_TEST_SUITE_P(Corruptions, SafetensorsCorruptTest, ::testing::ValuesIn(CorruptCases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace dpo
