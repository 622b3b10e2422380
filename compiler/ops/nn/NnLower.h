//===- NnLower.h - Lowering helpers of the neural-network ops ---*- C++ -*-===//
//
// The lowerings of Conv, the pooling ops, LayerNormalization and their
// backward ops (compiler/ops/nn, compiler/ops/grad) share the parameter
// structs ConvP, PoolP, LayerNormP and BatchNormP (mote_rt/params.def). The
// helpers here fill those fields, so a forward op and its backward ops describe their geometry
// to the kernels in one way. Internal to compiler/ops/nn and
// compiler/ops/grad.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_OPS_NN_NNLOWER_H
#define MOTE_COMPILER_OPS_NN_NNLOWER_H

#include "compiler/ops/nn/NnUtils.h"
#include "compiler/ops/train/Optimizer.h"

namespace mote {

/// Fails unless every operand and result of \p N fits the kernels: rank at
/// most KernelMaxRank and fewer than 2^31 elements (kernels index with
/// int32_t).
Status requireKernelSizes(const Node &N);

/// What a conv kernel does besides the convolution: the fused activation of
/// the forward kernels, the optimizer step of conv_grad_weight_sgd /
/// _momentum / _adam (update \p Kind with the attributes \p Update, see
/// updateStepParams). The Act and Update fields of ConvP.
struct ConvEpilogue {
  FusedActivation Act;
  const AttrMap *Update = nullptr;
  UpdateKind Kind = UpdateKind::Sgd;
};

/// ConvP for \p G, the kernel computing the first \p Channels output
/// channels, with the epilogue \p E.
Expected<kparams::ConvP> convParams(const ConvGeometry &G, int64_t Channels,
                                    const ConvEpilogue &E = {});

/// Sets ConvP for \p G, the kernel computing the first \p Channels output
/// channels, with the epilogue \p E.
Status lowerConvParams(const ConvGeometry &G, int64_t Channels, KernelCall &C,
                       const ConvEpilogue &E = {});

/// MatMulP for \p G: the batch dims walked with each operand's matrix
/// strides (0 along broadcast dims); when B is one matrix shared by all of
/// A's batch, A's batch folds into M (a single matrix product).
kparams::MatMulP matMulParams(const MatMulGeometry &G);

/// A fused activation as the Act field of ConvP and GemmP.
kparams::ActivationP activationParams(const FusedActivation &A);

/// PoolP for \p G; \p N supplies count_include_pad and storage_order.
Expected<kparams::PoolP> poolParams(const Node &N, const PoolGeometry &G);

/// Sets poolParams(N, G).
Status lowerPoolParams(const Node &N, const PoolGeometry &G, KernelCall &C);

/// Drops the dims of size 1 of \p Dims and merges neighbouring dims that
/// every stride list in \p Strides walks as one (outer stride = inner stride
/// * inner size), so a broadcast walk takes as few dims as it can.
void collapseDims(Shape &Dims, std::initializer_list<Shape *> Strides);

/// The fields LayerNormP and LayerNormGradP share: X of shape \p X,
/// normalized from \p Axis on, as Rows rows of D elements, each read with
/// the collapsed dims Dims; Scale (shape \p ScaleDims) and B (\p BiasDims,
/// null if there is none: zero strides) through their strides.
struct LayerNormRows {
  int64_t Rows = 0, D = 0;
  Shape Dims, ScaleStrides, BiasStrides;
};
LayerNormRows layerNormRows(const Shape &X, int64_t Axis,
                            const Shape &ScaleDims, const Shape *BiasDims);

/// Fills \p C for mote_rt::batch_norm / batch_norm_grad (\p Kernel):
/// header, element type of input 0, BatchNormP {N, C, spatial size,
/// epsilon} of an input of shape \p X.
void lowerBatchNormParams(const Node &N, const Shape &X, std::string Kernel,
                          KernelCall &C);

} // namespace mote

#endif // MOTE_COMPILER_OPS_NN_NNLOWER_H
