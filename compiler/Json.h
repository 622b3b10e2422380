//===- Json.h - A small JSON writer -----------------------------*- C++ -*-===//
//
// Streaming JSON output for reports (`motec inspect --format json`,
// report.json). Keys are written in the order given, so output is
// deterministic.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_JSON_H
#define MOTE_COMPILER_JSON_H

#include <cstdint>
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

  const std::string &str() const { return Out; }

  static std::string escape(std::string_view S);

private:
  void separate();
  std::string Out;
  /// Per open container: whether an element was written.
  std::vector<bool> HasElem;
  bool AfterKey = false;
};

} // namespace mote

#endif // MOTE_COMPILER_JSON_H
