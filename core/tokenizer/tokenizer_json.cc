// Loading of HF tokenizer.json (+ tokenizer_config.json / special_tokens_map.json) into a
// BpeTokenizer. Every problem names the file and the JSON path.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/common/error.h"
#include "core/common/file_io.h"
#include "core/common/sha256.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "core/tokenizer/byte_level.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kSupported = "(supported: byte-level BPE, as in GPT-2, Llama 3, Qwen2 and SmolLM)";

std::string Key(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }
std::string Index(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

std::string TypeName(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "a number";
    default: return "an unknown value";
  }
}

// Checked access to one JSON document; every failure names `file_` and the path.
class JsonFile {
 public:
  JsonFile(std::string file, const std::string& contents) : file_(std::move(file)) {
    try {
      root_ = json::parse(contents);
    } catch (const json::parse_error& e) {
      throw InvalidInput(file_ + ": invalid JSON: " + e.what());
    }
    if (!root_.is_object()) throw InvalidInput(file_ + ": expected a JSON object at the top level, got " + TypeName(root_));
  }

  const json& root() const { return root_; }
  const std::string& file() const { return file_; }

  [[noreturn]] void Fail(const std::string& path, const std::string& message) const {
    throw InvalidInput(file_ + ": " + path + ": " + message);
  }
  // `object[key]`, or nullptr when absent.
  const json* Find(const json& object, const std::string& key) const {
    const auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
  }
  const json& Require(const json& object, const std::string& path, const std::string& key) const {
    const json* value = Find(object, key);
    if (value == nullptr) Fail(Key(path, key), "missing");
    return *value;
  }
  const json& Object(const json& object, const std::string& path, const std::string& key) const {
    const json& value = Require(object, path, key);
    if (!value.is_object()) Fail(Key(path, key), "expected an object, got " + TypeName(value));
    return value;
  }
  std::string String(const json& object, const std::string& path, const std::string& key) const {
    const json& value = Require(object, path, key);
    if (!value.is_string()) Fail(Key(path, key), "expected a string, got " + TypeName(value));
    return value.get<std::string>();
  }
  bool Bool(const json& object, const std::string& path, const std::string& key, bool fallback) const {
    const json* value = Find(object, key);
    if (value == nullptr || value->is_null()) return fallback;
    if (!value->is_boolean()) Fail(Key(path, key), "expected true or false, got " + TypeName(*value));
    return value->get<bool>();
  }
  // Ids index dense tables, so they are bounded well above any real vocabulary (Gemma: 256k).
  static constexpr int64_t kMaxTokenId = int64_t{1} << 24;
  int32_t Id(const json& value, const std::string& path) const {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() >= kMaxTokenId) {
      Fail(path, "expected a token id (an integer in [0, " + std::to_string(kMaxTokenId) + ")), got " + value.dump());
    }
    return static_cast<int32_t>(value.get<int64_t>());
  }

 private:
  std::string file_;
  json root_;
};

struct Vocabulary {
  std::unordered_map<std::string_view, int32_t> by_spelling;  // byte-level spelling -> id
  std::unordered_map<std::string, int32_t> by_bytes;          // raw bytes -> id
  std::vector<std::string> id_to_bytes;
  std::vector<bool> id_known;
  std::array<int32_t, 256> byte_ids{};

  void Set(int32_t id, std::string bytes) {
    if (static_cast<std::size_t>(id) >= id_to_bytes.size()) id_to_bytes.resize(id + 1), id_known.resize(id + 1);
    id_to_bytes[id] = std::move(bytes);
    id_known[id] = true;
  }
};

