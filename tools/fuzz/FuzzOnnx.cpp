//===- FuzzOnnx.cpp - libFuzzer target: ONNX bytes to generated C++ -------===//
//
// Feeds arbitrary bytes to compile() (driver/Driver.h): the ONNX importer
// and, when they import, the inference and the training pipeline, the
// memory layout, the lowering and the C++ emitter. Any crash, sanitizer
// report, leak or hang is a bug: every stage must turn bad input into a
// Diag. tools/fuzz.sh builds and runs it.
//
//===----------------------------------------------------------------------===//

#include "driver/Driver.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace mote;

namespace {

void compileBytes(std::string_view Bytes, bool Training) {
  CompileOptions O;
  O.ModelPath = "fuzz.onnx";
  O.Training = Training;
  // External data is looked up in a directory that does not exist.
  (void)compileOnnxBytes(Bytes, "fuzz.onnx", "/nonexistent-mote-fuzz", O);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  std::string_view Bytes(reinterpret_cast<const char *>(Data), Size);
  compileBytes(Bytes, /*Training=*/false);
  compileBytes(Bytes, /*Training=*/true);
  return 0;
}
