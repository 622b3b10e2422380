//===- Binary.cpp - Elementwise binary ops with broadcasting --------------===//
//
// Add, Sub, Mul, Div, Pow with numpy broadcasting (ONNX opsets 7+).
// The result has the broadcast shape and the element type of input 0.
// Integer Div truncates toward zero; division of integers by zero is an
// error of the kernel, not undefined behaviour.
//
//===----------------------------------------------------------------------===//

#include "compiler/GradContext.h"
#include "compiler/ops/OpUtils.h"

#include <cmath>

namespace mote {
namespace {

Expected<std::vector<TensorType>> inferBroadcast(const Node &N) {
  if (N.op() != OpKind::Pow) {
    Status S = requireSameDType(N);
    if (!S)
      return S.takeError();
  }
  if (N.inType(0).Elem == DType::Bool)
    return opError("bool inputs are not supported; insert a Cast");
  std::optional<Shape> Out = broadcastShapes(N.inType(0).Dims, N.inType(1).Dims);
  if (!Out)
    return opError(fmt::format("shapes {} and {} cannot be broadcast",
                               shapeStr(N.inType(0).Dims),
                               shapeStr(N.inType(1).Dims)));
  return std::vector<TensorType>{TensorType(N.inType(0).Elem, *Out)};
}

/// Applies \p F elementwise with broadcasting, computing in type E (the
/// element type of A and the result) and reading B as type EB.
template <class E, class EB, class Fn>
Status broadcastApply(const Tensor &A, const Tensor &B, Tensor &Out, Fn F) {
  const Shape &OS = Out.shape();
  std::vector<int64_t> SA = broadcastStrides(A.shape(), OS);
  std::vector<int64_t> SB = broadcastStrides(B.shape(), OS);
  auto PA = A.data<E>();
  auto PB = B.data<EB>();
  auto PO = Out.data<E>();
  int64_t N = Out.numElements();
  bool Same = A.shape() == OS && B.shape() == OS;
  for (int64_t I = 0; I < N; ++I) {
    int64_t OA = Same ? I : offsetFor(I, OS, SA);
    int64_t OB = Same ? I : offsetFor(I, OS, SB);
    PO[size_t(I)] = F(PA[size_t(OA)], PB[size_t(OB)]);
  }
  return ok();
}

template <class Op>
Status arithKernel(const Node &, std::span<const Tensor *const> In,
                   std::span<Tensor> Out) {
  return dispatchDType(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    if constexpr (std::is_same_v<E, bool>) {
      return opError("bool inputs are not supported");
    } else {
      return broadcastApply<E, E>(*In[0], *In[1], Out[0], Op::template apply<E>);
    }
  });
}

struct AddOp {
  template <class E> static E apply(E A, E B) { return E(A + B); }
};
struct SubOp {
  template <class E> static E apply(E A, E B) { return E(A - B); }
};
struct MulOp {
  template <class E> static E apply(E A, E B) { return E(A * B); }
};

Status divKernel(const Node &, std::span<const Tensor *const> In,
                 std::span<Tensor> Out) {
  return dispatchDType(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    if constexpr (std::is_same_v<E, bool>) {
      return opError("bool inputs are not supported");
    } else if constexpr (std::is_floating_point_v<E>) {
      return broadcastApply<E, E>(*In[0], *In[1], Out[0],
                                  [](E A, E B) { return A / B; });
    } else {
      // Check for zero divisors first so the kernel never divides by zero.
      for (E B : In[1]->data<E>())
        if (B == 0)
          return opError("integer division by zero");
      return broadcastApply<E, E>(*In[0], *In[1], Out[0], [](E A, E B) {
        if (std::is_signed_v<E> && B == E(-1))
          return E(-A);
        return E(A / B);
      });
    }
  });
}

Status powKernel(const Node &, std::span<const Tensor *const> In,
                 std::span<Tensor> Out) {
  return dispatchDType(In[0]->dtype(), [&](auto Tag) -> Status {
    using E = decltype(Tag);
    if constexpr (std::is_same_v<E, bool>) {
      return opError("bool inputs are not supported");
    } else {
      return dispatchDType(In[1]->dtype(), [&](auto TagB) -> Status {
        using EB = decltype(TagB);
        return broadcastApply<E, EB>(*In[0], *In[1], Out[0], [](E A, EB B) {
          double R = std::pow(double(A), double(B));
          if constexpr (std::is_integral_v<E>) {
            if (!std::isfinite(R) || R > 9.2e18 || R < -9.2e18)
              return E(0);
          }
          return E(R);
        });
      });
    }
  });
}

//===----------------------------------------------------------------------===//
// Gradient rules. Broadcasting is undone by summing each operand's gradient
// back to the operand's shape (GradContext::sumToShape).
//===----------------------------------------------------------------------===//

/// Adds sumToShape(G) as the gradient of input \p I (if it needs one).
Status addReduced(GradContext &Ctx, const Node &N, size_t I,
                  Expected<Value *> G) {
  if (!G)
    return G.takeError();
  Expected<Value *> R = Ctx.sumToShape(*G, N.inType(I).Dims);
  return R ? Ctx.addInputGrad(I, *R) : R.takeError();
}

// d(a + b) = da + db
Status gradAdd(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY)
    return ok();
  for (size_t I = 0; I < 2; ++I)
    if (Ctx.needsGrad(I))
      if (Status S = addReduced(Ctx, N, I, DY); !S)
        return S;
  return ok();
}

