//===- TrainUtil.h - Helpers shared by the passes ---------------*- C++ -*-===//

#ifndef MOTE_PASSES_TRAINUTIL_H
#define MOTE_PASSES_TRAINUTIL_H

#include "compiler/Attribute.h"

#include <cstdint>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace mote {

class Graph;
class Node;
class Value;
struct PassContext;
struct UpdateRule;

/// Whether \p User is the only reader of \p V, which is no graph output.
bool onlyUser(const Graph &G, const Value *V, const Node *User);

/// The value \p Old computed by an erased node now comes from \p New: every
/// use and the pass context's loss and prediction follow, and New takes
/// Old's name (the model's interface and the reports keep the names); Old
/// is renamed with \p Suffix.
void replaceValue(Graph &G, PassContext &Ctx, Value *Old, Value *New,
                  std::string_view Suffix);

/// The attributes that name the test of mask gradient \p N (a ReluGrad or a
/// ClipGrad) as ActivationGradSum, ActivationMask and the fused
/// activations name it: activation "Relu" or "Clip", and the Clip's
/// activation_min / activation_max.
AttrMap maskTestAttrs(const Node &N);

/// The axis of parameter \p P that holds its output channels: dim 0 of a
/// Conv weight or of a bias, the output dim of a Gemm or MatMul weight.
int64_t channelAxis(const Graph &G, const Value *P);

/// Whether parameter \p P trains under update spec \p Rules: a float or
/// quantized parameter that some rule matches (every one when there are
/// no rules). Before select-trainable, for passes that must know early.
bool trainsUnder(const Value *P, const std::vector<UpdateRule> &Rules);

/// The values that depend on a parameter training under \p Rules (a
/// gradient flows back through the nodes that compute them).
std::unordered_set<const Value *>
trainedDependents(const Graph &G, const std::vector<UpdateRule> &Rules);

/// Is \p N a parameter update (SgdUpdate, MomentumUpdate or AdamUpdate)?
bool isParameterUpdate(const Node &N);

} // namespace mote

#endif // MOTE_PASSES_TRAINUTIL_H
