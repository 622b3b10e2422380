//===- Fused.cpp - FusedElementwise: a chain of elementwise ops -----------===//
//
// The node the fuse pass's elementwise-chain pattern builds (Fused.h). Its
// type rule and reference kernel rebuild the chain as ordinary nodes in a
// scratch graph and run each step's own type rule and kernel, so the fused
// node computes bit for bit what the unfused chain computes in the
// interpreter. Its lowering is one call of mote_rt::fused_elementwise.
//
//===----------------------------------------------------------------------===//

#include "compiler/ops/math/Fused.h"
#include "compiler/ops/OpUtils.h"

#include <memory>
#include <string>
#include <unordered_map>

namespace mote {
namespace {

/// A step op and its code in mote_rt::FusedOp (runtime-stub/mote_rt/fused.h).
struct StepOp {
  OpKind Kind;
  int32_t Code;
  int Arity;
};

constexpr StepOp StepOps[] = {
    {OpKind::Add, 1, 2},         {OpKind::Sub, 2, 2},
    {OpKind::Mul, 3, 2},         {OpKind::Div, 4, 2},
    {OpKind::Pow, 5, 2},         {OpKind::ReluGrad, 6, 2},
    {OpKind::SigmoidGrad, 7, 2}, {OpKind::TanhGrad, 8, 2},
    {OpKind::ErfGrad, 9, 2},     {OpKind::Relu, 10, 1},
    {OpKind::Sigmoid, 11, 1},    {OpKind::Tanh, 12, 1},
    {OpKind::Exp, 13, 1},        {OpKind::Log, 14, 1},
    {OpKind::Sqrt, 15, 1},       {OpKind::Neg, 16, 1},
    {OpKind::Abs, 17, 1},        {OpKind::Reciprocal, 18, 1},
    {OpKind::Erf, 19, 1},
};

const StepOp *findStep(OpKind K) {
  for (const StepOp &S : StepOps)
    if (S.Kind == K)
      return &S;
  return nullptr;
}

/// The chain as ordinary nodes of a scratch graph whose inputs have the
/// types of the node's inputs; each step checked by its own type rule.
struct Body {
  std::unique_ptr<Graph> G;
  std::vector<Node *> Steps;
};

Expected<Body> buildBody(const Node &N) {
  const AttrValue *OpsAttr = N.attrs().find("ops");
  if (!OpsAttr || !std::holds_alternative<std::vector<std::string>>(*OpsAttr))
    return opError("needs attribute ops (strings)");
  const auto &Ops = std::get<std::vector<std::string>>(*OpsAttr);
  std::vector<int64_t> Args = N.attrs().getInts("args");
  if (Ops.empty() || Ops.size() > size_t(MaxFusedSteps))
    return opError(fmt::format("has {} steps; 1 to {} are supported",
                               Ops.size(), MaxFusedSteps));
  if (Args.size() != 2 * Ops.size())
    return opError(fmt::format("args has {} entries; 2 per step ({}) needed",
                               Args.size(), 2 * Ops.size()));
  Body B;
  B.G = std::make_unique<Graph>("fused");
  std::vector<Value *> Refs;
  for (size_t I = 0; I < N.numInputs(); ++I) {
    if (!N.input(I))
      return opError(fmt::format("input {} is absent", I));
    Refs.push_back(B.G->addInput(fmt::format("x{}", I), N.inType(I)));
  }
  const int64_t NumIn = int64_t(N.numInputs());
  for (size_t S = 0; S < Ops.size(); ++S) {
    std::optional<OpKind> K = lookupOp(Ops[S]);
    const StepOp *Op = K ? findStep(*K) : nullptr;
    if (!Op)
      return opError(fmt::format("step {}: {} cannot be a fused step", S,
                                 Ops[S]));
    std::vector<Value *> Ins;
    for (int A = 0; A < 2; ++A) {
      int64_t R = Args[2 * S + size_t(A)];
      if (A >= Op->Arity) {
        if (R != -1)
          return opError(fmt::format("step {}: {} takes one operand; the "
                                     "second must be -1, got {}",
                                     S, Ops[S], R));
        continue;
      }
      if (R < 0 || R >= int64_t(Refs.size()))
        return opError(fmt::format("step {}: operand {} is {}, not an input "
                                   "(0..{}) or an earlier step ({}..)",
                                   S, A, R, NumIn - 1, NumIn));
      Ins.push_back(Refs[size_t(R)]);
    }
    Expected<Node *> Step = B.G->createNode(nullptr, *K, fmt::format("s{}", S),
                                            std::move(Ins), {},
                                            {fmt::format("y{}", S)});
    if (!Step)
      return opError(fmt::format("step {} ({}): {}", S, Ops[S],
                                 Step.error().Message));
    B.Steps.push_back(*Step);
    Refs.push_back((*Step)->output(0));
  }
  const TensorType &Result = B.Steps.back()->outType(0);
  if (!isFloat(Result.Elem))
    return opError(fmt::format("computes {}; only float chains fuse",
                               Result.str()));
  for (size_t I = 0; I < N.numInputs(); ++I)
    if (N.inType(I).Elem != Result.Elem)
      return opError(fmt::format("input {} is {}, not {}", I,
                                 N.inType(I).str(), dtypeName(Result.Elem)));
  for (size_t S = 0; S < B.Steps.size(); ++S) {
    if (B.Steps[S]->outType(0) != Result)
      return opError(fmt::format("step {} ({}) computes {}, not the result "
                                 "type {}",
                                 S, Ops[S], B.Steps[S]->outType(0).str(),
                                 Result.str()));
    if (S + 1 < B.Steps.size() && B.G->users(B.Steps[S]->output(0)).empty())
      return opError(fmt::format("the result of step {} ({}) is unused", S,
                                 Ops[S]));
  }
  for (size_t I = 0; I < N.numInputs(); ++I)
    if (B.G->users(Refs[I]).empty())
      return opError(fmt::format("input {} is unused", I));
  return B;
}

Expected<std::vector<TensorType>> inferFused(const Node &N) {
  if (N.numInputs() > size_t(MaxFusedInputs))
    return opError(fmt::format("has {} inputs; at most {} are supported",
                               N.numInputs(), MaxFusedInputs));
  Expected<Body> B = buildBody(N);
  if (!B)
    return B.takeError();
  return std::vector<TensorType>{B->Steps.back()->outType(0)};
}

/// The scratch graph of \p N's chain for the reference kernel, built once
/// per chain and input types: the interpreter runs a node at every step,
/// and rebuilding the graph (and rerunning each step's type rule) each time
/// costs more than a small chain's arithmetic. Keyed by content, never by
/// node address, so a node freed and another allocated in its place cannot
/// hit a stale entry.
Expected<const Body *> cachedBody(const Node &N) {
  thread_local std::unordered_map<std::string, Body> Cache;
  // Without a list of ops the key is "-", which no valid chain has: the
  // lookup misses and buildBody reports what is wrong.
  const AttrValue *OpsAttr = N.attrs().find("ops");
  const auto *Ops = OpsAttr ? std::get_if<std::vector<std::string>>(OpsAttr) : nullptr;
  std::string Key = Ops ? fmt::format("{}", fmt::join(*Ops, ",")) : "-";
  Key += fmt::format("|{}", fmt::join(N.attrs().getInts("args"), ","));
  for (size_t I = 0; I < N.numInputs(); ++I)
    Key += "|" + (N.input(I) ? N.inType(I).str() : std::string("-"));
  auto It = Cache.find(Key);
  if (It == Cache.end()) {
    Expected<Body> B = buildBody(N);
    if (!B)
      return B.takeError();
    It = Cache.emplace(std::move(Key), std::move(*B)).first;
  }
  return &It->second;
}

/// Runs every step with its own reference kernel.
Status kernelFused(const Node &N, std::span<const Tensor *const> In,
                   std::span<Tensor> Out) {
  Expected<const Body *> Cached = cachedBody(N);
  if (!Cached)
    return Cached.takeError();
  const Body *B = *Cached;
  std::vector<Tensor> Results;
  Results.reserve(B->Steps.size());
  auto TensorOf = [&](const Value *V) -> const Tensor * {
    for (size_t I = 0; I < B->G->inputs().size(); ++I)
      if (B->G->inputs()[I] == V)
        return In[I];
    for (size_t S = 0; S < Results.size(); ++S)
      if (B->Steps[S]->output(0) == V)
        return &Results[S];
    return nullptr;
  };
  for (Node *Step : B->Steps) {
    std::vector<const Tensor *> Ins;
    for (Value *V : Step->inputs())
      Ins.push_back(TensorOf(V));
    Tensor R(Step->outType(0));
    if (Status S = Step->def().Kernel(*Step, Ins, std::span<Tensor>(&R, 1)); !S)
      return S;
    Results.push_back(std::move(R));
  }
  Out[0] = std::move(Results.back());
  return ok();
}

//===----------------------------------------------------------------------===//
// Lowering: mote_rt::fused_elementwise<T>(FusedP, x0..x5, y) (fused.h).
//===----------------------------------------------------------------------===//

Status lowerFused(const Node &N, KernelCall &C) {
  Expected<Body> B = buildBody(N);
  if (!B)
    return B.takeError();
  C.Header = "mote_rt/fused.h";
  C.Kernel = "fused_elementwise";
  C.TypeArgs = {N.outType(0).Elem};

  // The result's dims without those of size 1 (which select nothing), and
  // each input's strides over them; then adjacent dims every input reads
  // alike (contiguously or broadcast) merge, so the kernel's rows are long.
  const Shape &Out = N.outType(0).Dims;
  std::vector<std::vector<int64_t>> Full;
  for (size_t I = 0; I < N.numInputs(); ++I)
    Full.push_back(broadcastStrides(N.inType(I).Dims, Out));
  Shape Dims;
  std::vector<std::vector<int64_t>> St(N.numInputs());
  for (size_t D = 0; D < Out.size(); ++D) {
    if (Out[D] == 1)
      continue;
    bool Merge = !Dims.empty();
    for (size_t I = 0; I < N.numInputs() && Merge; ++I)
      Merge = St[I].back() == Full[I][D] * Out[D];
    if (Merge) {
      Dims.back() *= Out[D];
      for (size_t I = 0; I < N.numInputs(); ++I)
        St[I].back() = Full[I][D];
      continue;
    }
    Dims.push_back(Out[D]);
    for (size_t I = 0; I < N.numInputs(); ++I)
      St[I].push_back(Full[I][D]);
  }
  if (Dims.empty()) {
    Dims.push_back(1);
    for (auto &S : St)
      S.push_back(0);
  }
  if (Status S = requireKernelRank(TensorType(N.outType(0).Elem, Dims)); !S)
    return S;
  std::vector<int64_t> Code, ArgA, ArgB;
  std::vector<int64_t> Args = N.attrs().getInts("args");
  const int64_t NumIn = int64_t(N.numInputs());
  // Kernel operands: inputs keep their index, step S is MaxFusedInputs + S.
  auto KernelRef = [&](int64_t R) {
    return R < 0 ? -1 : R < NumIn ? R : R - NumIn + MaxFusedInputs;
  };
  for (size_t S = 0; S < B->Steps.size(); ++S) {
    Code.push_back(findStep(B->Steps[S]->op())->Code);
    ArgA.push_back(KernelRef(Args[2 * S]));
    ArgB.push_back(KernelRef(Args[2 * S + 1]));
  }
  static_assert(MaxFusedInputs == 6, "FusedP has the fields In0 to In5");
  auto InStrides = [&](size_t I) { return I < St.size() ? St[I] : Shape(); };
  C.setParams(kparams::FusedP{.Rank = int64_t(Dims.size()),
                              .Dims = Dims,
                              .NumSteps = int64_t(B->Steps.size()),
                              .Op = Code,
                              .ArgA = ArgA,
                              .ArgB = ArgB,
                              .In0 = InStrides(0),
                              .In1 = InStrides(1),
                              .In2 = InStrides(2),
                              .In3 = InStrides(3),
                              .In4 = InStrides(4),
                              .In5 = InStrides(5)});
  return ok();
}

constexpr AttrSpec FusedAttrs[] = {
    {"ops", AttrKind::Strings, true},
    {"args", AttrKind::Ints, true},
};

} // namespace

bool isFusedElementwiseStep(OpKind K) { return findStep(K) != nullptr; }

extern const OpDef OpDef_FusedElementwise = {
    .Name = "FusedElementwise",
    .MinInputs = 1,
    .MaxInputs = MaxFusedInputs,
    .MinOutputs = 1,
    .MaxOutputs = 1,
    .Attrs = FusedAttrs,
    .Infer = inferFused,
    .Kernel = kernelFused,
    .Macs = nullptr,
    .Grad = nullptr,
    .Flags = OpFlagElementwise | OpFlagNotDifferentiable | OpFlagInPlace,
    .Summary = "a chain of up to 6 float elementwise ops (attributes ops, "
               "args) in one pass over the result, no intermediate tensor",
    .Lower = lowerFused,
};

} // namespace mote
