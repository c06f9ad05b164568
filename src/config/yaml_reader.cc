// The only file that includes yaml-cpp (see yaml_reader.h).
#include "config/yaml_reader.h"

#include "config/schema_reader.h"  // Quote
#include "sys/whole_file.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <exception>
#include <sstream>

namespace pilotlight::config {

struct YamlNode::Impl {
  YAML::Node node;

  static YamlNode Wrap(const YAML::Node& n) {
    if (!n.IsDefined()) return YamlNode();
    return YamlNode(std::make_shared<const Impl>(Impl{n}));
  }
};

namespace {

// Only the first document is used; the scan for more stops after this many.
constexpr int kMaxScannedDocuments = 16;

YamlMark MarkOf(const YAML::Mark& m) { return {m.pos, m.line, m.column}; }

SourceLocation WhereIn(const std::string& file, const YAML::Mark& m) {
  if (m.line < 0 || m.column < 0) return {file, 0, 0};
  return {file, m.line + 1, m.column + 1};
}

// Records where each document starts and ignores everything else.
class DocumentStarts final : public YAML::EventHandler {
 public:
  YAML::Mark start;

  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// How the text splits into documents, looking at no more than kMaxScannedDocuments.
struct DocumentScan {
  int documents = 0;
  YAML::Mark second;                // start of the second document, if any
  std::optional<YAML::Mark> stuck;  // a token the parser cannot consume
};

// YAML::Load reads the first document and silently drops the rest, and
// yaml-cpp 0.7 cannot consume some stray tokens at a document start (a lone
// ',' line): YAML::LoadAll then loops forever, allocating empty documents.
// So documents are counted here with a bound, and a document that starts
// where the previous one did marks a stuck parser. Throws YAML::Exception.
DocumentScan ScanDocuments(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentScan scan;
  std::optional<int> previous_start;
  for (int i = 0; i < kMaxScannedDocuments; ++i) {
    DocumentStarts handler;
    if (!parser.HandleNextDocument(handler)) break;
    if (previous_start == handler.start.pos) {
      scan.stuck = handler.start;
      break;
    }
    previous_start = handler.start.pos;
    if (++scan.documents == 2) scan.second = handler.start;
  }
  return scan;
}

YamlDocument Failed(ConfigError error, std::string message) {
  YamlDocument doc;
  doc.error = std::move(error);
  doc.message = std::move(message);
  return doc;
}

}  // namespace

YamlNode::Type YamlNode::type() const {
  if (!impl_) return Type::kUndefined;
  switch (impl_->node.Type()) {
    case YAML::NodeType::Null:
      return Type::kNull;
    case YAML::NodeType::Scalar:
      return Type::kScalar;
    case YAML::NodeType::Sequence:
      return Type::kSequence;
    case YAML::NodeType::Map:
      return Type::kMap;
    case YAML::NodeType::Undefined:
      break;
  }
  return Type::kUndefined;
}

const std::string& YamlNode::Scalar() const {
  static const std::string kEmpty;
  return impl_ ? impl_->node.Scalar() : kEmpty;
}

YamlMark YamlNode::Mark() const { return impl_ ? MarkOf(impl_->node.Mark()) : YamlMark{}; }

size_t YamlNode::size() const { return IsSequence() || IsMap() ? impl_->node.size() : 0; }

std::vector<YamlNode> YamlNode::Items() const {
  std::vector<YamlNode> out;
  if (!IsSequence()) return out;
  for (auto it = impl_->node.begin(); it != impl_->node.end(); ++it) {
    out.push_back(Impl::Wrap(*it));
  }
  return out;
}

std::vector<std::pair<YamlNode, YamlNode>> YamlNode::Entries() const {
  std::vector<std::pair<YamlNode, YamlNode>> out;
  if (!IsMap()) return out;
  for (auto it = impl_->node.begin(); it != impl_->node.end(); ++it) {
    // Copies: the iterator hands out a temporary pair (Node is a cheap handle).
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    out.emplace_back(Impl::Wrap(key), Impl::Wrap(value));
  }
  return out;
}

YamlNode YamlNode::Get(std::string_view key) const {
  if (!IsMap()) return YamlNode();
  const YAML::Node& map = impl_->node;
  return Impl::Wrap(map[std::string(key)]);
}

YamlDocument ParseYaml(std::string_view yaml_text, const std::string& file) {
  const std::string text(yaml_text);
  YamlDocument doc;
  YAML::Node root;
  try {
    DocumentScan scan = ScanDocuments(text);
    if (scan.stuck) {
      const size_t pos = static_cast<size_t>(std::max(scan.stuck->pos, 0));
      const std::string token = pos < text.size() ? Quote(text.substr(pos, 1)) : "a token";
      return Failed(
          {WhereIn(file, *scan.stuck), "", "valid YAML", "a syntax error: unexpected " + token},
          "unexpected " + token);
    }
    doc.documents = scan.documents;
    doc.second = MarkOf(scan.second);
    if (scan.documents > 0) root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Failed({WhereIn(file, e.mark), "", "valid YAML", "a syntax error: " + e.msg}, e.msg);
  } catch (const std::exception& e) {
    return Failed({{file, 1, 1}, "", "valid YAML", std::string("a parser failure: ") + e.what()},
                  e.what());
  }
  doc.root = YamlNode::Impl::Wrap(root);
  return doc;
}

Result<std::string> ReadYamlFile(const std::string& path) { return sys::ReadWholeFile(path); }

}  // namespace pilotlight::config