// d(a - b) = da - db
Status gradSub(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY)
    return ok();
  if (Ctx.needsGrad(0))
    if (Status S = addReduced(Ctx, N, 0, DY); !S)
      return S;
  if (Ctx.needsGrad(1))
    return addReduced(Ctx, N, 1, Ctx.emit1(OpKind::Neg, {DY}));
  return ok();
}

// d(a b) = b da + a db
Status gradMul(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY)
    return ok();
  for (size_t I = 0; I < 2; ++I)
    if (Ctx.needsGrad(I))
      if (Status S = addReduced(Ctx, N, I,
                                Ctx.emit1(OpKind::Mul, {DY, N.input(1 - I)}));
          !S)
        return S;
  return ok();
}

// d(a / b) = da / b - (a / b^2) db = da / b - (y / b) db
Status gradDiv(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY)
    return ok();
  if (Ctx.needsGrad(0))
    if (Status S = addReduced(Ctx, N, 0,
                              Ctx.emit1(OpKind::Div, {DY, N.input(1)}));
        !S)
      return S;
  if (!Ctx.needsGrad(1))
    return ok();
  Expected<Value *> YB = Ctx.emit1(OpKind::Div, {N.output(0), N.input(1)});
  if (!YB)
    return YB.takeError();
  Expected<Value *> P = Ctx.emit1(OpKind::Mul, {DY, *YB});
  if (!P)
    return P.takeError();
  return addReduced(Ctx, N, 1, Ctx.emit1(OpKind::Neg, {*P}));
}

// d(a^b) = b a^(b-1) da + a^b ln(a) db
Status gradPow(GradContext &Ctx, const Node &N) {
  Value *DY = Ctx.outputGrad(0);
  if (!DY)
    return ok();
  Value *A = N.input(0), *B = N.input(1);
  if (Ctx.needsGrad(0)) {
    Value *BF = B;
    if (B->type().Elem != A->type().Elem) {
      // An integer exponent must be a constant; read it as A's type.
      if (!B->hasData())
        return opError("the exponent has another element type than the base "
                       "and is not a constant; insert a Cast");
      Tensor T(TensorType(A->type().Elem, B->type().Dims));
      for (int64_t I = 0; I < T.numElements(); ++I)
        T.setFromDouble(I, B->data()->getAsDouble(I));
      BF = Ctx.constant(std::move(T), "exponent");
    }
    Expected<Value *> BM1 =
        Ctx.emit1(OpKind::Sub, {BF, scalarLike(Ctx, BF, 1.0)});
    if (!BM1)
      return BM1.takeError();
    Expected<Value *> P = Ctx.emit1(OpKind::Pow, {A, *BM1});
    if (!P)
      return P.takeError();
    Expected<Value *> Q = Ctx.emit1(OpKind::Mul, {*P, BF});
    if (!Q)
      return Q.takeError();
    if (Status S = addReduced(Ctx, N, 0, Ctx.emit1(OpKind::Mul, {DY, *Q})); !S)
      return S;
  }
  if (Ctx.needsGrad(1)) {
    Expected<Value *> L = Ctx.emit1(OpKind::Log, {A});
    if (!L)
      return L.takeError();
    Expected<Value *> P = Ctx.emit1(OpKind::Mul, {N.output(0), *L});
    if (!P)
      return P.takeError();
    return addReduced(Ctx, N, 1, Ctx.emit1(OpKind::Mul, {DY, *P}));
  }
  return ok();
}

//===----------------------------------------------------------------------===//
// Lowering: mote_rt::add<T>(BroadcastP, a, b, y) etc. (elementwise.h).
//===----------------------------------------------------------------------===//

template <const char *Kernel>
Status lowerBinary(const Node &N, KernelCall &C) {
  C.Header = "mote_rt/elementwise.h";
  C.Kernel = Kernel;
  C.TypeArgs = {N.inType(0).Elem};
  if (N.op() == OpKind::Pow)
    C.TypeArgs.push_back(N.inType(1).Elem);
  return lowerBroadcast(N, C);
}

constexpr char AddName[] = "add", SubName[] = "sub", MulName[] = "mul",
               DivName[] = "div", PowName[] = "pow";

} // namespace

#define MOTE_BINARY(NAME, KERNEL, SUMMARY, KNAME)                                     \
  extern const OpDef OpDef_##NAME = {                                          \
      .Name = #NAME,                                                           \
      .MinInputs = 2,                                                          \
      .MaxInputs = 2,                                                          \
      .MinOutputs = 1,                                                         \
      .MaxOutputs = 1,                                                         \
      .Attrs = {},                                                             \
      .Infer = inferBroadcast,                                                 \
      .Kernel = KERNEL,                                                        \
      .Macs = nullptr,                                                         \
      .Grad = grad##NAME,                                                      \
      .Flags = OpFlagElementwise | OpFlagInPlace,                              \
      .Summary = SUMMARY,                                                      \
      .Lower = lowerBinary<KNAME>,                                             \
  };

MOTE_BINARY(Add, arithKernel<AddOp>, "A + B, broadcast", AddName)
MOTE_BINARY(Sub, arithKernel<SubOp>, "A - B, broadcast", SubName)
MOTE_BINARY(Mul, arithKernel<MulOp>, "A * B, broadcast", MulName)
MOTE_BINARY(Div, divKernel, "A / B, broadcast (integers truncate)", DivName)
MOTE_BINARY(Pow, powKernel, "A ^ B, broadcast", PowName)

#undef MOTE_BINARY

} // namespace mote
