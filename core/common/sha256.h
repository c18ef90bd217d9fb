// SHA-256 (FIPS 180-4), our own implementation so dpo_core never links OpenSSL. Used for
// checkpoint file checksums and content fingerprints.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dpo {

// Incremental hasher: Update() any number of times, then Finish() once. After Finish() the
// object is reset and can hash a new message. Thread safety: none (one hasher per thread).
class Sha256 {
 public:
  static constexpr std::size_t kDigestBytes = 32;
  using Digest = std::array<uint8_t, kDigestBytes>;

  Sha256();

  void Update(const void* data, std::size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Pads, returns the digest of everything passed to Update() and resets the hasher.
  Digest Finish();

 private:
  void Reset();
  void Compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  std::size_t buffered_ = 0;    // bytes in buffer_, < 64
  uint64_t total_bytes_ = 0;    // message length so far
};

// Lower-case hex of a digest (64 characters).
std::string DigestToHex(const Sha256::Digest& digest);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// Lower-case hex SHA-256 of a file's contents, read in chunks (constant memory). Throws
// Error(kInvalidInput) naming the path and the system error when it cannot be opened or read.
std::string Sha256FileHex(const std::string& path);

}  // namespace dpo
