//===- TrainUtil.h - Helpers shared by the training passes ------*- C++ -*-===//

#ifndef MOTE_PASSES_TRAINUTIL_H
#define MOTE_PASSES_TRAINUTIL_H

#include <cstdint>

namespace mote {

class Graph;
class Value;

/// The axis of parameter \p P that holds its output channels: dim 0 of a
/// Conv weight or of a bias, the output dim of a Gemm or MatMul weight.
int64_t channelAxis(const Graph &G, const Value *P);

} // namespace mote

#endif // MOTE_PASSES_TRAINUTIL_H
