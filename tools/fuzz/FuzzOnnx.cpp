//===- FuzzOnnx.cpp - libFuzzer target: ONNX bytes to generated C++ -------===//
//
// Feeds arbitrary bytes to the ONNX importer and, when they import, runs the
// inference and the training pipeline, the memory layout and the C++ emitter
// on the result. Any crash, sanitizer report, leak or hang is a bug: every
// stage must turn bad input into a Diag. tools/fuzz.sh builds and runs it.
//
//===----------------------------------------------------------------------===//

#include "codegen/cpp/CppEmitter.h"
#include "compiler/Graph.h"
#include "compiler/Verifier.h"
#include "frontends/onnx/OnnxImporter.h"
#include "memory/Layout.h"
#include "passes/Pass.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace mote;

namespace {

void compile(std::string_view Bytes, bool Training) {
  ImportOptions Opts;
  // External data is looked up in a directory that does not exist.
  auto G = importOnnxBytes(Bytes, "fuzz.onnx", "/nonexistent-mote-fuzz", Opts);
  if (!G)
    return;
  PassContext Ctx;
  if (!runPipeline(defaultPipeline(Training), **G, Ctx))
    return;
  auto L = computeLayout(**G);
  if (!L)
    return;
  CppEmitOptions O;
  O.Prediction = Ctx.Prediction;
  (void)emitCpp(**G, *L, O);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  std::string_view Bytes(reinterpret_cast<const char *>(Data), Size);
  compile(Bytes, /*Training=*/false);
  compile(Bytes, /*Training=*/true);
  return 0;
}
