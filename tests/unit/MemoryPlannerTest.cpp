//===- MemoryPlannerTest.cpp - Static arena layout planner ----------------===//
//
// Every strategy runs on the same hand-drawn interval sets, whose best
// arena was worked out by hand; planMemory must be valid, no worse than any
// strategy, and reach the liveness lower bound where that is achievable.
// Then a stability test, a seeded randomized test and checks that
// checkPlan itself catches broken plans.
//
//===----------------------------------------------------------------------===//

#include "memory/Planner.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace mote;

namespace {

struct Case {
  std::string Name;
  std::vector<BufferRequest> Buffers;
  int64_t LowerBound;
  /// Best arena at 16-byte arena alignment, worked out by hand.
  int64_t Arena;
};

BufferRequest buf(int64_t Size, int32_t First, int32_t Last,
                  int32_t InplaceWith = -1, int64_t Align = 16) {
  return {Size, Align, First, Last, InplaceWith};
}

std::vector<Case> handDrawnCases() {
  std::vector<Case> Cases;
  Cases.push_back({"empty", {}, 0, 0});
  // 100 bytes, rounded up to the 16-byte arena alignment.
  Cases.push_back({"single", {buf(100, 0, 0)}, 100, 112});
  // Each dies as the next is born: the two largest neighbours, 48 + 208.
  Cases.push_back(
      {"chain",
       {buf(96, 0, 1), buf(48, 1, 2), buf(208, 2, 3), buf(32, 3, 4)},
       256,
       256});
  // x feeds three branches born one step apart; at step 3 all four live:
  // 64 + 3 * 32.
  Cases.push_back({"fan-out",
                   {buf(64, 0, 3), buf(32, 1, 4), buf(32, 2, 4), buf(32, 3, 4),
                    buf(16, 4, 4)},
                   160,
                   160});
  // a -> (b, c) -> d: a, b, c live at step 2 and b, c, d at step 3.
  Cases.push_back({"diamond",
                   {buf(64, 0, 2), buf(32, 1, 3), buf(32, 2, 3), buf(64, 3, 3)},
                   128,
                   128});
  // One big buffer for the whole schedule, two small ones live beside it
  // at every step: 1024 + 2 * 16.
  {
    std::vector<BufferRequest> B = {buf(1024, 0, 10)};
    for (int32_t S = 0; S < 10; ++S)
      B.push_back(buf(16, S, S + 1));
    Cases.push_back({"many small + one big", B, 1056, 1056});
  }
  Cases.push_back({"same interval",
                   {buf(100, 0, 5, -1, 4), buf(60, 0, 5, -1, 4)},
                   160,
                   160});
  // Sizes 3, 65, 100 at 64-byte alignment, all live together: the offsets
  // are multiples of 64 and the best top is 3 * 64 + 65 = 257 -> 272.
  Cases.push_back(
      {"alignment 64, odd sizes",
       {buf(3, 0, 2, -1, 64), buf(65, 0, 2, -1, 64), buf(100, 0, 2, -1, 64)},
       168,
       272});
  // a -> b -> c each reuse the previous one's storage; d lives throughout.
  Cases.push_back(
      {"in-place chain",
       {buf(64, 0, 1), buf(64, 1, 2, 0), buf(48, 2, 3, 1), buf(32, 0, 3)},
       96,
       96});
  // b asks to reuse a smaller buffer: the request is ignored.
  Cases.push_back(
      {"invalid in-place request", {buf(32, 0, 1), buf(64, 1, 2, 0)}, 96, 96});
  Cases.push_back(
      {"zero-size buffers",
       {buf(0, 0, 5), buf(64, 0, 5), buf(0, 2, 3, -1, 64), buf(32, 3, 4)},
       96,
       96});
  return Cases;
}

/// Random interval sets of up to \p MaxBuffers buffers, some of them
/// in-place pairs; seeded, so the same sets every run.
std::vector<std::vector<BufferRequest>> randomSets(int Count, int MaxBuffers,
                                                   uint32_t Seed) {
  std::mt19937 Rng(Seed);
  auto Pick = [&](uint32_t N) { return int64_t(Rng() % N); };
  std::vector<std::vector<BufferRequest>> Sets;
  for (int C = 0; C < Count; ++C) {
    std::vector<BufferRequest> B;
    int N = int(Pick(uint32_t(MaxBuffers)) + 1);
    for (int I = 0; I < N; ++I) {
      BufferRequest R;
      R.Size = Pick(8) == 0 ? 0 : Pick(512) + 1;
      R.Align = int64_t(1) << Pick(7);
      R.First = int32_t(Pick(40));
      R.Last = R.First + int32_t(Pick(12));
      R.InplaceWith = -1;
      // Sometimes reuse an earlier buffer that dies where this one starts.
      if (I > 0 && Pick(4) == 0) {
        int32_t K = int32_t(Pick(uint32_t(I)));
        if (B[K].Size > 0) {
          R.First = B[K].Last;
          R.Last = R.First + int32_t(Pick(6));
          R.Size = Pick(uint32_t(B[K].Size)) + 1;
          R.InplaceWith = K;
        }
      }
      B.push_back(R);
    }
    Sets.push_back(std::move(B));
  }
  return Sets;
}

} // namespace