Vocabulary ReadVocabulary(const JsonFile& file, const json& model) {
  const json& vocab = file.Object(model, "model", "vocab");
  Vocabulary v;
  v.by_spelling.reserve(vocab.size());
  v.by_bytes.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const int32_t id = file.Id(it.value(), "model.vocab[" + json(it.key()).dump() + "]");
    v.by_spelling.emplace(it.key(), id);
    if (auto bytes = ByteLevelToBytes(it.key())) {
      v.by_bytes.emplace(*bytes, id);
      v.Set(id, std::move(*bytes));
    } else {
      v.Set(id, it.key());  // outside the byte-level alphabet: never produced, decoded as written
    }
  }
  const auto& table = ByteToUnicodeTable();
  for (int b = 0; b < 256; ++b) {
    std::string spelling;
    AppendUtf8(table[b], &spelling);
    const auto found = v.by_spelling.find(spelling);
    if (found == v.by_spelling.end()) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02X", b);
      file.Fail("model.vocab", std::string("no token for byte ") + hex + " (\"" + spelling +
                                   "\"): not a byte-level BPE vocabulary " + kSupported);
    }
    v.byte_ids[b] = found->second;
  }
  return v;
}

std::vector<BpeMerge> ReadMerges(const JsonFile& file, const json& model, const Vocabulary& v) {
  const json& merges = file.Require(model, "model", "merges");
  if (!merges.is_array()) file.Fail("model.merges", "expected an array, got " + TypeName(merges));
  std::vector<BpeMerge> out;
  out.reserve(merges.size());
  std::string left, right;
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const json& merge = merges[i];
    bool ok = false;
    if (merge.is_string()) {
      const std::string& text = merge.get_ref<const std::string&>();
      const std::size_t space = text.find(' ');
      ok = space != std::string::npos && space > 0 && space + 1 < text.size() &&
           text.find(' ', space + 1) == std::string::npos;
      if (ok) left = text.substr(0, space), right = text.substr(space + 1);
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      left = merge[0].get<std::string>(), right = merge[1].get<std::string>();
      ok = !left.empty() && !right.empty();
    }
    if (!ok) file.Fail(Index("model.merges", i), "expected \"left right\" or [\"left\", \"right\"], got " + merge.dump());
    const auto find = [&](const std::string& spelling, const char* what) {
      const auto it = v.by_spelling.find(spelling);
      if (it == v.by_spelling.end()) {
        file.Fail(Index("model.merges", i), std::string(what) + json(spelling).dump() + " is not in model.vocab");
      }
      return it->second;
    };
    const int32_t left_id = find(left, "token "), right_id = find(right, "token ");
    const int32_t merged_id = find(left + right, "merged token ");
    out.push_back(BpeMerge{left_id, right_id, merged_id});
  }
  return out;
}

void CheckModel(const JsonFile& file, const json& model) {
  const json* type = file.Find(model, "type");
  if (type != nullptr && !type->is_string()) file.Fail("model.type", "expected a string, got " + TypeName(*type));
  if (type != nullptr && *type != "BPE") {
    file.Fail("model.type", type->dump() + " tokenizers are not supported " + kSupported);
  }
  if (type == nullptr && file.Find(model, "merges") == nullptr) {
    file.Fail("model", "no \"type\" and no \"merges\": not a BPE model " + std::string(kSupported));
  }
  if (file.Bool(model, "model", "byte_fallback", false)) {
    file.Fail("model.byte_fallback", "true (SentencePiece-style BPE) is not supported " + std::string(kSupported));
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json* value = file.Find(model, key);
    if (value != nullptr && !value->is_null() && !(value->is_string() && value->get<std::string>().empty())) {
      file.Fail(Key("model", key), value->dump() + " is not supported " + std::string(kSupported));
    }
  }
  const json* dropout = file.Find(model, "dropout");
  if (dropout != nullptr && !dropout->is_null() && !(dropout->is_number() && dropout->get<double>() == 0.0)) {
    file.Fail("model.dropout", dropout->dump() + " is not supported (BPE dropout is for training tokenizers)");
  }
}

