//===- Json.h - A small JSON writer -----------------------------*- C++ -*-===//
//
// Streaming JSON output for reports (`motec inspect --format json`,
// report.json). Keys are written in the order given, so output is
// deterministic.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_JSON_H
#define MOTE_COMPILER_JSON_H

#include "compiler/Diagnostic.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mote {

class JsonWriter {
public:
  void beginObject();
  void endObject();
  void beginArray();
  void endArray();
  /// Writes a key inside an object; the value follows.
  void key(std::string_view K);
  void value(std::string_view S);
  void value(const char *S) { value(std::string_view(S)); }
  void value(int64_t V);
  void value(int V) { value(int64_t(V)); }
  void value(size_t V) { value(int64_t(V)); }
  void value(double V);
  void value(bool V);
  void null();
  /// key(K) followed by value(V).
  template <class T> void field(std::string_view K, const T &V) {
    key(K);
    value(V);
  }

  const std::string &str() const { return Out; }

  static std::string escape(std::string_view S);

private:
  void separate();
  std::string Out;
  /// Per open container: whether an element was written.
  std::vector<bool> HasElem;
  bool AfterKey = false;
};

/// A parsed JSON value (for small input files such as update specs).
struct JsonValue {
  enum class Kind { Null, Bool, Number, String, Array, Object } K = Kind::Null;
  bool B = false;
  double Num = 0;
  std::string Str;
  std::vector<JsonValue> Arr;
  std::map<std::string, JsonValue, std::less<>> Obj;

  const JsonValue *get(std::string_view Key) const {
    auto It = Obj.find(Key);
    return It == Obj.end() ? nullptr : &It->second;
  }
};

/// Parses \p Text (nesting depth and size bounded); errors name the offset.
Expected<JsonValue> parseJson(std::string_view Text);

} // namespace mote

#endif // MOTE_COMPILER_JSON_H
