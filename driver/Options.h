//===- Options.h - The options of a compile, and their one parser -*- C++
//-*-===//
//
// CompileOptions is everything that shapes what compile() (Driver.h) makes:
// how the model is imported, whether and how it trains, the pipeline, the
// RAM budget, and what code is emitted for which target. Every tool reads
// it from its command line through parseCompileOptions (motec) or
// parseTrainOptions (mote-opt, which takes the training options only), so
// an option means the same everywhere and is checked in one place. Errors
// are Diags; a malformed or conflicting option is a usage error
// (Diag::Usage), a bad update spec or unreadable file a user error.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_DRIVER_OPTIONS_H
#define MOTE_DRIVER_OPTIONS_H

#include "compiler/Diagnostic.h"
#include "compiler/Tensor.h"
#include "driver/CommandLine.h"
#include "frontends/onnx/OnnxImporter.h"
#include "passes/Pass.h"

#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace mote {

class Graph;
struct TargetInfo;

/// What compile() writes besides the reports.
enum class EmitKind {
  Cpp,    ///< NAME.h, NAME.cpp, NAME.weights and the runtime-stub files
  Object, ///< NAME.h and NAME.o from the LLVM backend
  Both,   ///< all of them
  None,   ///< nothing (the code is still lowered, so it would compile)
};

struct CompileOptions {
  /// The ONNX model (compile(O) reads it; the other entries take the graph
  /// or bytes and use it in messages).
  std::string ModelPath;
  ImportOptions Import;
  /// A training step (the training passes) rather than inference.
  bool Training = false;
  TrainOptions Train;
  /// The schedule pass (off: the naive order, to measure what it buys).
  bool Reorder = true;
  /// The fuse pass (off: one kernel per op, every gradient stored).
  bool Fuse = true;
  /// The pack-masks pass (off: ReLU/Clip gradients read the saved values
  /// whole, to measure what the masks buy).
  bool PackMasks = true;
  /// The stream pass (off: every forward chain computed whole, to measure
  /// what the bands buy).
  bool Stream = true;
  /// Run exactly these passes (Passes.def names) instead of the default
  /// pipeline.
  std::optional<std::vector<std::string>> Passes;
  /// Verify the graph when it comes in and after every pass.
  bool VerifyEach = true;
  /// --quantize int8: post-training quantization (passes/Quantize.cpp)
  /// with the samples of --calibration ([NAME=]PATH, loadCalibration).
  bool QuantizeInt8 = false;
  std::vector<std::string> Calibration;
  /// Fail at layout if the arena needs more bytes.
  std::optional<int64_t> RamBudget;
  /// Prefix of the generated symbols; a C identifier.
  std::string Name = "model";
  EmitKind Emit = EmitKind::Cpp;
  /// The device (codegen/Targets.h); null is the host.
  const TargetInfo *Target = nullptr;
  /// LLVM optimisation level of the object, 0 to 3.
  int OptLevel = 2;
  /// The C++ in its --check-bounds debug mode (codegen/cpp/CppEmitter.h).
  bool CheckBounds = false;

  /// The target, the host if none is set.
  const TargetInfo &target() const;
};

/// The model options of every motec command that compiles: import
/// (--input-shape, --batch), training (--train ... --update-file) and the
/// passes (--no-reorder, --no-fuse).
std::span<const OptionSpec> modelOptionSpecs();
/// The training options alone (--loss ... --update-file): what mote-opt
/// takes to configure the passes it runs.
std::span<const OptionSpec> trainOptionSpecs();

/// The options of \p Args that shape a compile: the one positional argument
/// (the model), the model options, and --ram-budget, --name, --emit,
/// --target and --check-bounds where the command accepts them.
Expected<CompileOptions> parseCompileOptions(const ParsedArgs &Args);

/// Reads the training options of \p Args into \p T (parseCompileOptions
/// does, after checking they come with --train).
Status parseTrainOptions(const ParsedArgs &Args, TrainOptions &T);

/// The calibration samples of --calibration \p Specs ([NAME=]PATH each,
/// PATH a .pb TensorProto or a directory of them) for the inputs of \p G:
/// one feed map per sample. A tensor holding a batch of the input's batch
/// size, or one sample without the batch dim, is split or taken as it is;
/// every input needs data, and all of them the same number of samples.
Expected<std::vector<std::map<std::string, Tensor>>>
loadCalibration(const Graph &G, const std::vector<std::string> &Specs);

/// "NAME=1x3x96x96" (--input-shape).
Expected<std::pair<std::string, Shape>> parseInputShape(std::string_view S);

/// A byte count, optionally with a K or M suffix (binary: 256K = 262144),
/// given to option \p Option.
Expected<int64_t> parseByteSize(std::string_view Option, std::string_view S);

} // namespace mote

#endif // MOTE_DRIVER_OPTIONS_H
