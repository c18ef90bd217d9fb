// ReadFile and WriteFileAtomically: round trips, replacement, no temp files left, clear errors.
#include "core/common/file_io.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/common/error.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class FileIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("dpo_file_io_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> DirectoryEntries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

  fs::path dir_;
};

TEST_F(FileIoTest, WriteThenReadRoundTripsEveryByteValue) {
  std::string contents;
  for (int i = 0; i < 256; ++i) contents.push_back(static_cast<char>(i));
  contents += std::string("\0\0tail", 6);
  const std::string path = (dir_ / "bytes.bin").string();
  WriteFileAtomically(path, contents);
  EXPECT_EQ(ReadFile(path), contents);
  EXPECT_EQ(fs::file_size(path), contents.size());
}

TEST_F(FileIoTest, WriteReplacesExistingContentAndLeavesNoTempFile) {
  const std::string path = (dir_ / "config.json").string();
  {
    std::ofstream out(path);
    out << "old contents that are longer than the new ones";
  }
  WriteFileAtomically(path, "new");
  EXPECT_EQ(ReadFile(path), "new");
  EXPECT_EQ(DirectoryEntries(), std::vector<std::string>{"config.json"});
}

TEST_F(FileIoTest, WriteEmptyContentsCreatesEmptyFile) {
  const std::string path = (dir_ / "empty.txt").string();
  WriteFileAtomically(path, "");
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(ReadFile(path), "");
}

TEST_F(FileIoTest, WrittenFileIsReadableByOthers) {
  const std::string path = (dir_ / "weights.bin").string();
  WriteFileAtomically(path, "w");
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);  // mkstemp creates 0600
}

TEST_F(FileIoTest, ReadMissingFileThrowsInvalidInputNamingPath) {
  const std::string path = (dir_ / "missing.jsonl").string();
  try {
    ReadFile(path);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidInput);
    EXPECT_EQ(std::string(error.what()), "cannot open " + path + ": No such file or directory");
  }
}

TEST_F(FileIoTest, ReadDirectoryThrowsInsteadOfReturningNothing) {
  const std::string path = dir_.string();
  try {
    ReadFile(path);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidInput);
    EXPECT_EQ(std::string(error.what()), "cannot read " + path + ": Is a directory");
  }
}

TEST_F(FileIoTest, WriteIntoMissingDirectoryThrowsInternalNamingPath) {
  const std::string path = (dir_ / "no_such_dir" / "out.json").string();
  try {
    WriteFileAtomically(path, "x");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInternal);
    EXPECT_NE(std::string(error.what()).find(path), std::string::npos) << error.what();
  }
  EXPECT_FALSE(fs::exists(dir_ / "no_such_dir"));
}

TEST_F(FileIoTest, SyncDirectoryOfMissingDirectoryThrowsNamingIt) {
  const std::string directory = (dir_ / "gone").string();
  try {
    SyncDirectory(directory);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInternal);
    EXPECT_EQ(std::string(error.what()),
              "cannot open directory " + directory + ": No such file or directory");
  }
}

}  // namespace
}  // namespace dpo
