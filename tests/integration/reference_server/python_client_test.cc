// A client no one here wrote: Debian's python3-grpcio with stubs generated at test time by
// protoc + grpc_python_plugin calls GetModelInfo and Score; its values must equal the C++
// client's bit for bit.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "tests/integration/reference_server/server_fixture.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using namespace dpo::testing;  // NOLINT: test helpers

TEST(PythonClientTest, GrpcioClientSeesTheSameModelInfoAndScoresAsTheCppClient) {
  const ProcessResult has_grpc = RunProcess({"/usr/bin/python3", "-c", "import grpc, google.protobuf"}, {}, 60);
  if (has_grpc.exit_code != 0) {
    GTEST_SKIP() << "python3-grpcio / python3-protobuf missing (scripts/install-deps installs them): "
                 << has_grpc.output;
  }
  TempDir dir;
  const std::string stubs = dir.File("stubs");
  std::filesystem::create_directories(stubs);
  const ProcessResult generated = RunProcess(
      {"/usr/bin/protoc", std::string("-I") + DPO_SOURCE_DIR + "/proto", "--python_out=" + stubs,
       "--grpc_python_out=" + stubs, "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin",
       "dpo/v1/reference_service.proto"},
      {}, 60);
  ASSERT_EQ(generated.exit_code, 0) << generated.output;

  WriteTinyModel(dir.File("model"), 12);
  ServerProcess server(ServeArgs(dir.File("model"), dir.File("cache")), dir.File("server.log"));
  ASSERT_TRUE(server.WaitServing()) << server.Log();
  const auto channel = PlainChannel(server.address());
  v1::ModelInfo info;
  ASSERT_TRUE(CallModelInfo(channel, &info).ok());
  const auto sequences = RandomSequences(5, 40, 77);
  v1::ScoreResponse cpp;  // the C++ client first: Python's call then reads the cache
  ASSERT_TRUE(CallScore(channel, MakeRequest(info.fingerprint(), sequences), &cpp).ok());

  nlohmann::json wanted = {{"sequences", nlohmann::json::array()}, {"completion_starts", nlohmann::json::array()}};
  for (const auto& [ids, start] : sequences) {
    wanted["sequences"].push_back(ids);
    wanted["completion_starts"].push_back(start);
  }
  std::ofstream(dir.File("request.json")) << wanted.dump();
  const ProcessResult python = RunProcess({"/usr/bin/python3", std::string(DPO_SOURCE_DIR) +
                                           "/tests/integration/reference_server/python_client.py",
                                           stubs, server.address(), dir.File("request.json")},
                                          {}, 120);
  ASSERT_EQ(python.exit_code, 0) << python.output;
  const nlohmann::json seen = nlohmann::json::parse(python.output);
  EXPECT_EQ(seen["fingerprint"], info.fingerprint());
  EXPECT_EQ(seen["vocab_size"], info.vocab_size());
  EXPECT_EQ(seen["max_sequence_length"], info.max_sequence_length());
  EXPECT_EQ(seen["dtype"], info.dtype());
  EXPECT_EQ(seen["tokenizer"], info.tokenizer());
  EXPECT_EQ(seen["server_version"], info.server_version());
  EXPECT_EQ(seen["empty_batch_code"], "INVALID_ARGUMENT");
  ASSERT_EQ(seen["sum_log_probs"].size(), 5U);
  for (int i = 0; i < 5; ++i) {
    // Python holds the float32 as a double; back to float32 it must be the same bits.
    EXPECT_EQ(static_cast<float>(seen["sum_log_probs"][static_cast<std::size_t>(i)].get<double>()),
              cpp.scores(i).sum_log_prob())
        << i;
    EXPECT_EQ(seen["completion_tokens"][static_cast<std::size_t>(i)], cpp.scores(i).completion_tokens()) << i;
    EXPECT_EQ(seen["from_cache"][static_cast<std::size_t>(i)], true) << i;
  }
}

}  // namespace
}  // namespace dpo
