//===- Diagnostic.h - User-facing errors and Expected<T> --------*- C++ -*-===//
//
// Two tiers of errors: a problem with the user's model or flags is a Diag
// returned through Expected<T>; a compiler bug is an assert. A Diag carries
// where the problem is (file, node, op type, opset) so a tool can print one
// line a user can act on:
//
//   model.onnx: node 'conv1' (Conv, opset 13): kernel_shape [3, 3] does not ...
//
// Messages start lowercase and have no trailing period.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_DIAGNOSTIC_H
#define MOTE_COMPILER_DIAGNOSTIC_H

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace mote {

class Node;

/// A user-facing error with its location.
struct Diag {
  std::string Message;
  std::string File;   ///< model or IR file, if known
  std::string NodeName; ///< node the problem is in, if any
  std::string OpType; ///< op type of that node
  int Opset = -1;     ///< opset of the op, if known
  int Line = -1;      ///< line in a text file (IR parser), if any
  /// A misuse of the command line (a malformed or conflicting option) rather
  /// than a problem with the model: tools exit with their usage code.
  bool Usage = false;

  Diag() = default;
  explicit Diag(std::string Msg) : Message(std::move(Msg)) {}

  /// Attaches the node's name and op type unless already set.
  Diag &at(const Node &N);
  Diag &inFile(std::string F) {
    if (File.empty())
      File = std::move(F);
    return *this;
  }
  Diag &withOpset(int V) {
    if (Opset < 0)
      Opset = V;
    return *this;
  }

  /// One line: "file:line: node 'n' (Op, opset k): message".
  std::string str() const;
};

/// A usage error: a malformed or conflicting option.
inline Diag usageError(std::string Msg) {
  Diag D(std::move(Msg));
  D.Usage = true;
  return D;
}

/// Marker for an empty success value.
struct Success {};

/// Either a value or a Diag.
template <class T> class [[nodiscard]] Expected {
public:
  Expected(T V) : Storage(std::in_place_index<0>, std::move(V)) {}
  Expected(Diag D) : Storage(std::in_place_index<1>, std::move(D)) {}

  explicit operator bool() const { return Storage.index() == 0; }
  T &operator*() {
    assert(*this && "dereferencing an error");
    return std::get<0>(Storage);
  }
  const T &operator*() const {
    assert(*this && "dereferencing an error");
    return std::get<0>(Storage);
  }
  T *operator->() { return &**this; }
  const T *operator->() const { return &**this; }
  Diag &error() {
    assert(!*this && "no error");
    return std::get<1>(Storage);
  }
  const Diag &error() const {
    assert(!*this && "no error");
    return std::get<1>(Storage);
  }
  Diag takeError() { return std::move(error()); }

private:
  std::variant<T, Diag> Storage;
};

/// Result of an operation that produces nothing but may fail.
using Status = Expected<Success>;
inline Status ok() { return Success{}; }

} // namespace mote

#endif // MOTE_COMPILER_DIAGNOSTIC_H