std::unique_ptr<UnicodeNormalizer> ReadNormalizer(const JsonFile& file, const json& node, const std::string& path) {
  if (node.is_null()) return nullptr;
  if (!node.is_object()) file.Fail(path, "expected an object or null, got " + TypeName(node));
  const std::string type = file.String(node, path, "type");
  if (type == "Sequence") {
    const json& list = file.Require(node, path, "normalizers");
    if (!list.is_array()) file.Fail(Key(path, "normalizers"), "expected an array, got " + TypeName(list));
    if (list.empty()) return nullptr;
    if (list.size() > 1) file.Fail(Key(path, "normalizers"), "a sequence of several normalizers is not supported");
    return ReadNormalizer(file, list[0], Index(Key(path, "normalizers"), 0));
  }
  static const std::pair<const char*, NormalizationForm> kForms[] = {
      {"NFC", NormalizationForm::kNfc}, {"NFD", NormalizationForm::kNfd},
      {"NFKC", NormalizationForm::kNfkc}, {"NFKD", NormalizationForm::kNfkd}};
  for (const auto& [name, form] : kForms) {
    if (type != name) continue;
    try {
      return UnicodeNormalizer::Create(form);
    } catch (const Error& e) {
      file.Fail(Key(path, "type"), e.what());
    }
  }
  file.Fail(Key(path, "type"), json(type).dump() + " normalizers are not supported (supported: NFC, NFD, NFKC, NFKD)");
}

void AddRegex(const JsonFile& file, PreTokenizer* pre_tokenizer, const std::string& pattern, bool literal,
              const std::string& path) {
  try {
    pre_tokenizer->AddSplit(SplitRegex::Compile(pattern, literal));
  } catch (const Error& e) {
    file.Fail(path, e.what());
  }
}

// Reads one pre-tokenizer node into `out`; `byte_level` becomes true at the ByteLevel step,
// which must come last (the steps before it see the text, not its byte-level spelling).
void ReadPreTokenizer(const JsonFile& file, const json& node, const std::string& path, PreTokenizer* out,
                      bool* byte_level) {
  if (!node.is_object()) file.Fail(path, "expected an object, got " + TypeName(node));
  const std::string type = file.String(node, path, "type");
  if (type == "Sequence") {
    const json& list = file.Require(node, path, "pretokenizers");
    if (!list.is_array()) file.Fail(Key(path, "pretokenizers"), "expected an array, got " + TypeName(list));
    for (std::size_t i = 0; i < list.size(); ++i) {
      ReadPreTokenizer(file, list[i], Index(Key(path, "pretokenizers"), i), out, byte_level);
    }
    return;
  }
  if (type != "ByteLevel" && type != "Split" && type != "Digits") {
    file.Fail(Key(path, "type"), json(type).dump() +
                                     " pre-tokenizers are not supported (supported: ByteLevel, Split, Digits and "
                                     "Sequence, for byte-level BPE)");
  }
  if (*byte_level) file.Fail(path, json(type).dump() + " after ByteLevel is not supported (ByteLevel must come last)");
  if (type == "ByteLevel") {
    *byte_level = true;
    if (file.Bool(node, path, "add_prefix_space", true)) out->AddPrefixSpace();
    if (file.Bool(node, path, "use_regex", true)) AddRegex(file, out, kGpt2SplitPattern, false, path);
  } else if (type == "Digits") {
    out->AddDigits(file.Bool(node, path, "individual_digits", false));
  } else {
    const json& pattern = file.Object(node, path, "pattern");
    const std::string behavior = file.String(node, path, "behavior");
    if (behavior != "Isolated") {
      file.Fail(Key(path, "behavior"), json(behavior).dump() + " is not supported (supported: \"Isolated\")");
    }
    if (file.Bool(node, path, "invert", false)) file.Fail(Key(path, "invert"), "true is not supported");
    const std::string pattern_path = Key(path, "pattern");
    if (file.Find(pattern, "Regex") != nullptr) {
      AddRegex(file, out, file.String(pattern, pattern_path, "Regex"), false, Key(pattern_path, "Regex"));
    } else if (file.Find(pattern, "String") != nullptr) {
      AddRegex(file, out, file.String(pattern, pattern_path, "String"), true, Key(pattern_path, "String"));
    } else {
      file.Fail(pattern_path, "expected {\"Regex\": ...} or {\"String\": ...}");
    }
  }
}

