//===- FuzzIr.cpp - libFuzzer target: the textual IR parser ---------------===//
//
// Parses arbitrary text as mote IR; what parses is verified, printed, parsed
// again (the round trip must succeed and print identically) and laid out
// through the driver (compileGraph to Stage::Layout, no passes).
// Graphs declaring more than MaxElements values in all are only parsed: a
// parameter prints every one of its values, so a few bytes of text can ask
// for gigabytes of round trip (linear work, not a hang; found by the
// fuzzer as a timeout, kept in tests/fuzz/regressions/ir).
//
//===----------------------------------------------------------------------===//

#include "compiler/Graph.h"
#include "compiler/Parser.h"
#include "compiler/Printer.h"
#include "compiler/Verifier.h"
#include "driver/Driver.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace mote;

namespace {
constexpr int64_t MaxElements = int64_t(1) << 20;
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  std::string_view Text(reinterpret_cast<const char *>(Data), Size);
  auto G = parseGraph(Text, "fuzz.mote");
  if (!G || !verifyGraph(**G))
    return 0;
  int64_t Elements = 0;
  for (const Value *V : (*G)->values())
    Elements += V->type().numElements();
  if (Elements > MaxElements)
    return 0;
  std::string Once = printGraph(**G);
  auto Back = parseGraph(Once, "fuzz-printed.mote");
  if (!Back || printGraph(**Back) != Once)
    std::abort(); // the printer wrote something the parser reads otherwise
  CompileOptions O;
  O.ModelPath = "fuzz.mote";
  O.Passes.emplace(); // no passes: the graph as it is
  (void)compileGraph(std::move(*G), O, Stage::Layout);
  return 0;
}
