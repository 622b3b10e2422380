//===- Json.cpp - A small JSON writer -------------------------------------===//

#include "compiler/Json.h"

#include <cmath>
#include <fmt/format.h>

namespace mote {

std::string JsonWriter::escape(std::string_view S) {
  std::string R = "\"";
  for (char C : S) {
    switch (C) {
    case '"': R += "\\\""; break;
    case '\\': R += "\\\\"; break;
    case '\n': R += "\\n"; break;
    case '\t': R += "\\t"; break;
    case '\r': R += "\\r"; break;
    default:
      if (static_cast<unsigned char>(C) < 0x20)
        R += fmt::format("\\u{:04x}", static_cast<unsigned char>(C));
      else
        R += C;
    }
  }
  return R + "\"";
}

void JsonWriter::separate() {
  if (AfterKey) {
    AfterKey = false;
    return;
  }
  if (!HasElem.empty()) {
    if (HasElem.back())
      Out += ",";
    HasElem.back() = true;
    Out += "\n" + std::string(HasElem.size() * 2, ' ');
  }
}

void JsonWriter::beginObject() {
  separate();
  Out += "{";
  HasElem.push_back(false);
}

void JsonWriter::endObject() {
  bool Any = HasElem.back();
  HasElem.pop_back();
  if (Any)
    Out += "\n" + std::string(HasElem.size() * 2, ' ');
  Out += "}";
  if (HasElem.empty())
    Out += "\n";
}

void JsonWriter::beginArray() {
  separate();
  Out += "[";
  HasElem.push_back(false);
}

void JsonWriter::endArray() {
  bool Any = HasElem.back();
  HasElem.pop_back();
  if (Any)
    Out += "\n" + std::string(HasElem.size() * 2, ' ');
  Out += "]";
}

void JsonWriter::key(std::string_view K) {
  separate();
  Out += escape(K) + ": ";
  AfterKey = true;
}

void JsonWriter::value(std::string_view S) {
  separate();
  Out += escape(S);
}

void JsonWriter::value(int64_t V) {
  separate();
  Out += fmt::format("{}", V);
}

void JsonWriter::value(double V) {
  separate();
  Out += std::isfinite(V) ? fmt::format("{}", V) : std::string("null");
}

void JsonWriter::value(bool V) {
  separate();
  Out += V ? "true" : "false";
}

void JsonWriter::null() {
  separate();
  Out += "null";
}

} // namespace mote
