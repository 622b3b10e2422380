//===- loss.h - Softmax cross-entropy loss and its gradient ----*- C++ -*-===//
//
// SoftmaxCrossEntropyLoss over scores [N, C, d1..] (viewed as [Batch,
// Classes, Inner] with Inner = d1 * ..) and integer labels [N, d1..]
// (int32_t or int64_t, the kernels' L). With log_prob the log-softmax of the
// scores along the class dim and, for each position i = (n, d) with label
// l_i:
//
//   w_i    = 0 if l_i == ignore_index, else (weights[l_i] or 1)
//   loss_i = -w_i * log_prob[n, l_i, d]
//   none: loss_i per position; sum: sum_i loss_i; mean: sum_i loss_i / sum_i
//   w_i
//
// and its gradient with respect to the scores, with p = softmax(scores):
//
//   dScores[n, c, d] = k_i (p[n, c, d] - [c == l_i])
//   k_i = dLoss_i w_i (none), dLoss w_i (sum), dLoss w_i / sum_i w_i (mean)
//
// The interpreter rejects, at run time, a label outside [0, C) that is not
// ignore_index. A kernel cannot fail, so such a position is treated as
// ignored (weight 0: no loss, zero gradient). Mean over positions that are
// all ignored is 0 / 0 = NaN, its gradient 0, as in the interpreter.
// Weights is nullptr when the op has no class weights. The kernels compute
// in T (the interpreter in double).
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_LOSS_H
#define MOTE_RT_LOSS_H

#include "mote_rt/core.h"
#include "mote_rt/math.h"
#include "mote_rt/softmax.h"

namespace mote_rt {

/// Reductions, as SoftmaxCrossEntropyP::Reduction.
enum : int32_t { ReduceNone = 0, ReduceSum = 1, ReduceMean = 2 };

namespace loss_detail {
/// Weight of the position with label \p L (0 if ignored or out of range).
template <class T, class L>
MOTE_RT_INLINE T crossEntropyWeight(const SoftmaxCrossEntropyP &P,
                                    const T *Weights, L Label) {
  if (P.HasIgnore && Label == L(P.IgnoreIndex))
    return T(0);
  if (Label < 0 || Label >= L(P.Classes))
    return T(0);
  return Weights ? Weights[int32_t(Label)] : T(1);
}

/// Max and log(sum e^(x - max)) of the \p N scores X[0], X[S], ...
template <class T>
MOTE_RT_INLINE void logSumExp(const T *X, int32_t N, int32_t S, T &Max,
                              T &LogSum) {
  Max = softmax_detail::maxOf(X, N, S);
  T Sum = T(0);
  for (int32_t C = 0; C < N; ++C)
    Sum += mote_rt::exp(X[C * S] - Max);
  LogSum = mote_rt::log(Sum);
}
} // namespace loss_detail

/// Loss has the labels' shape (none) or one element (sum, mean). LogProb,
/// the optional second result (nullptr if the node has none), has the
/// scores' shape. Operands: scores, labels, weights (or nullptr), loss,
/// log_prob.
template <class T, class L>
MOTE_RT_KERNEL void softmax_cross_entropy(const SoftmaxCrossEntropyP &P,
                                          const T *X, const L *Labels,
                                          const T *Weights, T *Loss,
                                          T *LogProb = nullptr) {
  const int32_t C = P.Classes, D = P.Inner;
  T LossSum = T(0), WeightSum = T(0);
  for (int32_t N = 0; N < P.Batch; ++N) {
    for (int32_t Dd = 0; Dd < D; ++Dd) {
      const int32_t I = N * D + Dd;
      const int32_t Base = N * C * D + Dd;
      const L Label = Labels[I];
      const T W = loss_detail::crossEntropyWeight(P, Weights, Label);
      T Li = T(0);
      if (W != T(0) || LogProb) {
        T Max, LogSum;
        loss_detail::logSumExp(X + Base, C, D, Max, LogSum);
        if (LogProb)
          for (int32_t Cl = 0; Cl < C; ++Cl)
            LogProb[Base + Cl * D] = (X[Base + Cl * D] - Max) - LogSum;
        if (W != T(0))
          Li = -W * ((X[Base + int32_t(Label) * D] - Max) - LogSum);
      }
      if (P.Reduction == ReduceNone)
        Loss[I] = Li;
      LossSum += Li;
      WeightSum += W;
    }
  }
  if (P.Reduction == ReduceSum)
    Loss[0] = LossSum;
  else if (P.Reduction == ReduceMean)
    Loss[0] = LossSum / WeightSum;
}

/// dScores from dLoss (labels' shape for none, one element otherwise).
/// Operands: dLoss, scores, labels, weights (or nullptr), dScores.
template <class T, class L>
MOTE_RT_KERNEL void softmax_cross_entropy_grad(const SoftmaxCrossEntropyP &P,
                                               const T *DLoss, const T *X,
                                               const L *Labels,
                                               const T *Weights, T *DX) {
  const int32_t C = P.Classes, D = P.Inner;
  T WeightSum = T(0);
  if (P.Reduction == ReduceMean)
    for (int32_t I = 0; I < P.Batch * D; ++I)
      WeightSum += loss_detail::crossEntropyWeight(P, Weights, Labels[I]);
  for (int32_t N = 0; N < P.Batch; ++N) {
    for (int32_t Dd = 0; Dd < D; ++Dd) {
      const int32_t I = N * D + Dd;
      const int32_t Base = N * C * D + Dd;
      const L Label = Labels[I];
      const T W = loss_detail::crossEntropyWeight(P, Weights, Label);
      T K = T(0);
      if (W != T(0)) {
        if (P.Reduction == ReduceNone)
          K = DLoss[I] * W;
        else if (P.Reduction == ReduceSum)
          K = DLoss[0] * W;
        else
          K = DLoss[0] * W / WeightSum;
      }
      T *Out = DX + Base;
      if (K == T(0)) {
        for (int32_t Cl = 0; Cl < C; ++Cl)
          Out[Cl * D] = T(0);
        continue;
      }
      const T *XV = X + Base;
      T Max = softmax_detail::maxOf(XV, C, D);
      T Sum = T(0);
      for (int32_t Cl = 0; Cl < C; ++Cl) {
        T E = mote_rt::exp(XV[Cl * D] - Max);
        Out[Cl * D] = E;
        Sum += E;
      }
      for (int32_t Cl = 0; Cl < C; ++Cl)
        Out[Cl * D] =
            K * (Out[Cl * D] / Sum - (Cl == int32_t(Label) ? T(1) : T(0)));
    }
  }
}

} // namespace mote_rt

#endif // MOTE_RT_LOSS_H
