//===- tensor.h - Data movement kernels ------------------------*- C++ -*-===//
//
// Kernels that move elements without arithmetic, for every element type:
//
//   reshape       Reshape, Flatten, Squeeze, Unsqueeze, eval-mode Dropout
//                 (row-major order is unchanged, so the data is copied as is;
//                 a code generator may alias the buffers instead)
//   strided_copy  Expand, Transpose, Slice: the result read from the input
//                 through per-dim strides (0 to broadcast, negative to walk
//                 backwards) from a base offset
//   insert_rows   InsertRows: a band of rows written into a tensor
//   concat        Concat: the inputs one after another along an axis
//   pad           Pad: constant, edge or reflect padding (and cropping)
//   gather        Gather: slices along an axis picked by an index tensor
//
// The lowerings (compiler/ops/tensor/) do all shape arithmetic: they pass
// strides, offsets and row lengths, drop dims of size 1 and merge dims that
// are contiguous in both tensors, so the kernels only walk memory.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_TENSOR_H
#define MOTE_RT_TENSOR_H

#include "mote_rt/core.h"

namespace mote_rt {

//===----------------------------------------------------------------------===//
// reshape
//===----------------------------------------------------------------------===//

/// Y[i] = X[i] for i < N: any op that keeps the row-major element order.
template <class T>
MOTE_RT_KERNEL void reshape(const ReshapeP &P, const T *X, T *Y) {
  copy(X, Y, P.N);
}

/// Eval-mode Dropout with its mask result: Y = X, Mask all true.
template <class T>
MOTE_RT_KERNEL void dropout_eval(const ReshapeP &P, const T *X, T *Y,
                                 bool *Mask) {
  copy(X, Y, P.N);
  fill(Mask, true, P.N);
}

//===----------------------------------------------------------------------===//
// strided_copy
//===----------------------------------------------------------------------===//

/// Expand (stride 0 along broadcast dims), Transpose (the input stride of
/// the permuted dim) and Slice (step times the input stride, from the
/// offset of the first element read).
template <class T>
MOTE_RT_KERNEL void strided_copy(const StridedP &P, const T *X, T *Y) {
  const int32_t Last = P.Rank - 1;
  const int32_t Len = P.Dims[Last];
  const int32_t S = P.Strides[Last];
  const int32_t Rows = product(P.Dims, Last);
  if (Len == 0 || Rows == 0)
    return;
  int32_t Idx[MaxRank] = {0, 0, 0, 0, 0, 0};
  int32_t Off = P.Base;
  for (int32_t R = 0; R < Rows; ++R) {
    const T *Src = X + Off;
    T *Dst = Y + R * Len;
    if (S == 1) {
      for (int32_t J = 0; J < Len; ++J)
        Dst[J] = Src[J];
    } else {
      for (int32_t J = 0; J < Len; ++J)
        Dst[J] = Src[J * S];
    }
    // Next row: advance the multi-index of the outer dims.
    for (int32_t K = Last - 1; K >= 0; --K) {
      Off += P.Strides[K];
      if (++Idx[K] < P.Dims[K])
        break;
      Off -= P.Strides[K] * P.Dims[K];
      Idx[K] = 0;
    }
  }
}

//===----------------------------------------------------------------------===//
// insert_rows
//===----------------------------------------------------------------------===//

/// InsertRows: Y as [Outer, Rows, Inner] is Dst with rows Start ..
/// Start + BandRows - 1 of each outer slice taken from Band ([Outer,
/// BandRows, Inner]). Dst is copied first unless it is Y (in place) or
/// null (the rows outside the band are then left as they are).
template <class T>
MOTE_RT_KERNEL void insert_rows(const InsertRowsP &P, const T *Band,
                                const T *Dst, T *Y) {
  const int32_t Plane = P.Rows * P.Inner, Run = P.BandRows * P.Inner;
  if (Dst && Dst != Y)
    copy(Dst, Y, P.Outer * Plane);
  for (int32_t O = 0; O < P.Outer; ++O)
    copy(Band + O * Run, Y + O * Plane + P.Start * P.Inner, Run);
}

//===----------------------------------------------------------------------===//
// concat
//===----------------------------------------------------------------------===//

namespace tensor_detail {

/// Copies every row of \p X (rows of \p Row elements) to column \p Col of
/// the result rows, then moves \p Col past it.
template <class T>
MOTE_RT_INLINE void concatOne(const ConcatP &P, T *Y, const T *X, int32_t Row,
                              int32_t &Col) {
  for (int32_t O = 0; O < P.Outer; ++O)
    copy(X + O * Row, Y + O * P.OutRow + Col, Row);
  Col += Row;
}

template <class A, class B> struct IsSame {
  static constexpr bool Value = false;
};
template <class A> struct IsSame<A, A> { static constexpr bool Value = true; };
} // namespace tensor_detail

/// The calling convention differs from the default because Concat takes any
/// number of inputs: the lowering lists the result FIRST, then every input
/// in order, and the kernel is a variadic template over the input pointers:
///
///   mote_rt::concat<float>(P, y, x0, x1, x2);
///
/// At most MaxConcatInputs inputs (ConcatP::Rows holds their row lengths).
template <class T, class... In>
MOTE_RT_KERNEL void concat(const ConcatP &P, T *Y, const In *...Xs) {
  static_assert(sizeof...(In) >= 1 && sizeof...(In) <= MaxConcatInputs,
                "concat takes 1 to MaxConcatInputs inputs");
  static_assert((tensor_detail::IsSame<In, T>::Value && ...),
                "every concat input has the result's element type");
  int32_t I = 0, Col = 0;
  (tensor_detail::concatOne<T>(P, Y, Xs, P.Rows[I++], Col),
   ...);
}

//===----------------------------------------------------------------------===//
// pad
//===----------------------------------------------------------------------===//

/// Pad modes, as PadP::Mode.
enum : int32_t { PadConstant = 0, PadEdge = 1, PadReflect = 2 };

namespace tensor_detail {
/// Index in [0, Kept) that position \p J (relative to the first kept
/// element) copies, or -1 for the constant. Outer dims only: once per row.
MOTE_RT_INLINE int32_t padSource(int32_t J, int32_t Kept, int32_t Mode) {
  if (J >= 0 && J < Kept)
    return J;
  if (Mode == PadConstant)
    return -1;
  if (Mode == PadEdge)
    return J < 0 ? 0 : Kept - 1;
  if (Kept == 1)
    return 0;
  // Reflection has period 2 (Kept - 1): 0 1 .. Kept-1 Kept-2 .. 1 | 0 ...
  int32_t Period = 2 * (Kept - 1);
  int32_t M = J % Period;
  if (M < 0)
    M += Period;
  return M < Kept ? M : Period - M;
}

/// Walks the reflect indices outward from an edge without division:
/// bounces between 0 and Kept - 1.
struct ReflectWalk {
  int32_t Pos, Dir, Last;
  MOTE_RT_INLINE int32_t next() {
    int32_t R = Pos;
    if (Last == 0)
      return 0;
    Pos += Dir;
    if (Pos > Last) {
      Pos = Last - 1;
      Dir = -1;
    } else if (Pos < 0) {
      Pos = 1;
      Dir = 1;
    }
    return R;
  }
};

/// Writes the \p N padding elements of a row outward from an edge:
/// Dst[First], Dst[First + Step], ... (Step -1 walks left from the left
/// neighbour of the first kept element, +1 right from the right neighbour
/// of the last). \p Src is the first kept element, \p S the input stride
/// along the row.
template <class T>
MOTE_RT_INLINE void padEdge(const PadP &P, T Fill, const T *Src, int32_t S,
                            int32_t Kept, T *Dst, int32_t First, int32_t N,
                            int32_t Step) {
  if (P.Mode == PadConstant || Kept == 0) {
    for (int32_t J = 0; J < N; ++J)
      Dst[First + J * Step] = Fill;
    return;
  }
  if (P.Mode == PadEdge) {
    T V = Src[(Step < 0 ? 0 : Kept - 1) * S];
    for (int32_t J = 0; J < N; ++J)
      Dst[First + J * Step] = V;
    return;
  }
  ReflectWalk W = Step < 0 ? ReflectWalk{1, 1, Kept - 1}
                           : ReflectWalk{Kept - 2, -1, Kept - 1};
  for (int32_t J = 0; J < N; ++J)
    Dst[First + J * Step] = Src[W.next() * S];
}
} // namespace tensor_detail

template <class T> MOTE_RT_KERNEL void pad(const PadP &P, const T *X, T *Y) {
  const int32_t Last = P.Rank - 1;
  const int32_t Len = P.Dims[Last];
  const int32_t Rows = product(P.Dims, Last);
  if (Len == 0 || Rows == 0)
    return;
  T Fill;
  if constexpr (T(0.5) == T(0)) // integer
    Fill = T(P.IntValue);
  else
    Fill = T(P.Value);
  const int32_t Kept = P.Kept[Last], Before = P.Before[Last];
  const int32_t After = Len - Before - Kept, S = P.Strides[Last];
  int32_t Idx[MaxRank] = {0, 0, 0, 0, 0, 0};
  for (int32_t R = 0; R < Rows; ++R) {
    T *Dst = Y + R * Len;
    // The input row this result row copies, if any.
    int32_t Off = P.Base;
    bool IsFill = false;
    for (int32_t D = 0; D < Last && !IsFill; ++D) {
      int32_t K =
          tensor_detail::padSource(Idx[D] - P.Before[D], P.Kept[D], P.Mode);
      if (K < 0)
        IsFill = true;
      else
        Off += K * P.Strides[D];
    }
    if (IsFill) {
      fill(Dst, Fill, Len);
    } else {
      const T *Src = X + Off;
      for (int32_t J = 0; J < Kept; ++J)
        Dst[Before + J] = Src[J * S];
      tensor_detail::padEdge(P, Fill, Src, S, Kept, Dst, Before - 1, Before,
                             -1);
      tensor_detail::padEdge(P, Fill, Src, S, Kept, Dst, Before + Kept, After,
                             1);
    }
    for (int32_t K = Last - 1; K >= 0; --K) {
      if (++Idx[K] < P.Dims[K])
        break;
      Idx[K] = 0;
    }
  }
}

//===----------------------------------------------------------------------===//
// gather
//===----------------------------------------------------------------------===//

/// y[o, k, i] = x[o, idx[k], i]; a negative index counts from the end of
/// the axis (idx + Dim). The interpreter rejects an index outside
/// [-Dim, Dim) at run time; a kernel cannot fail, so such an index yields a
/// slice of zeros (the lowering rejects it at compile time when the indices
/// are a constant). I is int32_t or int64_t.
template <class T, class I>
MOTE_RT_KERNEL void gather(const GatherP &P, const T *X, const I *Indices,
                           T *Y) {
  for (int32_t O = 0; O < P.Outer; ++O) {
    const T *Src = X + O * P.Dim * P.Inner;
    T *Dst = Y + O * P.Count * P.Inner;
    for (int32_t K = 0; K < P.Count; ++K, Dst += P.Inner) {
      I Idx = Indices[K];
      if (Idx < 0)
        Idx += I(P.Dim);
      if (Idx < 0 || Idx >= I(P.Dim))
        fill(Dst, T(0), P.Inner);
      else
        copy(Src + int32_t(Idx) * P.Inner, Dst, P.Inner);
    }
  }
}

} // namespace mote_rt

#endif // MOTE_RT_TENSOR_H