std::vector<AddedToken> ReadAddedTokens(const JsonFile& file) {
  std::vector<AddedToken> tokens;
  const json* list = file.Find(file.root(), "added_tokens");
  if (list == nullptr || list->is_null()) return tokens;
  if (!list->is_array()) file.Fail("added_tokens", "expected an array, got " + TypeName(*list));
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& entry = (*list)[i];
    const std::string path = Index("added_tokens", i);
    if (!entry.is_object()) file.Fail(path, "expected an object, got " + TypeName(entry));
    AddedToken token;
    token.id = file.Id(file.Require(entry, path, "id"), Key(path, "id"));
    token.content = file.String(entry, path, "content");
    if (token.content.empty()) file.Fail(Key(path, "content"), "empty");
    token.special = file.Bool(entry, path, "special", false);
    token.single_word = file.Bool(entry, path, "single_word", false);
    token.lstrip = file.Bool(entry, path, "lstrip", false);
    token.rstrip = file.Bool(entry, path, "rstrip", false);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

// A special token named in tokenizer_config.json or special_tokens_map.json: absent (nullopt),
// null (an empty string inside), or its content.
struct SpecialSetting {
  bool present = false;
  std::optional<std::string> content;
  std::string file;
};

SpecialSetting ReadSpecial(const std::vector<const JsonFile*>& configs, const std::string& key) {
  for (const JsonFile* config : configs) {
    const json* value = config->Find(config->root(), key);
    if (value == nullptr) continue;
    SpecialSetting setting{true, std::nullopt, config->file()};
    if (value->is_string()) {
      setting.content = value->get<std::string>();
    } else if (value->is_object() && config->Find(*value, "content") != nullptr) {
      setting.content = config->String(*value, key, "content");
    } else if (!value->is_null()) {
      config->Fail(key, "expected a string, {\"content\": ...} or null, got " + TypeName(*value));
    }
    return setting;
  }
  return {};
}

std::optional<std::string> ReadOptionalFile(const fs::path& path) {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) return std::nullopt;
  return ReadFile(path.string());
}

}  // namespace

