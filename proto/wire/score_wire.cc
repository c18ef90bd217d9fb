// Tensor <-> dpo.v1 conversion. Scores travel as proto `float` (binary32), so values are bit-exact.
#include "proto/wire/score_wire.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/common/error.h"

namespace dpo {
namespace {

Error Internal(const std::string& message) { return Error(ErrorKind::kInternal, message); }
Error Disagrees(const std::string& message) { return Error(ErrorKind::kReferenceUnavailable, message); }

std::string RowPlace(int64_t row) { return "score request: batch row " + std::to_string(row); }

void CheckBatch(const SequenceBatch& batch) {
  const at::Tensor& ids = batch.input_ids;
  const at::Tensor& mask = batch.completion_mask;
  if (!ids.defined() || !mask.defined() || ids.dim() != 2 || ids.sizes() != mask.sizes() ||
      ids.scalar_type() != torch::kInt64 || mask.scalar_type() != torch::kBool) {
    throw Internal("score request: the batch must hold (N, T) int64 input_ids and an (N, T) bool "
                   "completion_mask of the same shape");
  }
  if (ids.size(0) > std::numeric_limits<int>::max() || ids.size(1) > std::numeric_limits<int32_t>::max()) {
    throw Internal("score request: batch of shape (" + std::to_string(ids.size(0)) + ", " +
                   std::to_string(ids.size(1)) + ") exceeds the wire's int32 limits");
  }
}

}  // namespace

v1::ScoreRequest BuildScoreRequest(const SequenceBatch& batch, const std::string& expected_fingerprint,
                                   bool return_token_log_probs) {
  CheckBatch(batch);
  const at::Tensor ids = batch.input_ids.to(torch::kCPU).contiguous();
  const at::Tensor mask = batch.completion_mask.to(torch::kCPU).contiguous();
  const int64_t rows = ids.size(0);
  const int64_t columns = ids.size(1);
  const int64_t* id_data = ids.data_ptr<int64_t>();
  const bool* mask_data = mask.data_ptr<bool>();

  v1::ScoreRequest request;
  request.set_expected_fingerprint(expected_fingerprint);
  request.set_return_token_log_probs(return_token_log_probs);
  request.mutable_sequences()->Reserve(static_cast<int>(rows));
  for (int64_t i = 0; i < rows; ++i) {
    const bool* row_mask = mask_data + i * columns;
    const int64_t* row_ids = id_data + i * columns;
    int64_t start = 0;
    while (start < columns && !row_mask[start]) ++start;
    if (start == columns) throw Internal(RowPlace(i) + ": completion_mask has no completion token");
    if (start == 0) {
      throw Internal(RowPlace(i) + ": completion_mask[" + std::to_string(i) +
                     "][0] is true; the first token has no prediction");
    }
    int64_t end = columns;
    while (!row_mask[end - 1]) --end;
    for (int64_t t = start; t < end; ++t) {
      if (!row_mask[t]) {
        throw Internal(RowPlace(i) + ": completion_mask has a gap at column " + std::to_string(t) +
                       " inside the completion [" + std::to_string(start) + ", " + std::to_string(end) + ")");
      }
    }
    v1::Sequence* sequence = request.add_sequences();
    sequence->set_completion_start(static_cast<int32_t>(start));
    google::protobuf::RepeatedField<int32_t>* token_ids = sequence->mutable_token_ids();
    token_ids->Resize(static_cast<int>(end), 0);
    int32_t* out = token_ids->mutable_data();
    for (int64_t t = 0; t < end; ++t) {
      const int64_t id = row_ids[t];
      if (id < std::numeric_limits<int32_t>::min() || id > std::numeric_limits<int32_t>::max()) {
        throw Internal(RowPlace(i) + ": input_ids[" + std::to_string(i) + "][" + std::to_string(t) +
                       "] = " + std::to_string(id) + " does not fit in int32");
      }
      out[t] = static_cast<int32_t>(id);
    }
  }
  return request;
}

WireScores ScoresFromResponse(const v1::ScoreRequest& request, const v1::ScoreResponse& response) {
  const int count = request.sequences_size();
  if (response.scores_size() != count) {
    throw Disagrees("ScoreResponse.scores: " + std::to_string(response.scores_size()) + " scores for " +
                    std::to_string(count) + " request sequences");
  }
  WireScores scores;
  scores.sum_log_probs = torch::empty({count}, torch::dtype(torch::kFloat32));
  scores.token_counts = torch::empty({count}, torch::dtype(torch::kInt64));
  float* sums = scores.sum_log_probs.data_ptr<float>();
  int64_t* counts = scores.token_counts.data_ptr<int64_t>();
  for (int i = 0; i < count; ++i) {
    const v1::Sequence& sequence = request.sequences(i);
    const v1::SequenceScore& score = response.scores(i);
    const std::string place = "ScoreResponse.scores[" + std::to_string(i) + "]";
    const int64_t expected = static_cast<int64_t>(sequence.token_ids_size()) - sequence.completion_start();
    if (score.completion_tokens() != expected) {
      throw Disagrees(place + ".completion_tokens: " + std::to_string(score.completion_tokens()) + ", expected " +
                      std::to_string(expected) + " (" + std::to_string(sequence.token_ids_size()) +
                      " tokens from completion_start " + std::to_string(sequence.completion_start()) + ")");
    }
    if (request.return_token_log_probs() &&
        score.token_log_probs().size() != static_cast<std::size_t>(4 * expected)) {
      throw Disagrees(place + ".token_log_probs: " + std::to_string(score.token_log_probs().size()) +
                      " bytes, expected " + std::to_string(4 * expected) + " (4 per completion token)");
    }
    sums[i] = score.sum_log_prob();
    counts[i] = score.completion_tokens();
    if (score.from_cache()) ++scores.from_cache;
  }
  return scores;
}

SequenceBatch CollateWireSequences(const std::vector<const v1::Sequence*>& sequences, int64_t pad_id) {
  if (sequences.empty()) throw Internal("collate wire sequences: empty batch");
  int64_t longest = 0;
  int64_t num_tokens = 0;
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    if (sequences[i] == nullptr) throw Internal("collate wire sequences: sequence " + std::to_string(i) + " is null");
    const int size = sequences[i]->token_ids_size();
    const int32_t start = sequences[i]->completion_start();
    if (start < 1 || start >= size) {
      throw Internal("collate wire sequences: sequence " + std::to_string(i) + " has completion_start " +
                     std::to_string(start) + " outside [1, " + std::to_string(size) + "); validate first");
    }
    longest = std::max<int64_t>(longest, size);
    num_tokens += size;
  }
  const auto rows = static_cast<int64_t>(sequences.size());
  SequenceBatch batch;
  batch.input_ids = torch::full({rows, longest}, pad_id, torch::dtype(torch::kInt64));
  batch.completion_mask = torch::zeros({rows, longest}, torch::dtype(torch::kBool));
  batch.num_tokens = num_tokens;
  int64_t* ids = batch.input_ids.data_ptr<int64_t>();
  bool* mask = batch.completion_mask.data_ptr<bool>();
  for (int64_t i = 0; i < rows; ++i) {
    const v1::Sequence& sequence = *sequences[static_cast<std::size_t>(i)];
    const int32_t* source = sequence.token_ids().data();
    const int size = sequence.token_ids_size();
    std::copy(source, source + size, ids + i * longest);
    std::fill(mask + i * longest + sequence.completion_start(), mask + i * longest + size, true);
  }
  return batch;
}

