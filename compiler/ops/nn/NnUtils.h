//===- NnUtils.h - Helpers shared by the neural-network ops -----*- C++ -*-===//
//
// Conv, AveragePool and MaxPool slide a kernel over the spatial dims of an
// [N, C, D1, ..., Dk] tensor and read their window from the same attributes
// (auto_pad, pads, strides, dilations, ceil_mode). resolveWindow checks those
// attributes once and turns them into explicit per-dim padding and output
// sizes, so the type rule, the kernel and the MAC count of each op agree.
// convGeometry and poolGeometry add the channel checks and window loop that
// the forward ops share with their backward ops (compiler/ops/grad/).
// Also: the float-operand check of the nn ops, the operand checks of the
// softmax cross-entropy loss and a row-major multi-index counter for N-D
// loops. Internal to compiler/ops/nn and compiler/ops/grad.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_OPS_NN_NNUTILS_H
#define MOTE_COMPILER_OPS_NN_NNUTILS_H

#include "compiler/ops/OpUtils.h"

#include <algorithm>
#include <initializer_list>
#include <string_view>

namespace mote {

/// Explicit geometry of a sliding window over k spatial dims.
struct Window {
  Shape Kernel;    ///< kernel size per spatial dim (before dilation)
  Shape Strides;   ///< step between windows
  Shape Dilations; ///< step between kernel taps
  Shape PadBegin;  ///< padding before each dim (auto_pad resolved)
  Shape PadEnd;    ///< padding after each dim (auto_pad resolved)
  Shape Out;       ///< output size per spatial dim

  size_t rank() const { return Kernel.size(); }
  /// Extent of the dilated kernel along \p I: (k - 1) * d + 1.
  int64_t extent(size_t I) const { return (Kernel[I] - 1) * Dilations[I] + 1; }
};

/// How resolveWindow reads the attributes of an op.
struct WindowOptions {
  bool HasDilations = true; ///< the op has a `dilations` attribute
  bool HasCeilMode = false; ///< the op has a `ceil_mode` attribute
};

/// Reads the window attributes of \p N for input spatial dims \p InSpatial
/// and kernel \p Kernel, checks them and computes the output spatial dims.
///
///   NOTSET:     out = floor((in + pb + pe - ext) / s) + 1  (ceil if ceil_mode;
///               a window starting in the end padding is then dropped)
///   VALID:      pads 0, out = floor((in - ext) / s) + 1
///   SAME_UPPER: out = ceil(in / s), total pad = max(0, (out-1) s + ext - in),
///               pb = total / 2, pe = total - pb
///   SAME_LOWER: as SAME_UPPER with pe = total / 2, pb = total - pe
///
/// where ext = (k - 1) d + 1 is the extent of the dilated kernel.
Expected<Window> resolveWindow(const Node &N, const Shape &InSpatial,
                               const Shape &Kernel, WindowOptions Opts);

/// Advances the row-major multi-index \p Idx over \p Dims; returns false
/// (with \p Idx back at all zeros) after the last index.
inline bool nextIndex(std::vector<int64_t> &Idx, const Shape &Dims) {
  for (size_t D = Dims.size(); D-- > 0;) {
    if (++Idx[D] < Dims[D])
      return true;
    Idx[D] = 0;
  }
  return false;
}

/// Product of Dims[Begin, End).
inline int64_t productOf(const Shape &Dims, size_t Begin, size_t End) {
  int64_t P = 1;
  for (size_t I = Begin; I < End; ++I)
    P *= Dims[I];
  return P;
}

/// Sizes of a convolution, checked: Conv and its backward ops
/// (ConvGradInput, ConvGradWeight) read them from the same attributes.
struct ConvGeometry {
  int64_t Batch = 0;
  int64_t C = 0; ///< input channels
  int64_t M = 0; ///< output channels
  int64_t Group = 1;
  Shape InSpatial;
  Window Win;

