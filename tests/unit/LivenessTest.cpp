//===- LivenessTest.cpp - Buffers of a schedule, in-place sharing ---------===//

#include "compiler/Graph.h"
#include "compiler/Parser.h"
#include "memory/Layout.h"

#include <catch2/catch.hpp>

using namespace mote;

namespace {

const BufferInfo &bufferOf(const MemoryLayout &L, std::string_view Name) {
  for (const BufferInfo &B : L.Buffers)
    if (B.V->name() == Name)
      return B;
  FAIL("no buffer " << Name);
  return L.Buffers.front();
}

// x -> Gemm -> h -> Relu -> r -> Neg -> n -> Gemm -> y, with h also read
// by the second Gemm in the "branch" graph.
constexpr std::string_view Chain = R"(graph @chain {
  input %x : f32[1,64]
  param %w : f32[64,64]
  %h = Gemm "g1"(%x, %w) : f32[1,64]
  %r = Relu "relu"(%h) : f32[1,64]
  %n = Neg "neg"(%r) : f32[1,64]
  %y = Gemm "g2"(%n, %w) : f32[1,64]
  output %y
}
)";

constexpr std::string_view Branch = R"(graph @branch {
  input %x : f32[1,64]
  param %w : f32[64,64]
  %h = Gemm "g1"(%x, %w) : f32[1,64]
  %r = Relu "relu"(%h) : f32[1,64]
  %s = Add "add"(%r, %h) : f32[1,64]
  %y = Gemm "g2"(%s, %w) : f32[1,64]
  output %y
}
)";

} // namespace

TEST_CASE("elementwise results overwrite an input that dies there",
          "[liveness]") {
  auto G = parseGraph(Chain);
  REQUIRE(G);
  auto L = computeLayout(**G);
  REQUIRE(L);
  const BufferInfo &H = bufferOf(*L, "h"), &R = bufferOf(*L, "r"),
                   &N = bufferOf(*L, "n");
  CHECK(R.InplaceWith == (*G)->lookup("h"));
  CHECK(N.InplaceWith == (*G)->lookup("r"));
  CHECK(R.Offset == H.Offset);
  CHECK(N.Offset == H.Offset);
  // The chain's first buffer holds the storage until n's last use (g2).
  CHECK(H.First == 0);
  CHECK(H.Last == 3);
  // x, h/r/n and y: x dies at g1 (step 0), so at most two 256-byte
  // buffers are live at once.
  CHECK(L->Plan.LowerBoundBytes == 512);

  auto Off = computeLayout(**G, 16, /*InPlace=*/false);
  REQUIRE(Off);
  CHECK(bufferOf(*Off, "r").InplaceWith == nullptr);
  CHECK(Off->Plan.LowerBoundBytes == 512);
  CHECK(Off->Plan.ArenaBytes >= L->Plan.ArenaBytes);
}

TEST_CASE("an input still read later is never overwritten", "[liveness]") {
  auto G = parseGraph(Branch);
  REQUIRE(G);
  auto L = computeLayout(**G);
  REQUIRE(L);
  // h is read again by add, so relu may not write over it; add may write
  // over r or h, both of which die at add.
  CHECK(bufferOf(*L, "r").InplaceWith == nullptr);
  const BufferInfo &S = bufferOf(*L, "s");
  REQUIRE(S.InplaceWith != nullptr);
  CHECK(S.InplaceWith->name() == "r");
  CHECK(S.Offset == bufferOf(*L, "r").Offset);
  CHECK(bufferOf(*L, "r").Offset != bufferOf(*L, "h").Offset);
  // Graph inputs and parameters are never written over.
  CHECK(bufferOf(*L, "x").InplaceWith == nullptr);
}
