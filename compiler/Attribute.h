//===- Attribute.h - Typed node attributes ----------------------*- C++ -*-===//
//
// A node's attributes: a name-ordered map (deterministic printing) from name
// to one of int, float, string, ints, floats, strings. Ops declare the
// attributes they accept in their OpDef (AttrSpec), and the verifier checks
// every node against that schema, so op code reads attributes with the
// unchecked getters below.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_ATTRIBUTE_H
#define MOTE_COMPILER_ATTRIBUTE_H

#include <cassert>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mote {

enum class AttrKind : uint8_t { Int, Float, String, Ints, Floats, Strings };

std::string_view attrKindName(AttrKind K);

using AttrValue = std::variant<int64_t, float, std::string, std::vector<int64_t>,
                               std::vector<float>, std::vector<std::string>>;

inline AttrKind kindOf(const AttrValue &V) {
  return static_cast<AttrKind>(V.index());
}

/// Ordered attribute map with typed getters.
class AttrMap {
public:
  using Map = std::map<std::string, AttrValue, std::less<>>;

  bool has(std::string_view Name) const { return Attrs.find(Name) != Attrs.end(); }
  const AttrValue *find(std::string_view Name) const {
    auto It = Attrs.find(Name);
    return It == Attrs.end() ? nullptr : &It->second;
  }
  void set(std::string Name, AttrValue V) { Attrs[std::move(Name)] = std::move(V); }
  void erase(std::string_view Name) {
    auto It = Attrs.find(Name);
    if (It != Attrs.end())
      Attrs.erase(It);
  }

  int64_t getInt(std::string_view Name, int64_t Default) const {
    const AttrValue *V = find(Name);
    return V ? std::get<int64_t>(*V) : Default;
  }
  float getFloat(std::string_view Name, float Default) const {
    const AttrValue *V = find(Name);
    return V ? std::get<float>(*V) : Default;
  }
  std::string getString(std::string_view Name, std::string Default) const {
    const AttrValue *V = find(Name);
    return V ? std::get<std::string>(*V) : Default;
  }
  std::vector<int64_t> getInts(std::string_view Name,
                               std::vector<int64_t> Default = {}) const {
    const AttrValue *V = find(Name);
    return V ? std::get<std::vector<int64_t>>(*V) : Default;
  }
  std::vector<float> getFloats(std::string_view Name,
                               std::vector<float> Default = {}) const {
    const AttrValue *V = find(Name);
    return V ? std::get<std::vector<float>>(*V) : Default;
  }

  const Map &all() const { return Attrs; }
  bool empty() const { return Attrs.empty(); }
  friend bool operator==(const AttrMap &, const AttrMap &) = default;

private:
  Map Attrs;
};

} // namespace mote

#endif // MOTE_COMPILER_ATTRIBUTE_H
