// BpeModel: the scan and heap merge loops agree with an independent GPT-2-style reference on
// random vocabularies; the merge table and the bounded pre-token cache.
#include "core/tokenizer/bpe_model.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace dpo {
namespace {

// A random but valid BPE over the alphabet "abc": every merge joins two existing tokens into a
// new one.
struct RandomBpe {
  std::vector<std::string> tokens;  // id -> text
  std::vector<BpeMerge> merges;
  std::map<std::pair<std::string, std::string>, int> ranks;

  explicit RandomBpe(uint32_t seed, int merge_count) {
    for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
    std::mt19937 rng(seed);
    std::vector<int32_t> pool = {'a', 'b', 'c'};
    std::map<std::string, int32_t> ids;
    for (int b = 0; b < 256; ++b) ids[tokens[b]] = b;
    while (static_cast<int>(merges.size()) < merge_count) {
      const int32_t left = pool[rng() % pool.size()], right = pool[rng() % pool.size()];
      const std::string merged = tokens[left] + tokens[right];
      // Each merge makes a new token, as trained merges do (then GPT-2's "merge every
      // occurrence" and HF's "leftmost first" orders give the same result).
      if (merged.size() > 12 || ids.count(merged)) continue;
      const auto id = static_cast<int32_t>(tokens.size());
      tokens.push_back(merged);
      ids[merged] = id;
      pool.push_back(id);
      ranks[{tokens[left], tokens[right]}] = static_cast<int>(merges.size());
      merges.push_back(BpeMerge{left, right, id});
    }
  }

  // GPT-2's encoder.py: merge the lowest-ranked pair everywhere, left to right, until none.
  std::vector<std::string> Reference(const std::string& text) const {
    std::vector<std::string> word;
    for (const char c : text) word.push_back(std::string(1, c));
    while (word.size() > 1) {
      int best = INT32_MAX;
      std::pair<std::string, std::string> bigram;
      for (std::size_t i = 0; i + 1 < word.size(); ++i) {
        const auto it = ranks.find({word[i], word[i + 1]});
        if (it != ranks.end() && it->second < best) best = it->second, bigram = it->first;
      }
      if (best == INT32_MAX) break;
      std::vector<std::string> merged;
      for (std::size_t i = 0; i < word.size();) {
        if (i + 1 < word.size() && word[i] == bigram.first && word[i + 1] == bigram.second) {
          merged.push_back(word[i] + word[i + 1]);
          i += 2;
        } else {
          merged.push_back(word[i++]);
        }
      }
      word = merged;
    }
    return word;
  }

