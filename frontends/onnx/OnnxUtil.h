//===- OnnxUtil.h - Shared helpers of the ONNX frontend ---------*- C++ -*-===//

#ifndef MOTE_FRONTENDS_ONNX_ONNXUTIL_H
#define MOTE_FRONTENDS_ONNX_ONNXUTIL_H

#include "compiler/DType.h"

#include <optional>
#include <string>

namespace mote {

/// mote element type of an ONNX TensorProto::DataType, if supported.
std::optional<DType> dtypeFromOnnx(int T);
/// ONNX TensorProto::DataType of a mote element type.
int dtypeToOnnx(DType T);
/// "FLOAT16", "STRING", ... for messages.
std::string onnxDTypeName(int T);

} // namespace mote

#endif // MOTE_FRONTENDS_ONNX_ONNXUTIL_H
