//===- Buffers.cpp - The buffers of a scheduled graph ---------------------===//

#include "memory/Buffers.h"
#include "compiler/Graph.h"
#include "compiler/OpDef.h"

#include <algorithm>
#include <fmt/format.h>
#include <unordered_map>
#include <unordered_set>

namespace mote {

std::string_view bufferKindName(BufferKind K) {
  switch (K) {
  case BufferKind::Activation:
    return "activation";
  case BufferKind::Gradient:
    return "gradient";
  case BufferKind::Param:
    return "param";
  case BufferKind::OptimizerState:
    return "optimizer_state";
  case BufferKind::Input:
    return "input";
  }
  return "?";
}

std::vector<int64_t> liveBytesPerStep(const ScheduleBuffers &L) {
  std::vector<int64_t> Live(size_t(std::max<int32_t>(L.NumSteps, 1)), 0);
  for (const BufferInfo &B : L.Buffers)
    if (B.InArena && !B.InplaceWith)
      for (int32_t S = B.First; S <= B.Last && size_t(S) < Live.size(); ++S)
        Live[size_t(S)] += B.Bytes;
  return Live;
}

int32_t peakStep(const ScheduleBuffers &L) {
  std::vector<int64_t> Live = liveBytesPerStep(L);
  return int32_t(std::max_element(Live.begin(), Live.end()) - Live.begin());
}

std::vector<const BufferInfo *> buffersLiveAt(const ScheduleBuffers &L,
                                              int32_t S) {
  std::vector<const BufferInfo *> At;
  for (const BufferInfo &B : L.Buffers)
    if (B.InArena && !B.InplaceWith && B.First <= S && S <= B.Last)
      At.push_back(&B);
  std::stable_sort(At.begin(), At.end(),
                   [](const BufferInfo *A, const BufferInfo *B) {
                     return A->Bytes > B->Bytes;
                   });
  return At;
}

Expected<ScheduleBuffers> scheduleBuffers(const Graph &G, bool InPlace) {
  ScheduleBuffers L;
  const auto &Nodes = G.nodes();
  int32_t N = int32_t(Nodes.size());
  L.NumSteps = N;
  int32_t End = std::max(N - 1, 0);
  std::unordered_map<const Value *, int32_t> Def, LastUse;
  std::unordered_map<const Node *, int32_t> Step;
  for (int32_t I = 0; I < N; ++I) {
    const Node &Nd = *Nodes[size_t(I)];
    Step[&Nd] = I;
    for (const Value *In : Nd.inputs())
      if (In)
        LastUse[In] = std::max(LastUse.count(In) ? LastUse[In] : 0, I);
    for (const Value *O : Nd.outputs())
      Def[O] = I;
  }
  for (const Value *O : G.outputs())
    LastUse[O] = End;
  // A state update writes into its parameter: the writer must be the
  // parameter's last reader.
  std::unordered_map<const Value *, const Value *> WritesInto;
  for (const Graph::StateUpdate &U : G.stateUpdates()) {
    if (!U.NewValue->producer())
      return Diag(fmt::format("the new value of '{}' is not computed by a "
                              "node",
                              U.Param->name()));
    int32_t W = Step[U.NewValue->producer()];
    if (LastUse.count(U.Param) && LastUse[U.Param] > W)
      return Diag(fmt::format("'{}' is read after its update in the schedule",
                              U.Param->name()));
    WritesInto[U.NewValue] = U.Param;
  }
  auto Add = [&](const Value *V, BufferKind K, bool Arena, int32_t First,
                 int32_t Last) {
    BufferInfo B;
    B.V = V;
    B.Kind = K;
    B.InArena = Arena;
    B.Bytes = V->type().bytes();
    B.First = First;
    B.Last = std::max(First, Last);
    L.Buffers.push_back(B);
  };
  // Graph inputs stay in the caller's buffers: every kernel reads them
  // there, none writes them (no in-place result overwrites a value without
  // a producer), so copying them into the arena would only add their bytes.
  for (const Value *V : G.inputs()) {
    Add(V, BufferKind::Input, false, 0, LastUse.count(V) ? LastUse[V] : 0);
    L.Buffers.back().FromCaller = true;
  }
  for (const Value *P : G.params()) {
    if (P->isOptimizerState())
      Add(P, BufferKind::OptimizerState, true, 0, End);
    else if (P->isTrainable())
      Add(P, BufferKind::Param, true, 0, End);
    else
      Add(P, BufferKind::Param, false, 0, 0);
  }
  std::unordered_map<const Value *, size_t> Index;
  for (size_t I = 0; I < L.Buffers.size(); ++I)
    Index[L.Buffers[I].V] = I;
  // Elementwise results written over an input that dies at their node
  // (OpFlagInPlace): result 0 shares the storage of the first input of the
  // same type that is an arena node result read last here.
  std::unordered_set<const Value *> GraphOutputs(G.outputs().begin(),
                                                 G.outputs().end());
  std::unordered_map<const Value *, const Value *> Overwrites;
  if (InPlace)
    for (int32_t I = 0; I < N; ++I) {
      const Node &Nd = *Nodes[size_t(I)];
      if (!(Nd.def().Flags & OpFlagInPlace) || Nd.numOutputs() < 1)
        continue;
      const Value *O = Nd.output(0);
      if (WritesInto.count(O) || GraphOutputs.count(O))
        continue;
      for (const Value *In : Nd.inputs()) {
        if (!In || !In->producer() || In->type() != O->type() ||
            GraphOutputs.count(In) || WritesInto.count(In) || LastUse[In] != I)
          continue;
        Overwrites[O] = In;
        break;
      }
    }
  for (const auto &Nd : Nodes)
    for (const Value *O : Nd->outputs()) {
      if (auto Ov = Overwrites.find(O); Ov != Overwrites.end()) {
        BufferInfo B;
        B.V = O;
        B.Kind = Nd->phase() == NodePhase::Forward ? BufferKind::Activation
                                                   : BufferKind::Gradient;
        B.Bytes = O->type().bytes();
        B.First = Def[O];
        B.Last = std::max(B.First, LastUse.count(O) ? LastUse[O] : B.First);
        B.InplaceWith = Ov->second;
        L.Buffers.push_back(B);
        Index[O] = L.Buffers.size() - 1;
        // The chain's first buffer holds the storage until the last member
        // dies: extend its interval.
        const Value *Root = Ov->second;
        while (Overwrites.count(Root))
          Root = Overwrites[Root];
        BufferInfo &RB = L.Buffers[Index.at(Root)];
        RB.Last = std::max(RB.Last, B.Last);
        continue;
      }
      auto W = WritesInto.find(O);
      BufferKind K = Nd->phase() == NodePhase::Forward ? BufferKind::Activation
                                                       : BufferKind::Gradient;
      if (W != WritesInto.end()) {
        // Stored in the parameter's own buffer.
        BufferInfo B;
        B.V = O;
        B.Kind = W->second->isOptimizerState() ? BufferKind::OptimizerState
                                               : BufferKind::Param;
        B.Bytes = O->type().bytes();
        B.First = B.Last = Def[O];
        B.InplaceWith = W->second;
        L.Buffers.push_back(B);
        continue;
      }
      Add(O, K, true, Def[O], LastUse.count(O) ? LastUse[O] : Def[O]);
      Index[O] = L.Buffers.size() - 1;
    }

  for (const BufferInfo &B : L.Buffers)
    if (B.FromCaller)
      L.CallerBytes += B.Bytes;
    else if (!B.InArena)
      L.FlashBytes += B.Bytes;
  return L;
}

std::vector<BufferRequest> arenaRequests(const ScheduleBuffers &S,
                                         int64_t Align,
                                         std::vector<size_t> *Planned) {
  std::vector<BufferRequest> Requests;
  for (size_t I = 0; I < S.Buffers.size(); ++I) {
    const BufferInfo &B = S.Buffers[I];
    if (!B.InArena || B.InplaceWith)
      continue;
    Requests.push_back({B.Bytes, Align, B.First, B.Last, -1});
    if (Planned)
      Planned->push_back(I);
  }
  return Requests;
}

Expected<int64_t> liveBytesLowerBound(const Graph &G, int64_t Align) {
  Expected<ScheduleBuffers> S = scheduleBuffers(G);
  if (!S)
    return S.takeError();
  return livenessLowerBound(arenaRequests(*S, Align));
}

} // namespace mote