  BpeModel Model(std::size_t cache_capacity = 0) const {
    std::array<int32_t, 256> byte_ids{};
    for (int b = 0; b < 256; ++b) byte_ids[b] = b;
    std::unordered_map<std::string, int32_t> vocabulary;
    for (std::size_t id = 0; id < tokens.size(); ++id) vocabulary.emplace(tokens[id], static_cast<int32_t>(id));
    return BpeModel(byte_ids, vocabulary, merges, false, cache_capacity);
  }
};

TEST(BpeModelTest, ScanAndHeapAgreeWithGpt2Reference) {
  for (const uint32_t seed : {1u, 2u, 3u}) {
    const RandomBpe bpe(seed, 120);
    const BpeModel model = bpe.Model();
    std::mt19937 rng(seed * 7919);
    for (int trial = 0; trial < 300; ++trial) {
      std::string text(1 + rng() % 90, 'a');
      for (char& c : text) c = "abc"[rng() % 3];
      SCOPED_TRACE(text);
      std::vector<TokenId> scan, heap;
      model.EncodeUncached(text, &scan);
      model.EncodeUncached(text, &heap, /*heap_from=*/1);
      EXPECT_EQ(scan, heap);
      std::vector<std::string> pieces;
      for (const TokenId id : scan) pieces.push_back(bpe.tokens[static_cast<std::size_t>(id)]);
      EXPECT_EQ(pieces, bpe.Reference(text));
    }
  }
}

TEST(BpeModelTest, LongPiecesUseTheHeapAndStillMatch) {
  const RandomBpe bpe(11, 150);
  const BpeModel model = bpe.Model();
  std::mt19937 rng(5);
  std::string text(5000, 'a');
  for (char& c : text) c = "abc"[rng() % 3];
  std::vector<TokenId> ids;
  model.EncodeUncached(text, &ids);
  std::vector<std::string> pieces;
  for (const TokenId id : ids) pieces.push_back(bpe.tokens[static_cast<std::size_t>(id)]);
  EXPECT_EQ(pieces, bpe.Reference(text));
}

TEST(MergeTableTest, FindsRanksAndKeepsTheFirstOfADuplicate) {
  MergeTable table;
  for (int32_t i = 0; i < 1000; ++i) table.Insert(i, i + 1, i, 5000 + i);
  table.Insert(3, 4, 999999, 1);  // listed again later: ignored
  EXPECT_EQ(table.Size(), 1000u);
  int32_t merged = 0;
  EXPECT_EQ(table.Find(3, 4, &merged), 3);
  EXPECT_EQ(merged, 5003);
  EXPECT_EQ(table.Find(999, 1000, &merged), 999);
  EXPECT_EQ(merged, 5999);
  EXPECT_EQ(table.Find(4, 3, &merged), MergeTable::kNoMerge);
  EXPECT_EQ(table.Find(1000, 1001, &merged), MergeTable::kNoMerge);
}

TEST(PieceCacheTest, StaysWithinItsCapacityAndReturnsWhatWasStored) {
  PieceCache cache(10);  // rounded down to 8 slots
  EXPECT_EQ(cache.Capacity(), 8u);
  for (int i = 0; i < 1000; ++i) {
    const TokenId ids[] = {i, i + 1};
    cache.Insert("piece" + std::to_string(i), ids, 2);
    EXPECT_LE(cache.Size(), 8u);
  }
  EXPECT_GE(cache.Size(), 1u);
  int hits = 0;
  for (int i = 0; i < 1000; ++i) {
    std::vector<TokenId> ids;
    if (cache.Find("piece" + std::to_string(i), &ids)) {
      ++hits;
      EXPECT_EQ(ids, (std::vector<TokenId>{i, i + 1}));
    }
  }
  EXPECT_EQ(hits, static_cast<int>(cache.Size()));
}

TEST(PieceCacheTest, SkipsPiecesItCannotHoldAndCanBeDisabled) {
  PieceCache cache(64);
  const TokenId many[PieceCache::kMaxIds + 1] = {};
  cache.Insert(std::string(PieceCache::kMaxPieceBytes + 1, 'x'), many, 1);
  cache.Insert("too many ids", many, PieceCache::kMaxIds + 1);
  cache.Insert("fits", many, PieceCache::kMaxIds);
  EXPECT_EQ(cache.Size(), 1u);
  std::vector<TokenId> ids;
  EXPECT_FALSE(cache.Find("too many ids", &ids));
  EXPECT_TRUE(cache.Find("fits", &ids));
  EXPECT_EQ(ids.size(), PieceCache::kMaxIds);

  PieceCache disabled(0);
  disabled.Insert("fits", many, 1);
  EXPECT_EQ(disabled.Capacity(), 0u);
  EXPECT_FALSE(disabled.Find("fits", &ids));
}

TEST(BpeModelTest, CachedAndUncachedEncodingsAgree) {
  const RandomBpe bpe(21, 100);
  const BpeModel cached = bpe.Model(16), uncached = bpe.Model(0);
  std::mt19937 rng(3);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string text(2 + rng() % 8, 'a');
    for (char& c : text) c = "abc"[rng() % 3];
    std::vector<TokenId> a, b;
    cached.Encode(text, &a);
    uncached.Encode(text, &b);
    ASSERT_EQ(a, b) << text;
  }
  EXPECT_LE(cached.cache().Size(), 16u);
  EXPECT_GT(cached.cache().Size(), 0u);
  EXPECT_EQ(uncached.cache().Size(), 0u);
}

}  // namespace
}  // namespace dpo