std::shared_ptr<const BpeTokenizer> BpeTokenizer::Load(const std::string& path, const Options& options) {
  std::error_code error;
  const fs::path file_path = fs::is_directory(path, error) ? fs::path(path) / kHfTokenizerFileName : fs::path(path);
  if (!fs::exists(file_path, error)) throw InvalidInput(file_path.string() + ": no such file");
  const fs::path directory = file_path.parent_path();
  const std::string contents = ReadFile(file_path.string());
  BpeTokenizerParts parts;
  parts.source = file_path.string();
  parts.source_files.emplace_back(kHfTokenizerFileName, contents);

  Vocabulary vocabulary;
  std::vector<AddedToken> added;
  {
    const JsonFile file(parts.source, contents);
    const json& model = file.Object(file.root(), "", "model");
    CheckModel(file, model);
    const json* pre_tokenizer = file.Find(file.root(), "pre_tokenizer");
    if (pre_tokenizer == nullptr || pre_tokenizer->is_null()) {
      file.Fail("pre_tokenizer", "missing: a byte-level BPE tokenizer needs a ByteLevel pre-tokenizer " +
                                     std::string(kSupported));
    }
    bool byte_level = false;
    ReadPreTokenizer(file, *pre_tokenizer, "pre_tokenizer", &parts.pre_tokenizer, &byte_level);
    if (!byte_level) file.Fail("pre_tokenizer", "no ByteLevel step " + std::string(kSupported));
    const json* decoder = file.Find(file.root(), "decoder");
    if (decoder == nullptr || decoder->is_null()) file.Fail("decoder", "missing: expected a ByteLevel decoder");
    if (!decoder->is_object()) file.Fail("decoder", "expected an object, got " + TypeName(*decoder));
    const std::string decoder_type = file.String(*decoder, "decoder", "type");
    if (decoder_type != "ByteLevel") {
      file.Fail("decoder.type", json(decoder_type).dump() + " decoders are not supported " + kSupported);
    }
    const json* normalizer = file.Find(file.root(), "normalizer");
    if (normalizer != nullptr) parts.normalizer = ReadNormalizer(file, *normalizer, "normalizer");
    vocabulary = ReadVocabulary(file, model);
    const std::vector<BpeMerge> merges = ReadMerges(file, model, vocabulary);
    added = ReadAddedTokens(file);
    parts.model = std::make_unique<BpeModel>(vocabulary.byte_ids, std::move(vocabulary.by_bytes), merges,
                                             file.Bool(model, "model", "ignore_merges", false), options.cache_capacity);
    vocabulary.by_spelling.clear();  // its views point into `file`
  }
  for (const AddedToken& token : added) vocabulary.Set(static_cast<int32_t>(token.id), token.content);
  parts.id_to_bytes = std::move(vocabulary.id_to_bytes);
  parts.id_known = std::move(vocabulary.id_known);
  parts.added_tokens = added;

  // Special tokens: tokenizer_config.json first, then special_tokens_map.json.
  std::vector<std::unique_ptr<JsonFile>> config_files;
  for (const char* name : {kHfTokenizerConfigFileName, kHfSpecialTokensMapFileName}) {
    if (auto text = ReadOptionalFile(directory / name)) {
      config_files.push_back(std::make_unique<JsonFile>((directory / name).string(), *text));
      parts.source_files.emplace_back(name, std::move(*text));
    }
  }
  std::vector<const JsonFile*> configs;
  for (const auto& config : config_files) configs.push_back(config.get());
  const auto lookup = [&](const SpecialSetting& setting, const std::string& key) -> std::optional<TokenId> {
    if (!setting.content) return std::nullopt;
    for (const AddedToken& token : added) {
      if (token.content == *setting.content) return token.id;
    }
    if (const int32_t* id = parts.model->Find(*setting.content)) return *id;
    throw InvalidInput(setting.file + ": " + key + ": " + json(*setting.content).dump() + " is not a token of " +
                       parts.source);
  };
  const SpecialSetting eos = ReadSpecial(configs, "eos_token");
  const SpecialSetting bos = ReadSpecial(configs, "bos_token");
  const SpecialSetting pad = ReadSpecial(configs, "pad_token");
  bool eos_guessed = false;
  if (const auto id = lookup(eos, "eos_token")) {
    parts.eos = *id;
  } else {
    // GPT-2's files name no EOS: its one special token, <|endoftext|>, is BOS and EOS.
    std::vector<TokenId> specials;
    for (const AddedToken& token : added) {
      if (token.special) specials.push_back(token.id);
    }
    if (specials.size() != 1) {
      throw InvalidInput(directory.string() + ": no EOS token: " + kHfTokenizerConfigFileName +
                         " sets no eos_token and " + parts.source + " has " + std::to_string(specials.size()) +
                         " special tokens (one would be taken as EOS)");
    }
    parts.eos = specials[0];
    eos_guessed = true;
  }
  parts.bos = lookup(bos, "bos_token");
  if (!bos.present && eos_guessed) parts.bos = parts.eos;
  parts.pad = lookup(pad, "pad_token").value_or(parts.eos);

  Sha256 hasher;
  hasher.Update(contents);
  hasher.Update("\nbos=" + (parts.bos ? std::to_string(*parts.bos) : std::string("none")) +
                " eos=" + std::to_string(parts.eos) + " pad=" + std::to_string(parts.pad));
  parts.name = "hf-bpe:" + DigestToHex(hasher.Finish()).substr(0, 16);
  return std::make_shared<const BpeTokenizer>(std::move(parts));
}

}  // namespace dpo