TEST_CASE("hand-drawn cases get the expected arena", "[planner]") {
  for (const Case &C : handDrawnCases()) {
    INFO(C.Name);
    CHECK(livenessLowerBound(C.Buffers) == C.LowerBound);
    MemoryPlan P = planMemory(C.Buffers);
    CHECK(checkPlan(C.Buffers, P) == "");
    CHECK(P.LowerBoundBytes == C.LowerBound);
    CHECK(P.ArenaBytes == C.Arena);
    CHECK(P.Offsets.size() == C.Buffers.size());
    CHECK_FALSE(P.Strategy.empty());
  }
}

TEST_CASE("every strategy is valid and planMemory is no worse", "[planner]") {
  REQUIRE(plannerStrategies().size() == 4);
  for (const Case &C : handDrawnCases()) {
    MemoryPlan Best = planMemory(C.Buffers);
    for (const PlannerStrategy &S : plannerStrategies()) {
      INFO(C.Name << " / " << S.Name);
      MemoryPlan P = S.Run(C.Buffers, 16);
      CHECK(checkPlan(C.Buffers, P) == "");
      CHECK(P.Strategy == S.Name);
      CHECK(P.LowerBoundBytes == C.LowerBound);
      CHECK(P.ArenaBytes >= C.LowerBound);
      CHECK(Best.ArenaBytes <= P.ArenaBytes);
    }
  }
}

TEST_CASE("planMemory reaches the lower bound where it can", "[planner]") {
  for (const Case &C : handDrawnCases()) {
    if (C.Name != "chain" && C.Name != "diamond" && C.Name != "in-place chain")
      continue;
    INFO(C.Name);
    MemoryPlan P = planMemory(C.Buffers);
    CHECK(P.ArenaBytes == P.LowerBoundBytes);
  }
}

TEST_CASE("in-place pairs share storage", "[planner]") {
  std::vector<BufferRequest> B = {buf(64, 0, 1), buf(64, 1, 2, 0),
                                  buf(48, 2, 3, 1), buf(32, 0, 3)};
  MemoryPlan P = planMemory(B);
  CHECK(P.Offsets[1] == P.Offsets[0]);
  CHECK(P.Offsets[2] == P.Offsets[1]);
  // Without the pairs the three would need 64 + 64 (+ 32) bytes.
  for (BufferRequest &R : B)
    R.InplaceWith = -1;
  CHECK(livenessLowerBound(B) == 160);
  CHECK(planMemory(B).ArenaBytes == 160);
}

TEST_CASE("zero-size buffers sit at offset 0", "[planner]") {
  std::vector<BufferRequest> B = {buf(64, 0, 5), buf(0, 0, 5, -1, 64),
                                  buf(0, 3, 3)};
  MemoryPlan P = planMemory(B);
  CHECK(P.Offsets == std::vector<int64_t>{0, 0, 0});
  CHECK(P.ArenaBytes == 64);
}

