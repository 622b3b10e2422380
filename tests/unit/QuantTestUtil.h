//===- QuantTestUtil.h - Helpers of the quantization tests ------*- C++ -*-===//
//
// Quantized tensors and op errors for QuantTest.cpp and QLinearTest.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_TESTS_UNIT_QUANTTESTUTIL_H
#define MOTE_TESTS_UNIT_QUANTTESTUTIL_H

#include "TestUtil.h"

#include <optional>
#include <string>
#include <vector>

namespace mote::test {

using Ints = std::vector<int64_t>;
using Floats = std::vector<float>;

inline QuantParams perTensor(float S, int32_t Z) { return {-1, {S}, {Z}}; }

/// A tensor of (quantized) type \p T holding \p V.
inline Tensor quantized(TensorType T, std::vector<double> V) {
  Tensor R(T);
  REQUIRE(int64_t(V.size()) == R.numElements());
  for (size_t I = 0; I < V.size(); ++I)
    R.setFromDouble(int64_t(I), V[I]);
  return R;
}

/// The message of the error \p Op gives on \p In with \p A.
inline std::string errorOf(OpKind Op, std::vector<std::optional<Tensor>> In,
                           AttrMap A, size_t NumResults = 1) {
  OpRun R = runOp(Op, std::move(In), std::move(A), NumResults);
  REQUIRE(R.Error);
  return R.Error->Message;
}

} // namespace mote::test

#endif // MOTE_TESTS_UNIT_QUANTTESTUTIL_H
