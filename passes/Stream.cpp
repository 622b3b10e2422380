//===- Stream.cpp - Run wide forward chains in bands of rows ---------------===//
//
// In the frozen part of a forward pass, a chain of convolutions such as an
// inverted bottleneck (expand 1x1 -> depthwise 3x3 -> project 1x1) keeps
// nothing for the backward pass, yet its widest intermediate tensor is
// often the peak of the whole step (mobilenet_v2 w0.35 at 128x128: block
// 2's expand output, 786,432 bytes f32, next to its depthwise result). This
// pass computes such a chain band by band along the height (MCUNetV2's
// patch-based inference, in rows): for output rows [a, b) of the chain's
// last convolution it slices the rows of the chain's input those rows
// depend on, runs every convolution of the chain on them (the padding
// of each band is the layer's own at the tensor's edges and none inside),
// and writes the band's rows into the result (InsertRows, in place, so
// the result is one buffer):
//
//   x -> Conv1 -> t1 -> Conv2 -> t2 -> Conv3 -> y
//
//   for each band:  Slice(x, rows) -> Conv1' -> Conv2' -> Conv3'
//                     -> y = InsertRows(band, y, a)
//
// Only a band of each intermediate tensor is ever live. Neighbouring bands
// read overlapping rows of the earlier layers (the halo of a KxK window),
// which are computed twice: the extra MACs are counted
// (PassContext::Stream) and reported.
//
// A chain is two or more Conv or QConv nodes of the forward pass on 4-D
// tensors (NCHW), explicit pads, each result read only by the next
// convolution as its input (so no backward node reads it: the frozen
// forward) and not a graph output. The pass streams only where it pays:
// while the arena's peak (the liveness of the scheduled step, in-place
// chains counted once) is a step where the intermediates of a chain are
// live, holding at least 8 KiB and an eighth of the peak, it streams that
// chain. Without --ram-budget the recomputed MACs may add at most a
// quarter to the step's; with one, the pass stops as soon as the step's
// peak fits, and recomputes as much as it takes until then. The band is the tallest (the fewest rows computed twice) whose
// buffers (the input rows, every intermediate band and the result band)
// keep the chain's steps under the floor streaming cannot lower: the peak
// of the steps where no chain's intermediates are live (the backward pass
// of a training step, typically). Where even one row does not, one row it
// is.
//
// Runs last, after schedule: each chain's bands replace it at its last
// node, in order, and the rest of the schedule is kept.
//
//===----------------------------------------------------------------------===//

#include "compiler/Graph.h"
#include "compiler/OpDef.h"
#include "memory/Buffers.h"
#include "passes/Pass.h"
#include "passes/TrainUtil.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <unordered_map>

