//===- TrainUtil.h - Helpers shared by the training passes ------*- C++ -*-===//

#ifndef MOTE_PASSES_TRAINUTIL_H
#define MOTE_PASSES_TRAINUTIL_H

#include <cstdint>

namespace mote {

class Graph;
class Node;
class Value;

/// The axis of parameter \p P that holds its output channels: dim 0 of a
/// Conv weight or of a bias, the output dim of a Gemm or MatMul weight.
int64_t channelAxis(const Graph &G, const Value *P);

/// Is \p N a parameter update (SgdUpdate, MomentumUpdate or AdamUpdate)?
bool isParameterUpdate(const Node &N);

} // namespace mote

#endif // MOTE_PASSES_TRAINUTIL_H
