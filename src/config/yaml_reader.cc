// The only file that includes yaml-cpp (see yaml_reader.h).
#include "config/yaml_reader.h"

#include "config/schema_reader.h"  // Quote

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
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

// The offset of the first byte that is not part of well-formed UTF-8 (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF), or npos.
size_t FirstInvalidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xbf;  // the allowed range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
      length = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      if (c == 0xe0) low = 0xa0;
      if (c == 0xed) high = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      if (c == 0xf0) low = 0x90;
      if (c == 0xf4) high = 0x8f;
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      const unsigned char lo = k == 1 ? low : 0x80;
      const unsigned char hi = k == 1 ? high : 0xbf;
      if (next < lo || next > hi) return i;
    }
    i += length;
  }
  return std::string_view::npos;
}

// 1-based line and column (in characters) of byte `offset` of valid UTF-8 `text`.
SourceLocation LocationOf(const std::string& file, std::string_view text, size_t offset) {
  SourceLocation where{file, 1, 1};
  for (size_t i = 0; i < offset; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++where.line;
      where.column = 1;
    } else if ((c & 0xc0) != 0x80) {
      ++where.column;
    }
  }
  return where;
}

std::string Hex(unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("0x") + kHex[c >> 4] + kHex[c & 0xf];
}

YamlDocument Failed(ConfigError error, std::string message) {
  YamlDocument doc;
  doc.error = std::move(error);
  doc.message = std::move(message);
  return doc;
}

// What a file that is not regular is, for the refusal.
std::string KindOf(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "a special file";
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
  if (yaml_text.size() > kMaxYamlFileBytes) {
    const std::string found = std::to_string(yaml_text.size()) + " bytes";
    return Failed({{file, 0, 0}, "", "a text of at most 4 MiB", found},
                  "larger than 4 MiB (" + found + ")");
  }
  const size_t bad = FirstInvalidUtf8(yaml_text);
  if (bad != std::string_view::npos) {
    const std::string found = "the byte " + Hex(static_cast<unsigned char>(yaml_text[bad])) +
                              ", which is not valid UTF-8 (save the file as UTF-8)";
    return Failed({LocationOf(file, yaml_text, bad), "", "UTF-8 text", found},
                  "expected UTF-8 text, found " + found);
  }
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

Result<std::string> ReadYamlFile(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Status::IOError(std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::IOError(std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Status::IOError(std::strerror(EISDIR));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::IOError(KindOf(st.st_mode) +
                           ", not a regular file (only regular files are read: give the path "
                           "of the YAML file itself, or copy the stream to a file first)");
  }
  const std::string too_large =
      "more than 4 MiB, the limit for a YAML file read here (is it the right file?)";
  if (static_cast<uint64_t>(st.st_size) > kMaxYamlFileBytes) {
    ::close(fd);
    return Status::IOError(too_large);
  }
  // A regular file may still grow while it is read (or lie about its size, as
  // /proc files do): read at most one byte past the limit.
  std::string text;
  char buffer[16 * 1024];
  while (text.size() <= kMaxYamlFileBytes) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      text.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      const int err = errno;
      ::close(fd);
      return Status::IOError(std::strerror(err));
    }
  }
  ::close(fd);
  if (text.size() > kMaxYamlFileBytes) return Status::IOError(too_large);
  return text;
}

}  // namespace pilotlight::config
