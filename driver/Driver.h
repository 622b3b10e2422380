//===- Driver.h - compile(): from a model to code, in the library -*- C++
//-*-===//
//
// The one way into the compiler for a tool, a test, a fuzzer or another
// front end. compile() takes a model (an ONNX file, ONNX bytes, or a graph
// built elsewhere, e.g. parsed IR) and CompileOptions (driver/Options.h)
// and runs, as far as asked:
//
//   import       frontends/onnx         ONNX protobuf -> typed graph
//   passes       passes/Pipeline.cpp    the default pipeline, or a pass list
//   layout       memory/Layout.h        buffers, intervals, the arena plan;
//                                       the --ram-budget check
//   lower        codegen/Program.h      one kernel call per node, operands
//                                       resolved, the API plan
//   emit         codegen/cpp, llvm      NAME.h + NAME.cpp + NAME.weights
//                                       and the runtime-stub files, and/or
//                                       NAME.h + NAME.o
//
// and returns everything a tool prints or writes: the graph, what the
// passes recorded, the layout, the lowered program and the files. The
// reports (report.json, the HTML drawing) are made from a CompiledModel by
// driver/Report.h. Errors are Diags naming the model file.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_DRIVER_DRIVER_H
#define MOTE_DRIVER_DRIVER_H

#include "codegen/Output.h"
#include "codegen/Program.h"
#include "compiler/Graph.h"
#include "driver/Options.h"
#include "driver/UpdateAuto.h"
#include "memory/Layout.h"
#include "passes/Pass.h"

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace mote {

/// How far compile() goes.
enum class Stage {
  Graph,  ///< import and passes: the graph (inspect, the interpreter)
  Layout, ///< and its memory layout (plan)
  Code,   ///< and the lowered program and the files of CompileOptions::Emit
};

struct CompiledModel {
  CompileOptions Options;
  std::unique_ptr<Graph> G;
  /// What the passes recorded: the loss, the prediction, the fusion counts,
  /// the passes that ran.
  PassContext Passes;
  std::optional<MemoryLayout> Layout;
  /// Milliseconds the layout took (motec plan prints it).
  double LayoutMs = 0;
  std::optional<LoweredProgram> Program;
  /// The files of Options.Emit, NAME.h first.
  std::vector<EmittedFile> Files;
  /// What --update auto chose (Options.Train.Update holds its rules).
  std::optional<AutoUpdate> Auto;
};

/// Compiles the ONNX model at O.ModelPath.
Expected<CompiledModel> compile(const CompileOptions &O,
                                Stage Until = Stage::Code);

/// Compiles the serialized ONNX model \p Bytes; \p SourceName names it in
/// diagnostics, external data is looked up under \p BaseDir.
Expected<CompiledModel> compileOnnxBytes(std::string_view Bytes,
                                         const std::string &SourceName,
                                         const std::string &BaseDir,
                                         const CompileOptions &O,
                                         Stage Until = Stage::Code);

/// Compiles a graph built elsewhere (parsed IR, a test's graph); verified
/// first when O.VerifyEach.
Expected<CompiledModel> compileGraph(std::unique_ptr<Graph> G,
                                     const CompileOptions &O,
                                     Stage Until = Stage::Code);

/// The files of \p Emit for target \p T from a model compiled to
/// Stage::Code (another backend or target than its own options chose).
Expected<std::vector<EmittedFile>>
emitFiles(const CompiledModel &M, EmitKind Emit, const TargetInfo &T);

/// The module the LLVM backend builds for \p M on target \p T, as text,
/// before the kernel library is linked in (golden tests).
Expected<std::string> emitLlvmIr(const CompiledModel &M, const TargetInfo &T);

/// A main() that drives \p M's generated code on target \p T: reads the
/// inputs from in<i>.bin, runs \p Steps training steps (or inferences) and
/// writes loss.bin and checkpoint.bin (or out<i>.bin); the host's libc, or
/// the board's I/O (codegen/cpp/Harness.h).
std::string harnessSource(const CompiledModel &M, const TargetInfo &T,
                          int64_t Steps);

} // namespace mote

#endif // MOTE_DRIVER_DRIVER_H
