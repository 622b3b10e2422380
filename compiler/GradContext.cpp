//===- GradContext.cpp - What a gradient rule sees and emits --------------===//

#include "compiler/GradContext.h"
#include "compiler/OpDef.h"

#include <fmt/format.h>

namespace mote {

TensorType gradType(const TensorType &T) {
  return T.isQuantized() ? TensorType(DType::F32, T.Dims) : T;
}

Value *GradContext::outputGrad(size_t I) const {
  if (I >= N.numOutputs())
    return nullptr;
  auto It = Grads.find(N.output(I));
  return It == Grads.end() ? nullptr : It->second;
}

bool GradContext::needsGrad(size_t I) const {
  const Value *V = N.input(I);
  return V && NeedsGradFn(V);
}

Status GradContext::addInputGrad(size_t I, Value *Grad) {
  const Value *In = N.input(I);
  assert(In && "gradient for an absent input");
  if (!NeedsGradFn(In))
    return ok();
  if (Grad->type() != gradType(In->type()))
    return Diag(fmt::format("gradient rule produced {} for input {} of type "
                            "{} (compiler bug in the rule)",
                            Grad->type().str(), I, In->type().str()))
        .at(N);
  auto It = Grads.find(In);
  if (It == Grads.end()) {
    Grads[In] = Grad;
    return ok();
  }
  // Fan-out: the gradients of all uses add up.
  Expected<Value *> Sum = emit1(OpKind::Add, {It->second, Grad}, {},
                                In->name() + ".grad.acc");
  if (!Sum)
    return Sum.takeError();
  It->second = *Sum;
  return ok();
}

Expected<std::vector<Value *>> GradContext::emit(OpKind Op,
                                                 std::vector<Value *> Ins,
                                                 AttrMap Attrs,
                                                 size_t NumResults,
                                                 std::string_view Hint) {
  std::string Base = Hint.empty()
                         ? fmt::format("{}.{}", N.name(), getOpDef(Op).Name)
                         : std::string(Hint);
  std::vector<std::string> Names;
  for (size_t I = 0; I < NumResults; ++I)
    Names.push_back(G.uniqueName(NumResults == 1
                                     ? Base
                                     : fmt::format("{}.{}", Base, I)));
  Expected<Node *> Nd =
      G.createNode(InsertBefore, Op, G.uniqueName(Base + ".node"),
                   std::move(Ins), std::move(Attrs), std::move(Names));
  if (!Nd) {
    Diag D = Nd.takeError();
    D.NodeName.clear();
    D.OpType.clear();
    D.Message = fmt::format("gradient of node '{}' ({}): {} emits an invalid "
                            "{}: {}",
                            N.name(), N.opName(), N.opName(),
                            getOpDef(Op).Name, D.Message);
    return D;
  }
  (*Nd)->setPhase(NodePhase::Backward);
  std::vector<Value *> Outs((*Nd)->outputs().begin(), (*Nd)->outputs().end());
  return Outs;
}

Expected<Value *> GradContext::emit1(OpKind Op, std::vector<Value *> Ins,
                                     AttrMap Attrs, std::string_view Hint) {
  Expected<std::vector<Value *>> R =
      emit(Op, std::move(Ins), std::move(Attrs), 1, Hint);
  if (!R)
    return R.takeError();
  return R->front();
}

Value *GradContext::constant(Tensor T, std::string_view Hint) {
  return G.addConst(G.uniqueName(fmt::format("{}.{}", N.name(), Hint)),
                    std::move(T));
}

Expected<Value *> GradContext::sumToShape(Value *Grad, const Shape &To) {
  const Shape &From = Grad->type().Dims;
  if (From == To)
    return Grad;
  // Sum over leading dims broadcasting added and dims it stretched from 1.
  std::vector<int64_t> Axes;
  size_t Lead = From.size() - To.size();
  for (size_t I = 0; I < From.size(); ++I)
    if (I < Lead || (To[I - Lead] == 1 && From[I] != 1))
      Axes.push_back(int64_t(I));
  Value *R = Grad;
  if (!Axes.empty()) {
    AttrMap A;
    A.set("axes", Axes);
    A.set("keepdims", int64_t(1));
    Expected<Value *> S = emit1(OpKind::ReduceSum, {R}, A);
    if (!S)
      return S.takeError();
    R = *S;
  }
  if (R->type().Dims != To) {
    AttrMap A;
    A.set("shape", To);
    Expected<Value *> S = emit1(OpKind::Reshape, {R}, A);
    if (!S)
      return S.takeError();
    R = *S;
  }
  return R;
}

} // namespace mote