namespace mote {

namespace {

constexpr int64_t MinStreamBytes = 8192;
/// Without a --ram-budget the bands may recompute at most this fraction of
/// the step's MACs in all.
constexpr int64_t MaxExtraMacsDivisor = 4;

/// The row geometry of one convolution of a chain.
struct RowConv {
  Node *N = nullptr;
  int64_t InRows = 0, OutRows = 0;
  int64_t Kernel = 1, Stride = 1, Dilation = 1;
  int64_t PadTop = 0;
  int64_t InRowBytes = 0, OutRowBytes = 0; ///< bytes of one row, all channels
};

/// The geometry of \p N if it can be a link of a chain.
std::optional<RowConv> rowConv(const Node &N) {
  if ((N.op() != OpKind::Conv && N.op() != OpKind::QConv) ||
      N.phase() != NodePhase::Forward || N.numOutputs() != 1 ||
      N.inType(0).rank() != 4 || N.outType(0).rank() != 4 || !N.input(1) ||
      N.inType(1).rank() != 4)
    return std::nullopt;
  const AttrMap &A = N.attrs();
  if (A.has("auto_pad") && A.getString("auto_pad", "NOTSET") != "NOTSET")
    return std::nullopt;
  RowConv R;
  R.N = const_cast<Node *>(&N);
  const TensorType &X = N.inType(0), &Y = N.outType(0);
  R.InRows = X.Dims[2];
  R.OutRows = Y.Dims[2];
  R.Kernel = N.inType(1).Dims[2];
  R.Stride = A.getInts("strides", {1, 1})[0];
  R.Dilation = A.getInts("dilations", {1, 1})[0];
  std::vector<int64_t> Pads = A.getInts("pads", {0, 0, 0, 0});
  if (Pads.size() != 4)
    return std::nullopt;
  R.PadTop = Pads[0];
  if (R.InRows <= 0 || R.OutRows <= 0)
    return std::nullopt;
  R.InRowBytes = X.bytes() / R.InRows;
  R.OutRowBytes = Y.bytes() / R.OutRows;
  return R;
}

/// The rows [Lo, Hi) of a convolution's input that its output rows [A, B)
/// read, and the padding above and below them the band's convolution
/// needs for exactly those output rows.
struct InputRows {
  int64_t Lo, Hi, PadTop, PadBottom;
};
InputRows inputRows(const RowConv &C, int64_t A, int64_t B) {
  int64_t ULo = A * C.Stride - C.PadTop;
  int64_t UHi = (B - 1) * C.Stride - C.PadTop + (C.Kernel - 1) * C.Dilation + 1;
  int64_t Lo = std::max<int64_t>(0, ULo), Hi = std::min(C.InRows, UHi);
  return {Lo, Hi, Lo - ULo, UHi - Hi};
}

struct Chain {
  std::vector<RowConv> Convs;
  /// Bytes of the intermediate tensors (every result but the last).
  int64_t middleBytes() const {
    int64_t Bytes = 0;
    for (size_t I = 0; I + 1 < Convs.size(); ++I)
      Bytes += Convs[I].N->output(0)->type().bytes();
    return Bytes;
  }
};

bool isStateOrSpecial(const Graph &G, const PassContext &Ctx, const Value *V) {
  if (G.isOutput(V) || V == Ctx.Loss || V == Ctx.Prediction)
    return true;
  for (const Graph::StateUpdate &U : G.stateUpdates())
    if (U.NewValue == V)
      return true;
  return false;
}

/// The chains of \p G, none holding a node of \p Done.
std::vector<Chain> findChains(const Graph &G, const PassContext &Ctx,
                              const std::set<const Node *> &Done) {
  // Next[N]: the convolution that alone reads N's result, as its input.
  std::unordered_map<const Node *, Node *> Next;
  std::set<const Node *> HasPrev;
  for (const auto &NP : G.nodes()) {
    const Node *N = NP.get();
    if (Done.count(N) || !rowConv(*N))
      continue;
    const Value *Y = N->output(0);
    std::vector<Node *> Us = G.users(Y);
    if (Us.size() != 1 || isStateOrSpecial(G, Ctx, Y) || Done.count(Us[0]) ||
        !rowConv(*Us[0]) || Us[0]->input(0) != Y)
      continue;
    // Y must be the next convolution's input alone, not also its weight.
    auto Ins = Us[0]->inputs();
    if (std::count(Ins.begin(), Ins.end(), Y) != 1)
      continue;
    Next[N] = Us[0];
    HasPrev.insert(Us[0]);
  }
  std::vector<Chain> Chains;
  for (const auto &NP : G.nodes()) {
    const Node *N = NP.get();
    if (!Next.count(N) || HasPrev.count(N))
      continue;
    Chain C;
    for (const Node *M = N; M; M = Next.count(M) ? Next[M] : nullptr)
      C.Convs.push_back(*rowConv(*M));
    Chains.push_back(std::move(C));
  }
  return Chains;
}

/// Bytes of the buffers of one band of \p Rows output rows: the rows of the
/// chain's input, every intermediate band and the result band, for the
/// tallest band (the first whole one: a band at an edge has less halo).
int64_t bandBytes(const Chain &C, int64_t Rows) {
  const RowConv &Last = C.Convs.back();
  int64_t A = std::min<int64_t>(Rows, Last.OutRows - Rows);
  if (A < 0)
    A = 0;
  int64_t B = std::min(A + Rows, Last.OutRows);
  int64_t Bytes = (B - A) * Last.OutRowBytes;
  for (size_t I = C.Convs.size(); I-- > 0;) {
    InputRows R = inputRows(C.Convs[I], A, B);
    Bytes += (R.Hi - R.Lo) * C.Convs[I].InRowBytes;
    A = R.Lo;
    B = R.Hi;
  }
  return Bytes;
}

/// Replaces chain \p C by its bands of \p Rows output rows.
Status streamChain(Graph &G, PassContext &Ctx, const Chain &C, int64_t Rows,
                   std::set<const Node *> &Done) {
  const RowConv &Last = C.Convs.back();
  Node *At = Last.N;
  Value *X = C.Convs.front().N->input(0);
  Value *Result = nullptr;
  int64_t MacsBefore = 0, MacsAfter = 0;
  for (const RowConv &RC : C.Convs)
    MacsBefore += nodeMacs(*RC.N);
  int64_t Band = 0;
  for (int64_t A = 0; A < Last.OutRows; A += Rows, ++Band) {
    int64_t B = std::min(A + Rows, Last.OutRows);
    // The rows each convolution reads, from the last one back.
    std::vector<InputRows> In(C.Convs.size());
    int64_t OA = A, OB = B;
    for (size_t I = C.Convs.size(); I-- > 0;) {
      In[I] = inputRows(C.Convs[I], OA, OB);
      OA = In[I].Lo;
      OB = In[I].Hi;
    }
    Value *V = X;
    if (In[0].Lo != 0 || In[0].Hi != C.Convs[0].InRows) {
      AttrMap SA;
      SA.set("starts", std::vector<int64_t>{In[0].Lo});
      SA.set("ends", std::vector<int64_t>{In[0].Hi});
      SA.set("axes", std::vector<int64_t>{2});
      std::string Name = G.uniqueName(fmt::format("{}.rows{}", X->name(), Band));
      Expected<Node *> S =
          G.createNode(At, OpKind::Slice, Name, {X}, std::move(SA), {Name});
      if (!S)
        return S.takeError();
      (*S)->setPhase(NodePhase::Forward);
      Done.insert(*S);
      V = (*S)->output(0);
    }
    for (size_t I = 0; I < C.Convs.size(); ++I) {
      const Node &Orig = *C.Convs[I].N;
      AttrMap CA = Orig.attrs();
      std::vector<int64_t> Pads = CA.getInts("pads", {0, 0, 0, 0});
      Pads[0] = In[I].PadTop;
      Pads[2] = In[I].PadBottom;
      CA.set("pads", Pads);
      std::vector<Value *> Ins(Orig.inputs().begin(), Orig.inputs().end());
      Ins[0] = V;
      std::string Name =
          G.uniqueName(fmt::format("{}.band{}", Orig.name(), Band));
      Expected<Node *> N =
          G.createNode(At, Orig.op(), Name, Ins, std::move(CA), {Name});
      if (!N)
        return N.takeError();
      (*N)->setPhase(NodePhase::Forward);
      Done.insert(*N);
      MacsAfter += nodeMacs(**N);
      V = (*N)->output(0);
    }
    AttrMap IA;
    IA.set("axis", int64_t(2));
    IA.set("start", A);
    if (!Result)
      IA.set("size", Last.OutRows);
    std::string Name = G.uniqueName(
        fmt::format("{}.rows{}", Last.N->output(0)->name(), Band));
    Expected<Node *> Ins = G.createNode(At, OpKind::InsertRows, Name,
                                        {V, Result}, std::move(IA), {Name});
    if (!Ins)
      return Ins.takeError();
    (*Ins)->setPhase(NodePhase::Forward);
    Done.insert(*Ins);
    Result = (*Ins)->output(0);
  }
  ++Ctx.Stream.Chains;
  Ctx.Stream.Bands += Band;
  Ctx.Stream.ExtraMacs += MacsAfter - MacsBefore;
  Ctx.Stream.IntermediateBytes += C.middleBytes(); // before the nodes go
  replaceValue(G, Ctx, Last.N->output(0), Result, ".unstreamed");
  for (size_t I = C.Convs.size(); I-- > 0;)
    G.eraseNode(C.Convs[I].N);
  return ok();
}

/// Multiply-accumulates that bands of \p Rows output rows compute beyond
/// the chain's own (the halo rows each band recomputes).
int64_t extraMacs(const Chain &C, int64_t Rows) {
  const RowConv &Last = C.Convs.back();
  std::vector<int64_t> Computed(C.Convs.size(), 0);
  for (int64_t A = 0; A < Last.OutRows; A += Rows) {
    int64_t OA = A, OB = std::min(A + Rows, Last.OutRows);
    for (size_t I = C.Convs.size(); I-- > 0;) {
      Computed[I] += OB - OA;
      InputRows R = inputRows(C.Convs[I], OA, OB);
      OA = R.Lo;
      OB = R.Hi;
    }
  }
  int64_t Extra = 0;
  for (size_t I = 0; I < C.Convs.size(); ++I) {
    const RowConv &RC = C.Convs[I];
    Extra += nodeMacs(*RC.N) / RC.OutRows * (Computed[I] - RC.OutRows);
  }
  return Extra;
}

/// One way to stream: a part of a chain and its band height, with the
/// estimated live bytes at its steps and the MACs it recomputes.
struct StreamPlan {
  Chain Part;
  int64_t Rows = 0, Bytes = 0, Extra = 0;
};

} // namespace

Expected<bool> runStream(Graph &G, PassContext &Ctx) {
  std::set<const Node *> Done;
  bool Changed = false;
  int64_t StepMacs = 0;
  for (const auto &N : G.nodes())
    StepMacs += nodeMacs(*N);
  const int64_t Allowance =
      Ctx.RamBudget ? INT64_MAX : StepMacs / MaxExtraMacsDivisor;
  for (;;) {
    Expected<ScheduleBuffers> S = scheduleBuffers(G);
    if (!S)
      return S.takeError();
    std::vector<int64_t> Live = liveBytesPerStep(*S);
    int32_t Peak = peakStep(*S);
    int64_t PeakBytes = Live[size_t(Peak)];
    std::unordered_map<const Value *, const BufferInfo *> Buf;
    for (const BufferInfo &B : S->Buffers)
      if (B.InArena)
        Buf[B.V] = &B;
    auto LiveAt = [&](const Value *V, int64_t T) {
      auto It = Buf.find(V);
      return It != Buf.end() && It->second->First <= T && T <= It->second->Last;
    };
    // The bytes of intermediates of chains \p C live at each step.
    auto MiddleOf = [&](const Chain &C) {
      std::vector<int64_t> M(Live.size(), 0);
      for (size_t I = 0; I + 1 < C.Convs.size(); ++I)
        if (auto It = Buf.find(C.Convs[I].N->output(0)); It != Buf.end())
          for (int32_t T = It->second->First; T <= It->second->Last; ++T)
            M[size_t(T)] += It->second->Bytes;
      return M;
    };
    std::vector<Chain> Chains = findChains(G, Ctx, Done);
    std::vector<int64_t> AnyMiddle(Live.size(), 0);
    const Chain *Best = nullptr;
    int64_t BestAtPeak = 0;
    for (const Chain &C : Chains) {
      std::vector<int64_t> M = MiddleOf(C);
      for (size_t T = 0; T < Live.size(); ++T)
        AnyMiddle[T] += M[T];
      if (M[size_t(Peak)] > BestAtPeak) {
        Best = &C;
        BestAtPeak = M[size_t(Peak)];
      }
    }
    if (!Best || BestAtPeak < std::max(MinStreamBytes, PeakBytes / 8) ||
        (Ctx.RamBudget && PeakBytes <= *Ctx.RamBudget))
      break;
    // The floor no streaming lowers: the peak over the steps where no
    // chain's intermediates are live (the backward pass of a training
    // step, typically).
    int64_t Floor = 0;
    for (size_t T = 0; T < Live.size(); ++T)
      if (AnyMiddle[T] == 0)
        Floor = std::max(Floor, Live[T]);
    // The intermediates live at the peak are Convs[First .. LastMid]'s
    // results; every part of the chain holding them is a candidate, each
    // with the tallest band (the fewest rows recomputed) that keeps its
    // steps under the floor, or one row. At a part's steps its
    // intermediates shrink to one band of each and its result is live from
    // the first band on. A longer part also removes the tensors between
    // its layers, a shorter one recomputes less (the halo deepens with
    // every layer): of the parts that lower the step's peak, the cheapest
    // that reaches the floor wins, else the one that comes closest.
    const std::vector<int64_t> BestMiddle = MiddleOf(*Best);
    size_t First = Best->Convs.size(), LastMid = 0;
    for (size_t I = 0; I + 1 < Best->Convs.size(); ++I)
      if (LiveAt(Best->Convs[I].N->output(0), Peak)) {
        First = std::min(First, I);
        LastMid = I;
      }
    std::optional<StreamPlan> Pick;
    for (size_t I0 = 0; I0 <= First; ++I0)
      for (size_t I1 = LastMid + 1; I1 < Best->Convs.size(); ++I1) {
        StreamPlan P;
        P.Part.Convs.assign(Best->Convs.begin() + I0,
                            Best->Convs.begin() + I1 + 1);
        const Value *Y = P.Part.Convs.back().N->output(0);
        const int64_t YBytes = Y->type().bytes();
        std::vector<int64_t> M = MiddleOf(P.Part);
        // Rest: the steps where only the chain's other intermediates are
        // live; the layers left out form chains of their own, but the
        // tensors at the part's ends stay whole there.
        int64_t Need = 0, Rest = 0;
        for (size_t T = 0; T < Live.size(); ++T)
          if (M[T])
            Need = std::max(Need, Live[T] - M[T] -
                                      (LiveAt(Y, int64_t(T)) ? YBytes : 0) +
                                      YBytes);
          else if (BestMiddle[T])
            Rest = std::max(Rest, Live[T]);
        const int64_t Height = P.Part.Convs.back().OutRows;
        P.Rows = 1;
        for (int64_t R = Height - 1; R >= 1; --R)
          if (Need + bandBytes(P.Part, R) <= Floor) {
            P.Rows = R;
            break;
          }
        // The part must lower its own steps; it is ranked by the peak it
        // leaves there or at the rest of the chain.
        const int64_t Own = Need + bandBytes(P.Part, P.Rows);
        P.Bytes = std::max(Own, Rest);
        P.Extra = extraMacs(P.Part, P.Rows);
        if (P.Rows >= Height || Own >= PeakBytes ||
            P.Extra > Allowance - Ctx.Stream.ExtraMacs)
          continue;
        auto Key = [&](const StreamPlan &Q) {
          return std::pair(std::max(Q.Bytes, Floor), Q.Extra);
        };
        if (!Pick || Key(P) < Key(*Pick))
          Pick = std::move(P);
      }
    if (!Pick) {
      for (const RowConv &RC : Best->Convs)
        Done.insert(RC.N);
      continue;
    }
    if (Status St = streamChain(G, Ctx, Pick->Part, Pick->Rows, Done); !St)
      return St.takeError();
    Changed = true;
  }
  return Changed;
}

} // namespace mote
