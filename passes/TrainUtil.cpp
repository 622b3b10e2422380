//===- TrainUtil.cpp - Helpers shared by the training passes --------------===//

#include "passes/TrainUtil.h"
#include "compiler/Graph.h"

namespace mote {

int64_t channelAxis(const Graph &G, const Value *P) {
  int64_t Rank = int64_t(P->type().rank());
  if (Rank == 0)
    return 0;
  for (const Node *N : G.users(P)) {
    if (N->op() == OpKind::Gemm && N->input(1) == P)
      return N->attrs().getInt("transB", 0) ? 0 : 1;
    if (N->op() == OpKind::Gemm && N->input(2) == P)
      return Rank - 1;
    if (N->op() == OpKind::MatMul && N->input(1) == P)
      return Rank - 1;
    if (N->op() == OpKind::Conv)
      return 0;
  }
  return 0;
}

bool isParameterUpdate(const Node &N) {
  return N.op() == OpKind::SgdUpdate || N.op() == OpKind::MomentumUpdate ||
         N.op() == OpKind::AdamUpdate;
}

} // namespace mote
