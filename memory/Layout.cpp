//===- Layout.cpp - The arena layout of a scheduled graph -----------------===//

#include "memory/Layout.h"

#include <unordered_map>

namespace mote {

Expected<MemoryLayout> computeLayout(const Graph &G, int64_t Align,
                                     bool InPlace) {
  Expected<ScheduleBuffers> S = scheduleBuffers(G, InPlace);
  if (!S)
    return S.takeError();
  MemoryLayout L;
  static_cast<ScheduleBuffers &>(L) = std::move(*S);
  std::vector<size_t> Planned;
  std::vector<BufferRequest> Requests = arenaRequests(L, Align, &Planned);
  L.Plan = planMemory(Requests, Align);
  for (size_t K = 0; K < Planned.size(); ++K)
    L.Buffers[Planned[K]].Offset = L.Plan.Offsets[K];
  // Shared storage: a state update's parameter, or an in-place chain's
  // first buffer (partners come earlier in Buffers, so one pass resolves
  // chains).
  std::unordered_map<const Value *, size_t> Index;
  for (size_t I = 0; I < L.Buffers.size(); ++I)
    Index[L.Buffers[I].V] = I;
  for (BufferInfo &B : L.Buffers)
    if (B.InplaceWith)
      B.Offset = L.Buffers[Index.at(B.InplaceWith)].Offset;
  return L;
}

} // namespace mote