  int64_t cPerGroup() const { return C / Group; }
  int64_t mPerGroup() const { return M / Group; }
};

/// A 1x1 kernel with stride 1 and no padding: every output position reads
/// the one input position under it.
bool isPointwise(const ConvGeometry &G);

/// How the messages of convGeometry name the input and weight shapes (an
/// operand of Conv, or an attribute of a backward op).
struct ConvShapeNames {
  std::string_view XLong = "input X";  ///< subject of a sentence
  std::string_view X = "X";            ///< in a phrase
  std::string_view WLong = "weight W"; ///< subject of a sentence
  std::string_view W = "W";            ///< in a phrase
};

/// Checks the Conv attributes of \p N (group, kernel_shape and the window
/// attributes) for input shape \p X and weight shape \p W and computes the
/// geometry.
Expected<ConvGeometry> convGeometry(const Node &N, const Shape &X,
                                    const Shape &W, ConvShapeNames Names = {});

/// Sizes of a numpy-style matrix product (MatMul, QMatMul): the last two
/// dims of each operand are the matrices, the leading dims broadcast; a
/// 1-D A [K] reads as [1, K] and a 1-D B [K] as [K, 1], the added dim
/// dropped from the result.
struct MatMulGeometry {
  Shape ABatch, BBatch; ///< leading (batch) dims of each operand
  Shape Batch;          ///< broadcast batch dims
  int64_t M = 0, N = 0, K = 0;
  Shape Out; ///< result shape (promoted 1-D dims dropped)
};

/// Checks the shapes \p A and \p B of a matrix product.
Expected<MatMulGeometry> matMulGeometry(const Shape &A, const Shape &B);

/// Sizes of a pooling node, checked: AveragePool, MaxPool and their backward
/// ops read them from the same attributes.
/// The matrix product of a Gemm-like node: A' = A^T if transA else A
/// ([M, K]), B' likewise ([K, N]).
struct GemmGeometry {
  int64_t M = 0, N = 0, K = 0;
  bool TransA = false, TransB = false;
};

/// Checks A (input 0), B (input 1), transA and transB of \p N.
Expected<GemmGeometry> gemmGeometry(const Node &N);

struct PoolGeometry {
  int64_t Planes = 0; ///< N * C
  Shape InSpatial;
  Window Win;
};

/// Checks the pooling attributes of \p N for input shape \p X (named
/// \p XName in messages); \p IsMax selects MaxPool's attributes (dilations).
Expected<PoolGeometry> poolGeometry(const Node &N, const Shape &X, bool IsMax,
                                    std::string_view XName = "input X");

/// Calls F(YOff, XOff, WOff) for every multiply-accumulate term of a
/// convolution of geometry \p G restricted to its first \p Channels output
/// channels: the offsets into Y [N, M, out..], X [N, C, in..] and
/// W [M, C/group, kernel..] of each (output position, image, output
/// channel, input channel of its group, kernel tap inside the input), in
/// that loop order. The forward Conv and both of its gradients accumulate
/// over these same terms.
template <class Fn>
void forEachConvTerm(const ConvGeometry &G, int64_t Channels, Fn F) {
  const Window &Win = G.Win;
  size_t R = Win.rank();
  int64_t InSize = productOf(G.InSpatial, 0, R);
  int64_t OutSize = productOf(Win.Out, 0, R);
  int64_t KSize = productOf(Win.Kernel, 0, R);
  int64_t CPerGroup = G.cPerGroup(), MPerGroup = G.mPerGroup();
  std::vector<int64_t> InStrides = stridesOf(G.InSpatial);
  // (offset in the kernel, offset in the input plane) of each tap of the
  // current window that lies inside the input.
  std::vector<std::pair<int64_t, int64_t>> Taps;
  std::vector<int64_t> OutIdx(R, 0);
  std::vector<int64_t> KIdx(R, 0);
  for (int64_t P = 0; P < OutSize; ++P) {
    Taps.clear();
    for (int64_t K = 0; K < KSize; ++K) {
      int64_t Off = 0;
      bool Inside = true;
      for (size_t D = 0; D < R && Inside; ++D) {
        int64_t Pos = OutIdx[D] * Win.Strides[D] - Win.PadBegin[D] +
                      KIdx[D] * Win.Dilations[D];
        Inside = Pos >= 0 && Pos < G.InSpatial[D];
        Off += Pos * InStrides[D];
      }
      if (Inside)
        Taps.emplace_back(K, Off);
      nextIndex(KIdx, Win.Kernel);
    }
    for (int64_t Nb = 0; Nb < G.Batch; ++Nb)
      for (int64_t M = 0; M < Channels; ++M) {
        int64_t Grp = M / MPerGroup;
        int64_t YOff = (Nb * G.M + M) * OutSize + P;
        for (int64_t C = 0; C < CPerGroup; ++C) {
          int64_t XBase = (Nb * G.C + Grp * CPerGroup + C) * InSize;
          int64_t WBase = (M * CPerGroup + C) * KSize;
          for (auto [K, Off] : Taps)
            F(YOff, XBase + Off, WBase + K);
        }
      }
    nextIndex(OutIdx, Win.Out);
  }
}

/// One tap of a pooling window that lies inside the input.
struct PoolTap {
  int64_t Offset; ///< row-major offset in the channel plane
  int64_t Index;  ///< offset in the plane in the Indices storage order
};

/// Calls F(P, Taps, Count) for each output position P of a channel plane,
/// with the taps of its window inside the input in row-major window order
/// and the count_include_pad divisor (the window size clipped to the padded
/// input). \p ColMajor selects the column-major Index of MaxPool's
/// storage_order = 1.
template <class Fn>
void forEachPoolWindow(const PoolGeometry &G, bool ColMajor, Fn F) {
  const Window &Win = G.Win;
  size_t R = Win.rank();
  std::vector<int64_t> RowStrides = stridesOf(G.InSpatial);
  std::vector<int64_t> IdxStrides = RowStrides;
  if (ColMajor)
    for (size_t D = 0; D < R; ++D)
      IdxStrides[D] = productOf(G.InSpatial, 0, D);
  int64_t OutSize = productOf(Win.Out, 0, R);
  int64_t KSize = productOf(Win.Kernel, 0, R);
  std::vector<PoolTap> Taps;
  std::vector<int64_t> OutIdx(R, 0);
  std::vector<int64_t> KIdx(R, 0);
  for (int64_t P = 0; P < OutSize; ++P) {
    int64_t Count = 1;
    for (size_t D = 0; D < R; ++D) {
      int64_t Start = OutIdx[D] * Win.Strides[D] - Win.PadBegin[D];
      int64_t End =
          std::min(Start + Win.extent(D), G.InSpatial[D] + Win.PadEnd[D]);
      Count *= End - Start;
    }
    Taps.clear();
    for (int64_t K = 0; K < KSize; ++K) {
      PoolTap T = {0, 0};
      bool Inside = true;
      for (size_t D = 0; D < R && Inside; ++D) {
        int64_t Pos = OutIdx[D] * Win.Strides[D] - Win.PadBegin[D] +
                      KIdx[D] * Win.Dilations[D];
        Inside = Pos >= 0 && Pos < G.InSpatial[D];
        T.Offset += Pos * RowStrides[D];
        T.Index += Pos * IdxStrides[D];
      }
      if (Inside)
        Taps.push_back(T);
      nextIndex(KIdx, Win.Kernel);
    }
    F(P, Taps, Count);
    nextIndex(OutIdx, Win.Out);
  }
}

/// The operand checks of SoftmaxCrossEntropyLoss and its backward op: the
/// reduction attribute, scores (input \p Scores) [N, C] or [N, C, d1..],
/// integer labels (input Scores + 1) [N, d1..] and optional float weights
/// (input Scores + 2) [C]. Returns the shape of the unreduced loss.
Expected<Shape> checkSoftmaxCrossEntropyOperands(const Node &N, size_t Scores);

/// The activation the fuse pass folds into a Conv or Gemm: attribute
/// `activation` = "Relu" (max(y, 0)), "Clip" (bounds in activation_min /
/// activation_max, each optional, as Clip's min / max) or "HardSwish" (y
/// clamp(y / 6 + 1/2, 0, 1), in the element type as HardSwish computes it).
/// Relu and Clip are a clamp of the result, taken as Clip's kernel takes
/// it: below Min gives Min, else above Max gives Max. No attribute: no
/// activation.
struct FusedActivation {
  bool HasMin = false, HasMax = false;
  bool HardSwish = false;
  double Min = 0, Max = 0;

  bool any() const { return HasMin || HasMax || HardSwish; }
  /// The clamp (Relu and Clip only).
  double apply(double V) const {
    if (HasMin && V < Min)
      return Min;
    if (HasMax && V > Max)
      return Max;
    return V;
  }
};

/// Reads and checks the fused activation of \p N.
Expected<FusedActivation> fusedActivation(const Node &N);

/// Clamps every element of the float tensor \p Y (interpreter kernels).
void applyFusedActivation(const FusedActivation &A, Tensor &Y);

/// The attributes of a fused activation, for an op's attribute schema.
inline constexpr AttrSpec FusedActivationAttrs[] = {
    {"activation", AttrKind::String},
    {"activation_min", AttrKind::Float},
    {"activation_max", AttrKind::Float},
};

/// Requires the present inputs among \p Indices to be float tensors (f32 or
/// f64) of one element type.
Status requireFloatOperands(const Node &N,
                            std::initializer_list<size_t> Indices);

} // namespace mote

#endif // MOTE_COMPILER_OPS_NN_NNUTILS_H
