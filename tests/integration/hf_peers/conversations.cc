// Conversation generator: fixed edge cases first, then random ones from fragment pools.
#include "tests/integration/hf_peers/conversations.h"

#include <random>

namespace dpo::testing {
namespace {

// Text fragments a content is assembled from.
const std::vector<std::string> kFragments = {
    "What is 2+2?",
    "Explain DPO in one sentence.",
    "I'm sure it's fine, isn't it?",
    "DON'T SHOUT",
    "Numbers: 1234567890 and 3.14159",
    "Grüße aus Köln, ça va?",
    "Привет, как дела?",
    "日本語のテキストです。",
    "中文句子，带标点。",
    "مرحبا بالعالم",
    "emoji 🙂👍🏽 and ✨",
    "cafe\u0301 with a combining accent",
    "```python\nprint('hi')\n```",
    "{\"key\": [1, 2, {\"nested\": true}]}",
    "tabs\tinside\ttext",
    "a  double  spaced   line",
    "- item one\n- item two",
    "URL: https://example.com/a?b=c&d=e",
    "<b>html</b> &amp; entities",
    "end with punctuation!!!",
};

// Separators between fragments.
const std::vector<std::string> kSeparators = {" ", "\n", "\n\n", ""};

// Contents with whitespace at an end, or nothing else.
const std::vector<std::string> kPadded = {
    "  leading spaces", "trailing spaces  ", "\nleading newline", "trailing newline\n",
    "\n\n  both ends  \n", "\t tab first", " ", "\n", "",
};

std::string RandomContent(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> kind(0, 9);
  if (kind(rng) == 0) return kPadded[rng() % kPadded.size()];
  const int pieces = 1 + static_cast<int>(rng() % 4);
  std::string text;
  for (int i = 0; i < pieces; ++i) {
    if (i > 0) text += kSeparators[rng() % kSeparators.size()];
    text += kFragments[rng() % kFragments.size()];
  }
  return text;
}

Conversation Fixed(std::vector<ChatMessage> prompt, std::string completion) {
  return Conversation{std::move(prompt), ChatMessage{"assistant", std::move(completion)}};
}

// Edge cases in every position: system, earlier turns, the last user turn, the completion.
std::vector<Conversation> EdgeCases() {
  return {
      Fixed({{"user", "Hi"}}, "Hello."),
      Fixed({{"system", "Be brief."}, {"user", "Hi"}}, "Hello."),
      Fixed({{"system", ""}, {"user", "Hi"}}, "Hello."),
      Fixed({{"user", ""}}, ""),
      Fixed({{"user", " "}}, "\n"),
      Fixed({{"system", "  padded system  "}, {"user", "\nquestion\n"}}, "  answer  "),
      Fixed({{"user", "first"}, {"assistant", " earlier answer "}, {"user", "second"}}, "\n\nreply"),
      Fixed({{"system", "S"}, {"user", "a"}, {"assistant", ""}, {"user", "b"}, {"assistant", "\n"}, {"user", "c"}},
            "done"),
      Fixed({{"user", "Привет"}, {"assistant", "日本語"}, {"user", "emoji 🙂"}}, "cafe\u0301"),
      Fixed({{"user", "two\nlines"}}, "```\ncode\n```\n"),
  };
}

}  // namespace

std::vector<Conversation> GenerateConversations(int count, uint64_t seed) {
  std::vector<Conversation> conversations = EdgeCases();
  std::mt19937_64 rng(seed);
  while (static_cast<int>(conversations.size()) < count) {
    Conversation conversation;
    if (rng() % 2 == 0) conversation.prompt.push_back({"system", RandomContent(rng)});
    const int user_turns = 1 + static_cast<int>(rng() % 4);
    for (int turn = 0; turn < user_turns; ++turn) {
      if (turn > 0) conversation.prompt.push_back({"assistant", RandomContent(rng)});
      conversation.prompt.push_back({"user", RandomContent(rng)});
    }
    conversation.completion = {"assistant", RandomContent(rng)};
    conversations.push_back(std::move(conversation));
  }
  conversations.resize(static_cast<size_t>(count));
  return conversations;
}

nlohmann::json ConversationJson(const Conversation& conversation) {
  nlohmann::json prompt = nlohmann::json::array();
  for (const ChatMessage& message : conversation.prompt) {
    prompt.push_back({{"role", message.role}, {"content", message.content}});
  }
  return {{"prompt", prompt},
          {"completion", {{"role", conversation.completion.role}, {"content", conversation.completion.content}}}};
}

std::string Trim(const std::string& text) {
  const char* whitespace = " \t\n\r\v\f";
  const size_t first = text.find_first_not_of(whitespace);
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(whitespace) - first + 1);
}

}  // namespace dpo::testing
