//===- KernelLibrary.cpp - runtime-stub kernels behind one C signature ----===//
//
// Compiled by clang-19 to bitcode once per target at build time (see
// codegen/llvm/CMakeLists.txt), never by the host compiler. For every
// instance of Kernels.def it defines
//
//   extern "C" void mote_k_<kernel>_<t1>[_<t2>[_<t3>]](const void *params,
//                                              void *const *operands);
//
// which unpacks the parameter struct and the operand pointers and calls the
// runtime-stub kernel (always inlined into it), and
//
//   extern "C" const int32_t mote_m_<kernel>_<t1>[_<t2>][2];
//
// holding the number of operand pointers the kernel takes and the size of
// its parameter struct, which the LLVM emitter checks its calls against.
// The kernel bodies are runtime-stub's; nothing here computes.
//
//===----------------------------------------------------------------------===//

#include "mote_rt/activation_grad.h"
#include "mote_rt/conv.h"
#include "mote_rt/conv_grad.h"
#include "mote_rt/core.h"
#include "mote_rt/elementwise.h"
#include "mote_rt/fused.h"
#include "mote_rt/gemm.h"
#include "mote_rt/loss.h"
#include "mote_rt/norm.h"
#include "mote_rt/optim.h"
#include "mote_rt/pool.h"
#include "mote_rt/qlinear.h"
#include "mote_rt/qpool.h"
#include "mote_rt/quant.h"
#include "mote_rt/reduce.h"
#include "mote_rt/softmax.h"
#include "mote_rt/tensor.h"
#include "mote_rt/unary.h"

namespace mote_lib {

// The library is freestanding: no <utility>, so its own index sequence.
template <unsigned... I> struct Seq {};
template <class T, T... I> struct SeqOf {
  using Type = Seq<I...>;
};
template <unsigned N>
using MakeSeq = typename __make_integer_seq<SeqOf, unsigned, N>::Type;

template <class T> struct Strip {
  using Type = T;
};
template <class T> struct Strip<const T &> {
  using Type = T;
};

/// Entry<F> calls F(params, operands[0], ..., operands[N-1]) for a kernel
/// F(const P &, Ptr0, ..., PtrN-1) whose parameter list it deduces.
template <auto F> struct Entry;
template <class P, class... Ops, void (*F)(const P &, Ops...)>
struct Entry<F> {
  static constexpr int32_t Arity = int32_t(sizeof...(Ops));
  static constexpr int32_t ParamBytes = int32_t(sizeof(P));

  template <unsigned... I>
  static __attribute__((always_inline)) void
  call(const void *Params, void *const *Operands, Seq<I...>) {
    F(*static_cast<const P *>(Params), static_cast<Ops>(Operands[I])...);
  }
  static __attribute__((always_inline)) void call(const void *Params,
                                                  void *const *Operands) {
    call(Params, Operands, MakeSeq<sizeof...(Ops)>{});
  }
};

template <class T, unsigned> using Same = T;

/// The variadic kernel (concat) at its largest arity; the emitter passes
/// nullptr for the inputs a node does not have (their row length is 0).
template <class T, unsigned... I>
constexpr auto variadicConcat(Seq<I...>) {
  return &mote_rt::concat<T, Same<T, I>...>;
}

} // namespace mote_lib

#define MOTE_T_f32 float
#define MOTE_T_f64 double
#define MOTE_T_i8 int8_t
#define MOTE_T_u8 uint8_t
#define MOTE_T_i32 int32_t
#define MOTE_T_i64 int64_t
#define MOTE_T_b8 bool

#define MOTE_DEFINE_ENTRY(NAME, FN)                                            \
  extern "C" void mote_k_##NAME(const void *Params, void *const *Operands) {   \
    mote_lib::Entry<FN>::call(Params, Operands);                               \
  }                                                                            \
  extern "C" const int32_t mote_m_##NAME[2] = {mote_lib::Entry<FN>::Arity,     \
                                               mote_lib::Entry<FN>::ParamBytes};

#define MOTE_KERNEL1(K, A) MOTE_DEFINE_ENTRY(K##_##A, &mote_rt::K<MOTE_T_##A>)
#define MOTE_KERNEL2(K, A, B)                                                  \
  MOTE_DEFINE_ENTRY(K##_##A##_##B, (&mote_rt::K<MOTE_T_##A, MOTE_T_##B>))
#define MOTE_KERNEL3(K, A, B, C)                                               \
  MOTE_DEFINE_ENTRY(K##_##A##_##B##_##C,                                       \
                    (&mote_rt::K<MOTE_T_##A, MOTE_T_##B, MOTE_T_##C>))
#define MOTE_VARIADIC1(K, A)                                                   \
  MOTE_DEFINE_ENTRY(K##_##A,                                                   \
                    (mote_lib::variadicConcat<MOTE_T_##A>(                     \
                        mote_lib::MakeSeq<mote_rt::MaxConcatInputs>{})))

#include "codegen/llvm/Kernels.def"
