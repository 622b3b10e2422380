//===- KernelCall.h - An op's lowering to a runtime-stub kernel -*- C++ -*-===//
//
// Every op lowers to one call of a runtime-stub kernel (runtime-stub/mote_rt/).
// The lowering hook of an op (OpDef::Lower) fills a KernelCall: which header,
// which kernel, its element-type template arguments and the fields of its
// parameter struct. The code generators turn it into code:
//
//   mote_rt::conv<float>(P, in0, in1, in2, out0);   // P: a constant ConvP
//
// Calling convention of every kernel (the contract between lowerings, the
// emitters and the kernels):
//   - the parameter struct first (if the kernel has one), passed as
//     `const P &`; P is declared in runtime-stub/mote_rt/params.def and
//     filled through its writer (KernelParams.h);
//   - then one pointer per input slot of the op (up to its maximum arity,
//     `const T *`, nullptr for an absent optional input, also a trailing
//     one), then one per result the node has (`T *`; kernels give optional
//     trailing results a nullptr default), unless the lowering lists its
//     own operand order in Operands;
//   - a lowering runs on a verified node (its type rule has passed), so it
//     need not check again what the type rule checks;
//   - kernels never allocate, never fail (the verifier and the lowering
//     reject what they cannot do) and may not read an output before they
//     write it unless the lowering says so.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_COMPILER_KERNELCALL_H
#define MOTE_COMPILER_KERNELCALL_H

#include "compiler/DType.h"
#include "compiler/KernelParams.h"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mote {

/// The rank limit of runtime-stub kernels (mote_rt::MaxRank).
inline constexpr int KernelMaxRank = kparams::MaxRank;

/// An operand of a kernel call: input or result \p Index of the node.
struct KernelOperand {
  bool IsResult = false;
  int Index = 0;
};

struct KernelCall {
  /// Header under runtime-stub, e.g. "mote_rt/conv.h".
  std::string_view Header;
  /// Kernel function name in namespace mote_rt, e.g. "conv".
  std::string Kernel;
  /// Element-type template arguments, e.g. {F32} -> conv<float>.
  std::vector<DType> TypeArgs;
  /// The parameter struct (empty: the kernel takes none).
  ParamBlock Params;
  /// Operand order; empty means all inputs then all results.
  std::vector<KernelOperand> Operands;

  /// Sets the parameter struct from its writer (kparams::ConvP, ...).
  template <class P> void setParams(const P &V) { Params = paramBlock(V); }
};

} // namespace mote

#endif // MOTE_COMPILER_KERNELCALL_H