TEST_CASE("the arena is rounded up to the arena alignment", "[planner]") {
  std::vector<BufferRequest> B = {buf(5, 0, 0, -1, 1)};
  CHECK(planMemory(B, 1).ArenaBytes == 5);
  CHECK(planMemory(B, 8).ArenaBytes == 8);
  CHECK(planMemory(B, 64).ArenaBytes == 64);
}

TEST_CASE("the same input gives the same plan", "[planner]") {
  auto Sets = randomSets(5, 60, 7);
  for (const auto &B : Sets) {
    MemoryPlan First = planMemory(B);
    for (int Run = 0; Run < 10; ++Run) {
      MemoryPlan P = planMemory(B);
      REQUIRE(P.Offsets == First.Offsets);
      REQUIRE(P.ArenaBytes == First.ArenaBytes);
      REQUIRE(P.Strategy == First.Strategy);
      for (const PlannerStrategy &S : plannerStrategies())
        REQUIRE(S.Run(B, 16).Offsets == S.Run(B, 16).Offsets);
    }
  }
}

TEST_CASE("random interval sets get valid plans", "[planner]") {
  auto Sets = randomSets(200, 60, 20261125);
  for (size_t I = 0; I < Sets.size(); ++I) {
    const auto &B = Sets[I];
    INFO("set " << I << " of " << B.size() << " buffers");
    MemoryPlan Best = planMemory(B);
    REQUIRE(checkPlan(B, Best) == "");
    CHECK(Best.LowerBoundBytes == livenessLowerBound(B));
    CHECK(Best.ArenaBytes >= Best.LowerBoundBytes);
    for (const PlannerStrategy &S : plannerStrategies()) {
      MemoryPlan P = S.Run(B, 16);
      INFO(S.Name);
      REQUIRE(checkPlan(B, P) == "");
      CHECK(Best.ArenaBytes <= P.ArenaBytes);
    }
  }
}

TEST_CASE("a few thousand buffers plan validly", "[planner]") {
  std::mt19937 Rng(11);
  std::vector<BufferRequest> B;
  for (int I = 0; I < 2000; ++I) {
    int32_t First = int32_t(Rng() % 2000);
    B.push_back(buf(int64_t(Rng() % 4096) + 1, First,
                    First + int32_t(Rng() % 40), -1,
                    int64_t(1) << (Rng() % 5)));
  }
  MemoryPlan P = planMemory(B);
  REQUIRE(checkPlan(B, P) == "");
  CHECK(P.ArenaBytes >= P.LowerBoundBytes);
}

TEST_CASE("checkPlan catches broken plans", "[planner]") {
  std::vector<BufferRequest> B = {buf(64, 0, 2), buf(32, 1, 3),
                                  buf(16, 3, 4, -1, 32)};
  MemoryPlan Good;
  Good.Offsets = {0, 64, 0};
  Good.ArenaBytes = 96;
  REQUIRE(checkPlan(B, Good) == "");

  MemoryPlan Overlap = Good;
  Overlap.Offsets[1] = 32;
  CHECK(checkPlan(B, Overlap) ==
        "buffers 0 [0, 64) and 1 [32, 64) overlap while both live at step 1");

  MemoryPlan Misaligned = Good;
  Misaligned.Offsets[2] = 16;
  CHECK(checkPlan(B, Misaligned) ==
        "buffer 2 at offset 16 is not aligned to 32");

  MemoryPlan Outside = Good;
  Outside.ArenaBytes = 80;
  CHECK(checkPlan(B, Outside) ==
        "buffer 1 [64, 96) lies outside the arena of 80 bytes");

  MemoryPlan Short = Good;
  Short.Offsets.pop_back();
  CHECK(checkPlan(B, Short) == "plan has 2 offsets for 3 buffers");

  // Sharing is allowed only for a valid in-place pair at the same offset.
  std::vector<BufferRequest> Pair = {buf(64, 0, 1), buf(64, 1, 2, 0)};
  MemoryPlan Shared;
  Shared.Offsets = {0, 0};
  Shared.ArenaBytes = 64;
  CHECK(checkPlan(Pair, Shared) == "");
  Pair[1].InplaceWith = -1;
  CHECK_FALSE(checkPlan(Pair, Shared).empty());
}
