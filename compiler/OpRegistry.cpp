//===- OpRegistry.cpp - Lookup of op definitions and shared op helpers ----===//
//
// Builds the OpKind -> OpDef table from Ops.def and holds the helpers every
// op definition uses (broadcasting, axis normalisation, schema checking).
//
//===----------------------------------------------------------------------===//

#include "compiler/OpDef.h"

#include <algorithm>
#include <array>
#include <fmt/format.h>

namespace mote {

#define MOTE_OP(Name, Family) extern const OpDef OpDef_##Name;
#include "compiler/Ops.def"

namespace {
const std::array<const OpDef *, NumOpKinds> OpTable = {
#define MOTE_OP(Name, Family) &OpDef_##Name,
#include "compiler/Ops.def"
};

const std::array<OpKind, NumOpKinds> AllOpKinds = {
#define MOTE_OP(Name, Family) OpKind::Name,
#include "compiler/Ops.def"
};
} // namespace

const OpDef &getOpDef(OpKind K) { return *OpTable[static_cast<size_t>(K)]; }

std::optional<OpKind> lookupOp(std::string_view Name) {
  for (size_t I = 0; I < NumOpKinds; ++I)
    if (OpTable[I]->Name == Name)
      return static_cast<OpKind>(I);
  return std::nullopt;
}

std::span<const OpKind> allOps() { return AllOpKinds; }

std::string_view attrKindName(AttrKind K) {
  static constexpr std::array<std::string_view, 6> Names = {
      "int", "float", "string", "ints", "floats", "strings"};
  return Names[static_cast<size_t>(K)];
}

Status checkOpSchema(const Node &N) {
  const OpDef &D = N.def();
  int NumIn = int(N.numInputs());
  if (NumIn < D.MinInputs || (D.MaxInputs != Variadic && NumIn > D.MaxInputs)) {
    if (D.MaxInputs == Variadic)
      return opError(fmt::format("expects at least {} inputs, got {}",
                                 D.MinInputs, NumIn));
    if (D.MinInputs == D.MaxInputs)
      return opError(fmt::format("expects {} input{}, got {}", D.MinInputs,
                                 D.MinInputs == 1 ? "" : "s", NumIn));
    return opError(fmt::format("expects {} to {} inputs, got {}", D.MinInputs,
                               D.MaxInputs, NumIn));
  }
  for (int I = 0; I < std::min(NumIn, D.MinInputs); ++I)
    if (!N.input(size_t(I)))
      return opError(fmt::format("required input {} is missing", I));
  int NumOut = int(N.numOutputs());
  if (NumOut < D.MinOutputs || NumOut > D.MaxOutputs) {
    if (D.MinOutputs == D.MaxOutputs)
      return opError(fmt::format("expects {} result{}, got {}", D.MinOutputs,
                                 D.MinOutputs == 1 ? "" : "s", NumOut));
    return opError(fmt::format("expects {} to {} results, got {}",
                               D.MinOutputs, D.MaxOutputs, NumOut));
  }
  for (const auto &[Name, Val] : N.attrs().all()) {
    auto It = std::find_if(D.Attrs.begin(), D.Attrs.end(),
                           [&](const AttrSpec &S) { return S.Name == Name; });
    if (It == D.Attrs.end())
      return opError(fmt::format("unknown attribute '{}'", Name));
    if (kindOf(Val) != It->Kind)
      return opError(fmt::format("attribute '{}' must be of type {}, got {}",
                                 Name, attrKindName(It->Kind),
                                 attrKindName(kindOf(Val))));
  }
  for (const AttrSpec &S : D.Attrs)
    if (S.Required && !N.attrs().has(S.Name))
      return opError(
          fmt::format("required attribute '{}' is missing", S.Name));
  for (size_t I = 0; I < N.numInputs(); ++I)
    if (N.input(I) && !N.input(I)->type().isValid())
      return opError(fmt::format("input {} has an invalid type {}", I,
                                 N.input(I)->type().str()));
  return ok();
}

Expected<std::vector<TensorType>> inferNodeTypes(const Node &N) {
  Status S = checkOpSchema(N);
  if (!S)
    return S.takeError();
  if (!(N.def().Flags & OpFlagQuantAware))
    for (size_t I = 0; I < N.numInputs(); ++I)
      if (N.input(I) && N.inType(I).isQuantized())
        return opError(fmt::format(
            "operand {} ('{}') is quantized ({}), which {} does not take; "
            "dequantize it first",
            I, N.input(I)->name(), N.inType(I).str(), N.opName()));
  Expected<std::vector<TensorType>> R = N.def().Infer(N);
  if (!R)
    return R;
  for (const TensorType &T : *R)
    if (std::string Why = T.invalidReason(); !Why.empty())
      return opError(fmt::format("result type {} is invalid: {}", T.str(),
                                 Why));
  return R;
}

int64_t nodeMacs(const Node &N) {
  const OpDef &D = N.def();
  return D.Macs ? D.Macs(N) : 0;
}

std::optional<Shape> broadcastShapes(const Shape &A, const Shape &B) {
  size_t R = std::max(A.size(), B.size());
  Shape Out(R);
  for (size_t I = 0; I < R; ++I) {
    int64_t DA = I < R - A.size() ? 1 : A[I - (R - A.size())];
    int64_t DB = I < R - B.size() ? 1 : B[I - (R - B.size())];
    if (DA != DB && DA != 1 && DB != 1)
      return std::nullopt;
    Out[I] = DA == 1 ? DB : DA;
  }
  return Out;
}

std::optional<int64_t> normalizeAxis(int64_t Axis, int64_t Rank) {
  if (Axis < -Rank || Axis >= Rank)
    return std::nullopt;
  return Axis < 0 ? Axis + Rank : Axis;
}

Diag opError(std::string Msg) { return Diag(std::move(Msg)); }

Expected<std::vector<TensorType>> sameAsInput0(const Node &N) {
  return std::vector<TensorType>{N.inType(0)};
}

Status requireFloat(const Node &N, size_t I) {
  if (!isFloat(N.inType(I).Elem))
    return opError(fmt::format("input {} must be f32 or f64, got {}", I,
                               dtypeName(N.inType(I).Elem)));
  return ok();
}

} // namespace mote
