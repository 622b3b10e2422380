//===- OnnxImporter.h - ONNX model -> graph IR ------------------*- C++ -*-===//
//
// Reads an .onnx file (default-domain opsets 11-17) into a Graph:
//   - ONNX shape inference runs first; mote's own type rules then give every
//     value a static type and are cross-checked against ONNX's where ONNX
//     knows a static shape,
//   - initializers become parameters (external data is read from files inside
//     the model's directory, or refused),
//   - Constant nodes and nodes whose operands are all constants are folded
//     into constants,
//   - each (op_type, opset) maps through a table to a handler that emits the
//     canonical IR op (constant operands such as Reshape's shape become
//     attributes),
//   - every unsupported op of the model is listed in one error.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_FRONTENDS_ONNX_ONNXIMPORTER_H
#define MOTE_FRONTENDS_ONNX_ONNXIMPORTER_H

#include "compiler/Diagnostic.h"
#include "compiler/Tensor.h"

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace onnx {
class ModelProto;
class TensorProto;
} // namespace onnx

namespace mote {

class Graph;

struct ImportOptions {
  /// Static shapes for graph inputs (binds dynamic dims): name -> dims.
  std::map<std::string, Shape> InputShapes;
  /// If positive, dim 0 (the batch) of every graph input whose dim 0 is 1 or
  /// symbolic becomes this (--batch).
  int64_t Batch = -1;
  /// Graph inputs whose values are known at compile time; they become
  /// constants (the ONNX node tests feed shape operands this way).
  std::map<std::string, Tensor> ConstantInputs;
};

/// Imports the model at \p Path.
Expected<std::unique_ptr<Graph>> importOnnxFile(const std::string &Path,
                                                const ImportOptions &Opts = {});

/// Imports an in-memory serialized model. \p SourceName names it in
/// diagnostics; external data is looked up under \p BaseDir.
Expected<std::unique_ptr<Graph>> importOnnxBytes(std::string_view Bytes,
                                                 const std::string &SourceName,
                                                 const std::string &BaseDir,
                                                 const ImportOptions &Opts = {});

/// Converts a TensorProto (raw or typed data, or external data under
/// \p BaseDir) to a Tensor.
Expected<Tensor> tensorFromProto(const onnx::TensorProto &P,
                                 const std::string &BaseDir);

/// Reads a serialized TensorProto file (.pb, as in ONNX test data).
Expected<Tensor> readTensorFile(const std::string &Path);

/// Writes \p T as a serialized TensorProto named \p Name.
Status writeTensorFile(const std::string &Path, const Tensor &T,
                       const std::string &Name);

/// One row of the importer's op table, for docs and `motec --list-ops`.
struct OnnxOpSupport {
  std::string_view OpType;
  int MinOpset;
  int MaxOpset;
};
std::vector<OnnxOpSupport> supportedOnnxOps();

/// Whether the importer handles \p OpType of the default domain at \p Opset.
bool isOnnxOpSupported(std::string_view OpType, int Opset);

/// Opsets of the default domain the importer accepts.
inline constexpr int MinOnnxOpset = 10;
inline constexpr int MaxOnnxOpset = 17;

} // namespace mote

#endif // MOTE_FRONTENDS_ONNX_ONNXIMPORTER_H