SequenceBatch BatchFromRequest(const v1::ScoreRequest& request, int64_t pad_id) {
  std::vector<const v1::Sequence*> sequences;
  sequences.reserve(static_cast<std::size_t>(request.sequences_size()));
  for (const v1::Sequence& sequence : request.sequences()) sequences.push_back(&sequence);
  return CollateWireSequences(sequences, pad_id);
}

v1::ScoreResponse ScoreResponseFromTensors(const at::Tensor& sum_log_probs, const at::Tensor& token_counts,
                                           const std::vector<bool>& from_cache) {
  if (!sum_log_probs.defined() || sum_log_probs.dim() != 1 || sum_log_probs.scalar_type() != torch::kFloat32) {
    throw Internal("score response: sum_log_probs must be an (N,) float32 tensor");
  }
  const int64_t count = sum_log_probs.size(0);
  if (!token_counts.defined() || token_counts.dim() != 1 || token_counts.size(0) != count ||
      !at::isIntegralType(token_counts.scalar_type(), /*includeBool=*/false)) {
    throw Internal("score response: token_counts must be an (N,) integer tensor with N = " + std::to_string(count));
  }
  if (!from_cache.empty() && static_cast<int64_t>(from_cache.size()) != count) {
    throw Internal("score response: " + std::to_string(from_cache.size()) + " from_cache flags for " +
                   std::to_string(count) + " scores");
  }
  const at::Tensor sums = sum_log_probs.detach().to(torch::kCPU).contiguous();
  const at::Tensor counts = token_counts.to(torch::kCPU, torch::kInt64).contiguous();
  const float* sum_data = sums.data_ptr<float>();
  const int64_t* count_data = counts.data_ptr<int64_t>();
  v1::ScoreResponse response;
  response.mutable_scores()->Reserve(static_cast<int>(count));
  for (int64_t i = 0; i < count; ++i) {
    v1::SequenceScore* score = response.add_scores();
    score->set_sum_log_prob(sum_data[i]);
    score->set_completion_tokens(static_cast<int32_t>(count_data[i]));
    score->set_from_cache(!from_cache.empty() && from_cache[static_cast<std::size_t>(i)]);
  }
  return response;
}

std::string PackFloat32(const at::Tensor& values) {
  if (!values.defined() || values.dim() != 1 || values.scalar_type() != torch::kFloat32) {
    throw Internal("token log-probs: expected a (K,) float32 tensor");
  }
  const at::Tensor cpu = values.detach().to(torch::kCPU).contiguous();
  const float* data = cpu.data_ptr<float>();
  std::string bytes(static_cast<std::size_t>(4 * cpu.size(0)), '\0');
  for (int64_t k = 0; k < cpu.size(0); ++k) {
    uint32_t bits = 0;
    std::memcpy(&bits, &data[k], 4);
    for (int b = 0; b < 4; ++b) bytes[static_cast<std::size_t>(4 * k + b)] = static_cast<char>(bits >> (8 * b));
  }
  return bytes;
}

at::Tensor UnpackFloat32(const std::string& bytes, const std::string& place) {
  if (bytes.size() % 4 != 0) {
    throw Disagrees(place + ": " + std::to_string(bytes.size()) + " bytes, not a multiple of 4 (float32)");
  }
  const auto count = static_cast<int64_t>(bytes.size() / 4);
  at::Tensor values = torch::empty({count}, torch::dtype(torch::kFloat32));
  float* data = values.data_ptr<float>();
  for (int64_t k = 0; k < count; ++k) {
    uint32_t bits = 0;
    for (int b = 0; b < 4; ++b) {
      bits |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[static_cast<std::size_t>(4 * k + b)])) << (8 * b);
    }
    std::memcpy(&data[k], &bits, 4);
  }
  return values;
}

}  // namespace dpo
