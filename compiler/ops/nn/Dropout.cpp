//===- Dropout.cpp - Dropout in inference mode ----------------------------===//
//
// Dropout as it appears in exported (eval-mode) models: the identity.
//
//   output = data,   mask = true everywhere
//
// The importer drops the ratio and training_mode inputs of opset 12+
// models (they are constants selecting eval mode); `seed` is accepted and
// ignored. The optional mask result is bool.
//
// Lowers to the copy mote_rt::reshape<T> (tensor.h); a Dropout with a mask
// result lowers to dropout_eval (canonicalize removes eval-mode Dropout
// anyway).
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/ops/nn/NnUtils.h"
#include "compiler/ops/tensor/TensorLowering.h"

#include <algorithm>
#include <cstring>

namespace mote {
namespace {

Expected<std::vector<TensorType>> inferDropout(const Node &N) {
  if (Status S = requireFloatOperands(N, {0}); !S)
    return S.takeError();
  std::vector<TensorType> Types = {N.inType(0)};
  if (N.numOutputs() > 1)
    Types.emplace_back(DType::Bool, N.inType(0).Dims);
  return Types;
}

Status kernelDropout(const Node &, std::span<const Tensor *const> In,
                     std::span<Tensor> Out) {
  if (Out[0].byteSize() != In[0]->byteSize())
    return opError("output size does not match the input");
  if (In[0]->byteSize() > 0)
    std::memcpy(Out[0].raw(), In[0]->raw(), In[0]->byteSize());
  if (Out.size() > 1) {
    auto Mask = Out[1].data<bool>();
    std::fill(Mask.begin(), Mask.end(), true);
  }
  return ok();
}

// Gradient rule: eval-mode Dropout is the identity, so dX = dY. The mask
// is bool and carries no gradient.
Status gradDropout(GradContext &Ctx, const Node &) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY || !Ctx.needsGrad(0))
    return ok();
  return Ctx.addInputGrad(0, DY);
}

constexpr AttrSpec DropoutAttrs[] = {{"seed", AttrKind::Int}};

Status lowerDropout(const Node &N, KernelCall &C) {
  Status S = lowerReshapeCopy(N, C);
  if (S && N.numOutputs() > 1)
    C.Kernel = "dropout_eval"; // same parameters, plus the all-true mask
  return S;
}

} // namespace

extern const OpDef OpDef_Dropout = {
    .Name = "Dropout",
    .MinInputs = 1,
    .MaxInputs = 1,
    .MinOutputs = 1,
    .MaxOutputs = 2,
    .Attrs = DropoutAttrs,
    .Infer = inferDropout,
    .Kernel = kernelDropout,
    .Macs = nullptr,
    .Grad = gradDropout,
    .Flags = OpFlagElementwise | OpFlagDataMovement,
    .Summary = "eval-mode dropout: output = data, optional all-true mask",
    .Lower = lowerDropout,
};

} // namespace mote
