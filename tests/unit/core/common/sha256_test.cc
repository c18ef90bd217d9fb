// Sha256: NIST FIPS 180-4 example vectors, incremental updates at every split, file hashing.
#include "core/common/sha256.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/common/error.h"

namespace dpo {
namespace {

struct Vector {
  std::string name;
  std::string message;
  std::string digest;
};

std::vector<Vector> NistVectors() {
  return {
      {"empty", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"448_bits", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {"896_bits",
       "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
       "mnopqrstnopqrstu",
       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
      {"million_a", std::string(1000000, 'a'),
       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
}

TEST(Sha256Test, NistVectorsOneShot) {
  for (const Vector& v : NistVectors()) {
    EXPECT_EQ(Sha256Hex(v.message), v.digest) << v.name;
  }
}

TEST(Sha256Test, NistVectorsInOddSizedPieces) {
  for (const Vector& v : NistVectors()) {
    Sha256 hasher;
    // 7-byte pieces cross every block boundary at a different offset.
    for (std::size_t pos = 0; pos < v.message.size(); pos += 7) {
      hasher.Update(std::string_view(v.message).substr(pos, 7));
    }
    EXPECT_EQ(DigestToHex(hasher.Finish()), v.digest) << v.name;
  }
}

TEST(Sha256Test, IncrementalSplitAtEveryOffsetMatchesOneShot) {
  std::string message(200, '\0');
  for (std::size_t i = 0; i < message.size(); ++i) message[i] = static_cast<char>((i * 131 + 7) & 0xff);
  const std::string expected = Sha256Hex(message);
  for (std::size_t split = 0; split <= message.size(); ++split) {
    Sha256 hasher;
    hasher.Update(message.data(), split);
    hasher.Update(message.data() + split, message.size() - split);
    EXPECT_EQ(DigestToHex(hasher.Finish()), expected) << "split at " << split;
  }
}

TEST(Sha256Test, LengthsAroundThePaddingBoundaryDiffer) {
  // 55, 56 and 64 bytes take the one-block and two-block padding paths.
  std::vector<std::string> digests;
  for (std::size_t length : {55, 56, 63, 64, 65}) digests.push_back(Sha256Hex(std::string(length, 'x')));
  for (std::size_t i = 0; i < digests.size(); ++i) {
    for (std::size_t j = i + 1; j < digests.size(); ++j) EXPECT_NE(digests[i], digests[j]);
  }
  // Reference value for 64 'a' bytes (one full block plus a padding block).
  EXPECT_EQ(Sha256Hex(std::string(64, 'a')), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST(Sha256Test, FinishResetsTheHasher) {
  Sha256 hasher;
  hasher.Update("garbage");
  (void)hasher.Finish();
  hasher.Update("abc");
  EXPECT_EQ(DigestToHex(hasher.Finish()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

class Sha256FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "dpo-sha256-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(Sha256FileTest, FileDigestEqualsDigestOfContents) {
  // Larger than the 1 MiB read chunk so the streaming path crosses a chunk boundary.
  std::string contents((1 << 20) + 12345, '\0');
  for (std::size_t i = 0; i < contents.size(); ++i) contents[i] = static_cast<char>((i * 2654435761u) >> 24);
  const std::string path = dir_ + "/data.bin";
  std::ofstream(path, std::ios::binary) << contents;
  EXPECT_EQ(Sha256FileHex(path), Sha256Hex(contents));

  const std::string million = dir_ + "/million.txt";
  std::ofstream(million, std::ios::binary) << std::string(1000000, 'a');
  EXPECT_EQ(Sha256FileHex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_F(Sha256FileTest, EmptyFile) {
  const std::string path = dir_ + "/empty";
  std::ofstream(path, std::ios::binary).flush();
  EXPECT_EQ(Sha256FileHex(path), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_F(Sha256FileTest, UnreadablePathNamesThePath) {
  for (const std::string& path : {dir_ + "/missing.bin", dir_}) {
    try {
      Sha256FileHex(path);
      FAIL() << "expected an error for " << path;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace dpo
