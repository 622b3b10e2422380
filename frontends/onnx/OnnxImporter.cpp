//===- OnnxImporter.cpp - ONNX model -> graph IR --------------------------===//
//
// The importer walks the ONNX graph in order. Each node is looked up in the
// handler table by (op_type, opset); the handler emits canonical IR through
// ImportContext::emit, which runs the op's type rule, cross-checks the result
// against ONNX shape inference, and folds the node into constants when all
// its operands are constant.
//
//===----------------------------------------------------------------------===//

#include "frontends/onnx/OnnxImporter.h"
#include "compiler/Graph.h"
#include "compiler/OpDef.h"
#include "compiler/Verifier.h"
#include "frontends/onnx/OnnxUtil.h"

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <limits>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <unordered_map>

namespace fs = std::filesystem;

namespace mote {

namespace {

/// Largest result the importer folds at compile time (elements).
constexpr int64_t MaxFoldElements = int64_t(1) << 22;

/// Largest .onnx file accepted (protobuf's own limit is 2 GiB).
constexpr int64_t MaxModelBytes = (int64_t(1) << 31) - 1;

class ImportContext;
using Handler = Status (*)(ImportContext &, const onnx::NodeProto &);

struct HandlerEntry {
  std::string_view OpType;
  int MinOpset;
  int MaxOpset;
  Handler Fn;
};

/// State of one import.
class ImportContext {
public:
  ImportContext(Graph &G, std::string BaseDir, int Opset)
      : G(G), BaseDir(std::move(BaseDir)), Opset(Opset) {}

  Graph &G;
  std::string BaseDir;
  int Opset;
  /// ONNX value name -> IR value.
  std::unordered_map<std::string, Value *> Values;
  /// Static types ONNX shape inference found, by value name.
  std::unordered_map<std::string, TensorType> OnnxTypes;
  /// The node being imported (for diagnostics).
  const onnx::NodeProto *Current = nullptr;
  std::string CurrentName;

  /// A Diag located at the current node.
  Diag error(std::string Msg) const {
    Diag D(std::move(Msg));
    D.NodeName = CurrentName;
    D.OpType = Current ? Current->op_type() : "";
    D.Opset = Opset;
    D.File = G.SourceFile;
    return D;
  }

  /// IR value of ONNX input \p I of the current node, or null if absent.
  Expected<Value *> input(const onnx::NodeProto &N, int I) {
    if (I >= N.input_size() || N.input(I).empty())
      return static_cast<Value *>(nullptr);
    auto It = Values.find(N.input(I));
    if (It == Values.end())
      return error(fmt::format("input '{}' is not defined before this node "
                               "(the graph is not in topological order, or "
                               "the name is missing)",
                               N.input(I)));
    return It->second;
  }

  /// Data of ONNX input \p I, which must be a compile-time constant.
  /// \p Why says why it must be.
  Expected<const Tensor *>
  constInput(const onnx::NodeProto &N, int I, std::string_view What,
             std::string_view Why = "mote needs static shapes") {
    Expected<Value *> V = input(N, I);
    if (!V)
      return V.takeError();
    if (!*V)
      return static_cast<const Tensor *>(nullptr);
    if (!(*V)->hasData())
      return error(fmt::format("{} ('{}') must be a constant or an "
                               "initializer; {}",
                               What, (*V)->name(), Why));
    return (*V)->data();
  }

  /// Emits IR op \p Op for the current node with \p Ins and \p Attrs; binds
  /// the ONNX outputs of the node to the results.
  Status emit(const onnx::NodeProto &N, OpKind Op, std::vector<Value *> Ins,
              AttrMap Attrs, int NumResults = -1);

  /// Emits an internal helper node (no ONNX outputs bound); returns its
  /// single result.
  Expected<Value *> emitHelper(OpKind Op, std::vector<Value *> Ins,
                               AttrMap Attrs, std::string_view Suffix);

  /// Binds ONNX output \p Name to \p V.
  Status bind(const std::string &Name, Value *V) {
    if (Name.empty())
      return ok();
    if (Values.count(Name))
      return error(fmt::format("value '{}' is defined twice", Name));
    Values[Name] = V;
    return ok();
  }

  /// A fresh value name based on \p Base.
  std::string freshName(std::string_view Base) { return G.uniqueName(Base); }

private:
  Expected<Node *> create(OpKind Op, std::vector<Value *> Ins, AttrMap Attrs,
                          std::vector<std::string> ResultNames,
                          std::string NodeName);
  void fold(Node *N);
};

bool isConstLike(const Value *V) {
  // Integer initializers are never trained: they are shapes and indices.
  return V->isConst() || (V->isParam() && !isFloat(V->type().Elem));
}

Expected<Node *> ImportContext::create(OpKind Op, std::vector<Value *> Ins,
                                       AttrMap Attrs,
                                       std::vector<std::string> ResultNames,
                                       std::string NodeName) {
  Expected<Node *> Nd = G.createNode(nullptr, Op, std::move(NodeName),
                                     std::move(Ins), std::move(Attrs),
                                     std::move(ResultNames));
  if (!Nd)
    return error(Nd.error().Message);
  return Nd;
}

void ImportContext::fold(Node *N) {
  bool AllConst = true;
  for (Value *In : N->inputs())
    AllConst &= !In || isConstLike(In);
  // Shape only needs its input's static type.
  if (!(AllConst || N->op() == OpKind::Shape))
    return;
  // A dequantized initializer stays quantized in flash (folding would make
  // an f32 constant of an int8 weight).
  if (N->op() == OpKind::DequantizeLinear && N->input(0)->isParam())
    return;
  for (Value *O : N->outputs())
    if (O->type().numElements() > MaxFoldElements)
      return;
  std::vector<const Tensor *> Ins;
  Tensor Placeholder;
  for (Value *In : N->inputs()) {
    if (In && !In->hasData()) {
      // Only Shape gets here: its kernel reads the type, not the data.
      Placeholder = Tensor(TensorType(In->type().Elem, {0}));
      Ins.push_back(&Placeholder);
      continue;
    }
    Ins.push_back(In ? In->data() : nullptr);
  }
  if (N->op() == OpKind::Shape && !Ins.empty() && Ins[0] == &Placeholder)
    Ins[0] = nullptr;
  std::vector<Tensor> Outs;
  for (Value *O : N->outputs())
    Outs.emplace_back(O->type());
  if (N->op() == OpKind::Shape) {
    // Static shapes: the result is the input's dims.
    const Shape &Dims = N->input(0)->type().Dims;
    int64_t R = int64_t(Dims.size());
    int64_t Start = N->attrs().getInt("start", 0);
    int64_t End = N->attrs().getInt("end", R);
    Start = std::clamp(Start < 0 ? Start + R : Start, int64_t(0), R);
    End = std::clamp(End < 0 ? End + R : End, int64_t(0), R);
    for (int64_t I = Start; I < End; ++I)
      Outs[0].data<int64_t>()[size_t(I - Start)] = Dims[size_t(I)];
  } else if (!N->def().Kernel(*N, Ins, Outs)) {
    return; // leave it to run time, where the kernel reports the problem
  }
  for (size_t I = 0; I < N->numOutputs(); ++I)
    G.convertToConst(N->output(I), std::move(Outs[I]));
  G.eraseNode(N);
}

Status ImportContext::emit(const onnx::NodeProto &N, OpKind Op,
                           std::vector<Value *> Ins, AttrMap Attrs,
                           int NumResults) {
  int NumOut = NumResults >= 0 ? NumResults : N.output_size();
  // Trailing optional outputs that are not used are left out.
  while (NumOut > 1 && N.output(NumOut - 1).empty())
    --NumOut;
  std::vector<std::string> Names;
  for (int I = 0; I < NumOut; ++I) {
    const std::string &O = N.output(I);
    if (!O.empty() && (Values.count(O) || G.isNameTaken(O)))
      return error(fmt::format("value '{}' is defined twice", O));
    Names.push_back(O.empty() ? freshName(CurrentName + ".unused") : O);
  }
  Expected<Node *> Nd =
      create(Op, std::move(Ins), std::move(Attrs), Names, CurrentName);
  if (!Nd)
    return Nd.takeError();
  for (int I = 0; I < NumOut; ++I) {
    Value *V = (*Nd)->output(size_t(I));
    auto It = OnnxTypes.find(N.output(I));
    // ONNX types carry no quantization parameters: compare the storage.
    if (It != OnnxTypes.end() && !It->second.sameStorage(V->type()))
      return error(fmt::format("output '{}': mote computes {} but ONNX shape "
                               "inference says {}",
                               N.output(I), V->type().str(),
                               It->second.str()));
    if (Status S = bind(N.output(I), V); !S)
      return S;
  }
  fold(*Nd);
  return ok();
}

Expected<Value *> ImportContext::emitHelper(OpKind Op, std::vector<Value *> Ins,
                                            AttrMap Attrs,
                                            std::string_view Suffix) {
  std::string Base = CurrentName + "." + std::string(Suffix);
  Expected<Node *> Nd = create(Op, std::move(Ins), std::move(Attrs),
                               {freshName(Base)}, freshName(Base));
  if (!Nd)
    return Nd.takeError();
  Value *R = (*Nd)->output(0);
  fold(*Nd);
  return R;
}

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

Expected<AttrMap> convertAttrs(ImportContext &C, const onnx::NodeProto &N,
                               std::initializer_list<std::string_view> Drop = {}) {
  AttrMap M;
  for (const onnx::AttributeProto &A : N.attribute()) {
    if (std::find(Drop.begin(), Drop.end(), A.name()) != Drop.end())
      continue;
    switch (A.type()) {
    case onnx::AttributeProto::INT:
      M.set(A.name(), int64_t(A.i()));
      break;
    case onnx::AttributeProto::FLOAT:
      M.set(A.name(), A.f());
      break;
    case onnx::AttributeProto::STRING:
      M.set(A.name(), A.s());
      break;
    case onnx::AttributeProto::INTS:
      M.set(A.name(), std::vector<int64_t>(A.ints().begin(), A.ints().end()));
      break;
    case onnx::AttributeProto::FLOATS:
      M.set(A.name(), std::vector<float>(A.floats().begin(), A.floats().end()));
      break;
    case onnx::AttributeProto::STRINGS:
      M.set(A.name(),
            std::vector<std::string>(A.strings().begin(), A.strings().end()));
      break;
    default:
      return C.error(fmt::format("attribute '{}' has type {}, which this op "
                                 "does not take",
                                 A.name(),
                                 onnx::AttributeProto_AttributeType_Name(
                                     A.type())));
    }
  }
  return M;
}

const onnx::AttributeProto *findAttr(const onnx::NodeProto &N,
                                     std::string_view Name) {
  for (const onnx::AttributeProto &A : N.attribute())
    if (A.name() == Name)
      return &A;
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Handlers
//===----------------------------------------------------------------------===//

/// Collects the first \p Max ONNX inputs of the node.
Expected<std::vector<Value *>> inputs(ImportContext &C,
                                      const onnx::NodeProto &N, int Max) {
  std::vector<Value *> Ins;
  for (int I = 0; I < std::min(N.input_size(), Max); ++I) {
    Expected<Value *> V = C.input(N, I);
    if (!V)
      return V.takeError();
    Ins.push_back(*V);
  }
  while (!Ins.empty() && !Ins.back())
    Ins.pop_back();
  return Ins;
}

/// Maps an ONNX op onto the IR op of the same name, attributes unchanged.
template <OpKind Op, int MaxInputs = 64>
Status direct(ImportContext &C, const onnx::NodeProto &N) {
  if (N.input_size() > MaxInputs)
    return C.error(fmt::format("expects at most {} inputs, got {}", MaxInputs,
                               N.input_size()));
  Expected<std::vector<Value *>> Ins = inputs(C, N, MaxInputs);
  if (!Ins)
    return Ins.takeError();
  Expected<AttrMap> A = convertAttrs(C, N);
  if (!A)
    return A.takeError();
  return C.emit(N, Op, std::move(*Ins), std::move(*A));
}

Status importConstant(ImportContext &C, const onnx::NodeProto &N) {
  if (N.attribute_size() != 1 || N.output_size() != 1)
    return C.error("expects exactly one value attribute and one output");
  const onnx::AttributeProto &A = N.attribute(0);
  Tensor T;
  if (A.name() == "value") {
    Expected<Tensor> V = tensorFromProto(A.t(), C.BaseDir);
    if (!V)
      return C.error(V.error().Message);
    T = std::move(*V);
  } else if (A.name() == "value_float") {
    T = Tensor::fromVector<float>({A.f()}, {});
  } else if (A.name() == "value_floats") {
    T = Tensor::fromVector<float>({A.floats().begin(), A.floats().end()},
                                  {A.floats_size()});
  } else if (A.name() == "value_int") {
    T = Tensor::fromVector<int64_t>({A.i()}, {});
  } else if (A.name() == "value_ints") {
    T = Tensor::fromVector<int64_t>({A.ints().begin(), A.ints().end()},
                                    {A.ints_size()});
  } else {
    return C.error(fmt::format("constant attribute '{}' is not supported",
                               A.name()));
  }
  const std::string &Name = N.output(0);
  if (C.Values.count(Name) || C.G.isNameTaken(Name))
    return C.error(fmt::format("value '{}' is defined twice", Name));
  return C.bind(Name, C.G.addConst(Name, std::move(T)));
}

Status importConstantOfShape(ImportContext &C, const onnx::NodeProto &N) {
  Expected<const Tensor *> S = C.constInput(N, 0, "the shape operand");
  if (!S)
    return S.takeError();
  if (!*S)
    return C.error("the shape operand is missing");
  Shape Dims = (*S)->toInts();
  Tensor Fill = Tensor::fromVector<float>({0.0f}, {1});
  if (const onnx::AttributeProto *A = findAttr(N, "value")) {
    Expected<Tensor> V = tensorFromProto(A->t(), C.BaseDir);
    if (!V)
      return C.error(V.error().Message);
    if (V->numElements() != 1)
      return C.error("value must hold exactly one element");
    Fill = std::move(*V);
  }
  TensorType T(Fill.dtype(), Dims);
  if (!T.isValid() || T.numElements() > MaxFoldElements)
    return C.error(fmt::format("shape {} is invalid or too large",
                               shapeStr(Dims)));
  Tensor R(T);
  for (int64_t I = 0; I < R.numElements(); ++I)
    R.setFromDouble(I, Fill.getAsDouble(0));
  const std::string &Name = N.output(0);
  if (C.Values.count(Name) || C.G.isNameTaken(Name))
    return C.error(fmt::format("value '{}' is defined twice", Name));
  return C.bind(Name, C.G.addConst(Name, std::move(R)));
}

/// Reshape: the shape operand is resolved (0 copies a dim, -1 infers one)
/// into the exact result shape.
Status importReshape(ImportContext &C, const onnx::NodeProto &N) {
  Expected<Value *> X = C.input(N, 0);
  if (!X)
    return X.takeError();
  Expected<const Tensor *> S = C.constInput(N, 1, "the shape operand");
  if (!S)
    return S.takeError();
  if (!*X || !*S)
    return C.error("expects data and shape operands");
  const onnx::AttributeProto *AZ = findAttr(N, "allowzero");
  bool AllowZero = AZ && AZ->i() != 0;
  Shape In = (*X)->type().Dims;
  Shape Req = (*S)->toInts();
  Shape Out(Req.size());
  int InferAt = -1;
  int64_t Known = 1;
  for (size_t I = 0; I < Req.size(); ++I) {
    int64_t D = Req[I];
    if (D == 0 && !AllowZero) {
      if (I >= In.size())
        return C.error(fmt::format("shape {} copies dim {} but the input has "
                                   "rank {}",
                                   shapeStr(Req), I, In.size()));
      D = In[I];
    }
    if (D == -1) {
      if (InferAt >= 0)
        return C.error(fmt::format("shape {} has more than one -1",
                                   shapeStr(Req)));
      InferAt = int(I);
      continue;
    }
    if (D < 0)
      return C.error(fmt::format("shape {} has a negative dim", shapeStr(Req)));
    Out[I] = D;
    if (D != 0 && Known > MaxTensorBytes / D)
      return C.error(fmt::format("shape {} is too large", shapeStr(Req)));
    Known *= D;
  }
  int64_t Total = (*X)->type().numElements();
  if (InferAt >= 0) {
    if (Known == 0 || Total % Known != 0)
      return C.error(fmt::format("cannot reshape {} into {}",
                                 (*X)->type().str(), shapeStr(Req)));
    Out[size_t(InferAt)] = Total / Known;
  }
  AttrMap A;
  A.set("shape", Out);
  return C.emit(N, OpKind::Reshape, {*X}, std::move(A));
}

/// Ops whose axes moved from an attribute to an input in opset 13
/// (Squeeze, Unsqueeze, ReduceSum).
template <OpKind Op>
Status importAxesOperand(ImportContext &C, const onnx::NodeProto &N) {
  Expected<Value *> X = C.input(N, 0);
  if (!X)
    return X.takeError();
  Expected<AttrMap> A = convertAttrs(C, N);
  if (!A)
    return A.takeError();
  if (N.input_size() > 1) {
    Expected<const Tensor *> Axes = C.constInput(N, 1, "the axes operand");
    if (!Axes)
      return Axes.takeError();
    if (*Axes)
      A->set("axes", (*Axes)->toInts());
  }
  return C.emit(N, Op, {*X}, std::move(*A));
}

Status importSlice(ImportContext &C, const onnx::NodeProto &N) {
  Expected<Value *> X = C.input(N, 0);
  if (!X)
    return X.takeError();
  AttrMap A;
  static constexpr std::string_view Names[] = {"starts", "ends", "axes",
                                               "steps"};
  for (int I = 1; I < std::min(N.input_size(), 5); ++I) {
    Expected<const Tensor *> T =
        C.constInput(N, I, fmt::format("the {} operand", Names[I - 1]));
    if (!T)
      return T.takeError();
    if (*T)
      A.set(std::string(Names[I - 1]), (*T)->toInts());
  }
  return C.emit(N, OpKind::Slice, {*X}, std::move(A));
}

Status importPad(ImportContext &C, const onnx::NodeProto &N) {
  Expected<Value *> X = C.input(N, 0);
  if (!X)
    return X.takeError();
  Expected<AttrMap> A = convertAttrs(C, N);
  if (!A)
    return A.takeError();
  Expected<const Tensor *> Pads = C.constInput(N, 1, "the pads operand");
  if (!Pads)
    return Pads.takeError();
  if (!*Pads)
    return C.error("the pads operand is missing");
  A->set("pads", (*Pads)->toInts());
  if (N.input_size() > 2) {
    Expected<const Tensor *> V = C.constInput(N, 2, "the constant_value operand");
    if (!V)
      return V.takeError();
    if (*V && (*V)->numElements() == 1)
      A->set("value", float((*V)->getAsDouble(0)));
  }
  if (N.input_size() > 3 && !N.input(3).empty())
    return C.error("the axes operand of Pad (opset 18) is not supported");
  return C.emit(N, OpKind::Pad, {*X}, std::move(*A));
}

Status importClip(ImportContext &C, const onnx::NodeProto &N) {
  Expected<Value *> X = C.input(N, 0);
  if (!X)
    return X.takeError();
  AttrMap A;
  static constexpr std::string_view Names[] = {"min", "max"};
  for (int I = 1; I < std::min(N.input_size(), 3); ++I) {
    Expected<const Tensor *> T =
        C.constInput(N, I, fmt::format("the {} operand", Names[I - 1]));
    if (!T)
      return T.takeError();
    if (!*T)
      continue;
    if ((*T)->numElements() != 1)
      return C.error(fmt::format("the {} operand must be a scalar",
                                 Names[I - 1]));
    A.set(std::string(Names[I - 1]), float((*T)->getAsDouble(0)));
  }
  return C.emit(N, OpKind::Clip, {*X}, std::move(A));
}

Status importExpand(ImportContext &C, const onnx::NodeProto &N) {
  Expected<Value *> X = C.input(N, 0);
  if (!X)
    return X.takeError();
  Expected<const Tensor *> S = C.constInput(N, 1, "the shape operand");
  if (!S)
    return S.takeError();
  if (!*S)
    return C.error("the shape operand is missing");
  AttrMap A;
  A.set("shape", (*S)->toInts());
  return C.emit(N, OpKind::Expand, {*X}, std::move(A));
}

Status importDropout(ImportContext &C, const onnx::NodeProto &N) {
  Expected<Value *> X = C.input(N, 0);
  if (!X)
    return X.takeError();
  if (N.input_size() > 2 && !N.input(2).empty()) {
    Expected<const Tensor *> T =
        C.constInput(N, 2, "the training_mode operand");
    if (!T)
      return T.takeError();
    if (*T && (*T)->numElements() == 1 && (*T)->getAsInt(0) != 0)
      return C.error("training-mode Dropout is not supported; export the "
                     "model in eval mode");
  }
  AttrMap A;
  if (const onnx::AttributeProto *S = findAttr(N, "seed"))
    A.set("seed", int64_t(S->i()));
  return C.emit(N, OpKind::Dropout, {*X}, std::move(A));
}

Status importCast(ImportContext &C, const onnx::NodeProto &N) {
  Expected<Value *> X = C.input(N, 0);
  if (!X)
    return X.takeError();
  const onnx::AttributeProto *To = findAttr(N, "to");
  if (!To)
    return C.error("attribute 'to' is missing");
  std::optional<DType> T = dtypeFromOnnx(int(To->i()));
  if (!T)
    return C.error(fmt::format("cast to {} is not supported",
                               onnxDTypeName(int(To->i()))));
  AttrMap A;
  A.set("to", std::string(dtypeName(*T)));
  return C.emit(N, OpKind::Cast, {*X}, std::move(A));
}

/// Softmax/LogSoftmax before opset 13 normalise over all dims from `axis` on
/// (the input is read as a 2-D matrix); opset 13 normalises along `axis`.
template <OpKind Op>
Status importSoftmax(ImportContext &C, const onnx::NodeProto &N) {
  Expected<Value *> X = C.input(N, 0);
  if (!X)
    return X.takeError();
  Expected<AttrMap> A = convertAttrs(C, N);
  if (!A)
    return A.takeError();
  if (C.Opset >= 13)
    return C.emit(N, Op, {*X}, std::move(*A));
  int64_t Rank = int64_t((*X)->type().rank());
  std::optional<int64_t> Axis = normalizeAxis(A->getInt("axis", 1), Rank);
  if (!Axis)
    return C.error(fmt::format("axis {} is out of range for rank {}",
                               A->getInt("axis", 1), Rank));
  if (*Axis == Rank - 1) {
    A->set("axis", int64_t(-1));
    return C.emit(N, Op, {*X}, std::move(*A));
  }
  const Shape &D = (*X)->type().Dims;
  int64_t Outer = 1, Inner = 1;
  for (int64_t I = 0; I < Rank; ++I)
    (I < *Axis ? Outer : Inner) *= D[size_t(I)];
  AttrMap Flat;
  Flat.set("shape", Shape{Outer, Inner});
  Expected<Value *> F = C.emitHelper(OpKind::Reshape, {*X}, Flat, "flat");
  if (!F)
    return F.takeError();
  AttrMap SA;
  SA.set("axis", int64_t(1));
  Expected<Value *> S = C.emitHelper(Op, {*F}, SA, "2d");
  if (!S)
    return S.takeError();
  AttrMap Back;
  Back.set("shape", D);
  return C.emit(N, OpKind::Reshape, {*S}, std::move(Back));
}

/// Split becomes one Slice per output (opset 13 takes the sizes as an
/// operand, opset 11 as an attribute; without sizes the parts are equal).
Status importSplit(ImportContext &C, const onnx::NodeProto &N) {
  Expected<Value *> X = C.input(N, 0);
  if (!X)
    return X.takeError();
  if (!*X)
    return C.error("the input is missing");
  const Shape &D = (*X)->type().Dims;
  int64_t Axis = 0;
  if (const onnx::AttributeProto *A = findAttr(N, "axis"))
    Axis = A->i();
  std::optional<int64_t> Ax = normalizeAxis(Axis, int64_t(D.size()));
  if (!Ax)
    return C.error(fmt::format("axis {} is out of range for rank {}", Axis,
                               D.size()));
  std::vector<int64_t> Sizes;
  if (C.Opset >= 13 && N.input_size() > 1 && !N.input(1).empty()) {
    Expected<const Tensor *> S = C.constInput(N, 1, "the split operand");
    if (!S)
      return S.takeError();
    Sizes = (*S)->toInts();
  } else if (const onnx::AttributeProto *A = findAttr(N, "split")) {
    Sizes.assign(A->ints().begin(), A->ints().end());
  } else {
    int64_t K = N.output_size();
    if (K < 1 || D[size_t(*Ax)] % K != 0)
      return C.error(fmt::format("cannot split dim {} of size {} into {} "
                                 "equal parts",
                                 *Ax, D[size_t(*Ax)], K));
    Sizes.assign(size_t(K), D[size_t(*Ax)] / K);
  }
  if (int64_t(Sizes.size()) != N.output_size())
    return C.error(fmt::format("{} split sizes for {} outputs", Sizes.size(),
                               N.output_size()));
  int64_t Start = 0;
  for (int I = 0; I < N.output_size(); ++I) {
    if (Sizes[size_t(I)] < 0 || Start + Sizes[size_t(I)] > D[size_t(*Ax)])
      return C.error(fmt::format("split sizes {} do not fit dim {} of size "
                                 "{}",
                                 shapeStr(Sizes), *Ax, D[size_t(*Ax)]));
    AttrMap A;
    A.set("starts", std::vector<int64_t>{Start});
    A.set("ends", std::vector<int64_t>{Start + Sizes[size_t(I)]});
    A.set("axes", std::vector<int64_t>{*Ax});
    Start += Sizes[size_t(I)];
    onnx::NodeProto Part;
    Part.set_op_type("Split");
    Part.add_output(N.output(I));
    if (Status S = C.emit(Part, OpKind::Slice, {*X}, std::move(A)); !S)
      return S;
  }
  return ok();
}

/// Identity of an initializer: PyTorch's exporter deduplicates initializers
/// that happen to hold equal values (e.g. the zero biases of freshly folded
/// BatchNorms) and hands each user an Identity of the shared one. Those were
/// distinct parameters in the trained model, so each Identity result becomes
/// a parameter of its own: training one must not change the others.
Status importIdentity(ImportContext &C, const onnx::NodeProto &N) {
  Expected<Value *> X = C.input(N, 0);
  if (!X)
    return X.takeError();
  if (*X && (*X)->isParam() && N.output_size() == 1) {
    const std::string &Name = N.output(0);
    if (C.Values.count(Name) || C.G.isNameTaken(Name))
      return C.error(fmt::format("value '{}' is defined twice", Name));
    return C.bind(Name, C.G.addParam(Name, *(*X)->data()));
  }
  return direct<OpKind::Identity, 1>(C, N);
}

Status importBatchNorm(ImportContext &C, const onnx::NodeProto &N) {
  if (N.output_size() > 1)
    return C.error("training-mode BatchNormalization (more than one output) "
                   "is not supported; export the model in eval mode");
  return direct<OpKind::BatchNormalization, 5>(C, N);
}

/// Where an ONNX node keeps the quantization parameters of one of its
/// tensors: the input indices of the scale (-1: none, the scale is 1, as
/// for ConvInteger) and of the optional zero point, and the axis a 1-D
/// parameter runs along (nullopt: it must be a scalar or hold one value).
struct QuantOperands {
  int Scale = 1;
  int ZeroPoint = 2;
  std::optional<int64_t> Axis;
  std::string_view Of; ///< names the tensor in messages ("" for Q/DQ)
  /// Why several values are refused when there is no axis (a default
  /// message if empty).
  std::string_view NoAxisWhy;
};

/// The quantization parameters \p Q locates in node \p N for its tensor of
/// shape \p Dims. Scales and zero points must be constants; a scalar (or
/// one-element) scale quantizes the whole tensor, a 1-D one the indices of
/// dim Q.Axis. \p ZeroPointType receives the zero point's element type, if
/// there is one.
Expected<QuantParams> readQuantParams(ImportContext &C,
                                      const onnx::NodeProto &N,
                                      const QuantOperands &Q,
                                      const Shape &Dims,
                                      std::optional<DType> &ZeroPointType) {
  constexpr std::string_view Why =
      "mote compiles the quantization parameters into the code";
  std::string Of = Q.Of.empty() ? "" : fmt::format(" of {}", Q.Of);
  std::string ScaleWhat = fmt::format("the scale operand{}", Of);
  std::string ZpWhat = fmt::format("the zero point operand{}", Of);
  const Tensor *S = nullptr;
  if (Q.Scale >= 0) {
    Expected<const Tensor *> Scale = C.constInput(N, Q.Scale, ScaleWhat, Why);
    if (!Scale)
      return Scale.takeError();
    if (!*Scale)
      return C.error(fmt::format("{} is missing", ScaleWhat));
    S = *Scale;
    if (S->dtype() != DType::F32)
      return C.error(
          fmt::format("{} is {}, not f32", ScaleWhat, S->type().str()));
  }
  Expected<const Tensor *> Zp = C.constInput(N, Q.ZeroPoint, ZpWhat, Why);
  if (!Zp)
    return Zp.takeError();
  const Tensor *Z = *Zp;
  if (Z) {
    if (!isQuantizable(Z->dtype()))
      return C.error(fmt::format("{} is {}; mote reads int8, uint8 and int32 "
                                 "zero points",
                                 ZpWhat, Z->type().str()));
    if (S && Z->numElements() != S->numElements())
      return C.error(fmt::format("{} has shape {} but the scale {}", ZpWhat,
                                 shapeStr(Z->shape()),
                                 shapeStr(S->shape())));
    ZeroPointType = Z->dtype();
  }
  // The parameter tensor that decides the layout: the scale, or the zero
  // point when there is no scale.
  const Tensor *Lead = S ? S : Z;
  int64_t Count = Lead ? Lead->numElements() : 1;
  if (Lead && Lead->shape().size() > 1)
    return C.error(fmt::format("{} has shape {}; it must be a scalar or 1-D",
                               S ? ScaleWhat : ZpWhat,
                               shapeStr(Lead->shape())));
  QuantParams R;
  if (Count != 1) {
    if (!Q.Axis)
      return C.error(!Q.NoAxisWhy.empty()
                         ? std::string(Q.NoAxisWhy)
                         : fmt::format("{} holds {} values; mote quantizes "
                                       "this tensor per tensor (one value)",
                                       S ? ScaleWhat : ZpWhat, Count));
    std::optional<int64_t> Norm = normalizeAxis(*Q.Axis, int64_t(Dims.size()));
    if (!Norm)
      return C.error(fmt::format("axis {} is out of range for rank {}",
                                 *Q.Axis, Dims.size()));
    if (Dims[size_t(*Norm)] != Count)
      return C.error(fmt::format("{} values{} for the {} indices of axis {}",
                                 Count, Of, Dims[size_t(*Norm)], *Q.Axis));
    R.Axis = int32_t(*Norm);
  }
  for (int64_t I = 0; I < Count; ++I) {
    R.Scale.push_back(S ? S->data<float>()[size_t(I)] : 1.0f);
    R.ZeroPoint.push_back(Z ? int32_t(Z->getAsInt(I)) : 0);
  }
  return R;
}

/// The quantization parameters of an ONNX QuantizeLinear or
/// DequantizeLinear node (scale input 1, zero point input 2) for its
/// tensor of shape \p Dims: a 1-D scale (opset 13) runs along `axis`
/// (default 1).
Expected<QuantParams> onnxQuantParams(ImportContext &C,
                                      const onnx::NodeProto &N,
                                      const Shape &Dims,
                                      std::optional<DType> &ZeroPointType) {
  for (const onnx::AttributeProto &A : N.attribute())
    if (A.name() != "axis")
      return C.error(fmt::format("attribute '{}' is not supported",
                                 A.name()));
  QuantOperands Q;
  if (C.Opset >= 13) {
    const onnx::AttributeProto *A = findAttr(N, "axis");
    Q.Axis = A ? A->i() : 1;
  } else {
    Q.NoAxisWhy = "a 1-D scale (per-axis quantization) needs opset 13";
  }
  return readQuantParams(C, N, Q, Dims, ZeroPointType);
}

/// QuantizeLinear(x, scale[, zero_point]): the result is int8 or uint8 as
/// the zero point is (uint8 without one).
Status importQuantizeLinear(ImportContext &C, const onnx::NodeProto &N) {
  Expected<Value *> X = C.input(N, 0);
  if (!X)
    return X.takeError();
  if (!*X)
    return C.error("the input operand is missing");
  std::optional<DType> ZpType;
  Expected<QuantParams> Q =
      onnxQuantParams(C, N, (*X)->type().Dims, ZpType);
  if (!Q)
    return Q.takeError();
  DType To = ZpType.value_or(DType::U8);
  if (To != DType::I8 && To != DType::U8)
    return C.error(fmt::format("QuantizeLinear to {} is not supported (ONNX "
                               "quantizes to int8 or uint8)",
                               dtypeName(To)));
  AttrMap A;
  A.set("to", std::string(dtypeName(To)));
  A.set("scale", Q->Scale);
  A.set("zero_point",
        std::vector<int64_t>(Q->ZeroPoint.begin(), Q->ZeroPoint.end()));
  if (Q->perAxis())
    A.set("axis", int64_t(Q->Axis));
  return C.emit(N, OpKind::QuantizeLinear, {*X}, std::move(A));
}

/// \p V read as quantized type \p Want (same storage) by \p Reader: a
/// value that already has that type is taken as it is; a graph input,
/// initializer or constant nothing else reads yet takes the type (an int8
/// initializer stays int8, in flash); anything else is refused.
Expected<Value *> takeQuantType(ImportContext &C, Value *V,
                                const TensorType &Want,
                                std::string_view Reader) {
  const TensorType &XT = V->type();
  if (std::string Why = Want.invalidReason(); !Why.empty())
    return C.error(fmt::format("'{}' cannot be read as {}: {}", V->name(),
                               Want.str(), Why));
  if (XT.isQuantized()) {
    if (XT != Want)
      return C.error(fmt::format("'{}' is {} but {} reads it as {}",
                                 V->name(), XT.str(), Reader, Want.str()));
    return V;
  }
  if (V->producer())
    return C.error(fmt::format(
        "'{}' is computed by '{}' ({}) as an unquantized {}; mote reads "
        "graph inputs, initializers, constants and the results of "
        "quantized ops as quantized tensors",
        V->name(), V->producer()->name(), V->producer()->opName(),
        XT.str()));
  if (!C.G.users(V).empty() || C.G.isOutput(V))
    return C.error(fmt::format("'{}' is also read as a plain {} by other "
                               "nodes; mote gives a tensor one type",
                               V->name(), XT.str()));
  C.G.retype(V, Want);
  return V;
}

/// DequantizeLinear(x, scale[, zero_point]). In mote the scale and zero
/// point are part of x's type: a QuantizeLinear result already carries
/// them; a graph input, initializer or constant that only this node reads
/// so far takes them into its type (an int8 initializer stays int8, in
/// flash); anything else is refused.
Status importDequantizeLinear(ImportContext &C, const onnx::NodeProto &N) {
  Expected<Value *> X = C.input(N, 0);
  if (!X)
    return X.takeError();
  if (!*X)
    return C.error("the input operand is missing");
  Value *V = *X;
  const TensorType &XT = V->type();
  if (!isQuantizable(XT.Elem))
    return C.error(fmt::format("dequantizes int8, uint8 or int32 tensors, "
                               "not {}",
                               XT.str()));
  std::optional<DType> ZpType;
  Expected<QuantParams> Q = onnxQuantParams(C, N, XT.Dims, ZpType);
  if (!Q)
    return Q.takeError();
  if (ZpType && *ZpType != XT.Elem)
    return C.error(fmt::format("the zero point is {} but the input {}",
                               dtypeName(*ZpType), XT.str()));
  Expected<Value *> Q2 = takeQuantType(
      C, V, TensorType(XT.Elem, XT.Dims, std::move(*Q)), "this node");
  if (!Q2)
    return Q2.takeError();
  return C.emit(N, OpKind::DequantizeLinear, {*Q2}, {});
}

/// Operand \p I of \p N (\p Name in messages, required) read as the
/// quantized tensor whose parameters \p Q locates.
Expected<Value *> quantOperand(ImportContext &C, const onnx::NodeProto &N,
                               int I, QuantOperands Q) {
  Expected<Value *> X = C.input(N, I);
  if (!X)
    return X.takeError();
  if (!*X)
    return C.error(fmt::format("operand {} is missing", Q.Of));
  const TensorType &T = (*X)->type();
  if (T.Elem != DType::I8 && T.Elem != DType::U8)
    return C.error(fmt::format("{} must be int8 or uint8, got {}", Q.Of,
                               T.str()));
  std::optional<DType> ZpType;
  Expected<QuantParams> P = readQuantParams(C, N, Q, T.Dims, ZpType);
  if (!P)
    return P.takeError();
  if (ZpType && *ZpType != T.Elem)
    return C.error(fmt::format("the zero point of {} is {} but {} is {}",
                               Q.Of, dtypeName(*ZpType), Q.Of, T.str()));
  // ConvInteger and MatMulInteger read zero points only: a tensor that is
  // already quantized keeps its scales if its zero points are the same.
  if (Q.Scale < 0 && T.isQuantized() && T.Quant->Axis == P->Axis &&
      T.Quant->ZeroPoint == P->ZeroPoint)
    return *X;
  return takeQuantType(C, *X, TensorType(T.Elem, T.Dims, std::move(*P)),
                       fmt::format("node '{}'", N.name()));
}

/// The attributes of an integer op's result: with \p Y (QLinearConv,
/// QLinearMatMul) an i8 or u8 tensor of the zero point's type with that
/// scale and zero point; without, the i32 accumulator (ConvInteger,
/// MatMulInteger). The node's own attributes come first; mote's names for
/// the result may not appear among them.
Expected<AttrMap> integerOpAttrs(ImportContext &C, const onnx::NodeProto &N,
                                 const QuantOperands *Y) {
  Expected<AttrMap> A = convertAttrs(C, N);
  if (!A)
    return A.takeError();
  for (const char *Name : {"to", "scale", "zero_point", "clamp"})
    if (A->has(Name))
      return C.error(fmt::format("attribute '{}' is not an attribute of {}",
                                 Name, N.op_type()));
  if (!Y) {
    A->set("to", std::string("i32"));
    return A;
  }
  std::optional<DType> ZpType;
  Expected<QuantParams> P = readQuantParams(C, N, *Y, {}, ZpType);
  if (!P)
    return P.takeError();
  DType To = ZpType.value_or(DType::U8);
  if (To != DType::I8 && To != DType::U8)
    return C.error(fmt::format("the zero point of y is {}; the result must "
                               "be int8 or uint8",
                               dtypeName(To)));
  A->set("to", std::string(dtypeName(To)));
  A->set("scale", P->Scale);
  A->set("zero_point", std::vector<int64_t>{P->ZeroPoint[0]});
  return A;
}

/// QLinearConv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale,
/// y_zero_point[, B]) and ConvInteger(x, w[, x_zero_point, w_zero_point])
/// -> QConv. w's parameters may be per output channel.
template <bool Linear>
Status importQConv(ImportContext &C, const onnx::NodeProto &N) {
  Expected<Value *> X = quantOperand(
      C, N, 0, Linear ? QuantOperands{1, 2, {}, "x"} : QuantOperands{-1, 2, {}, "x"});
  if (!X)
    return X.takeError();
  Expected<Value *> W = quantOperand(
      C, N, Linear ? 3 : 1,
      Linear ? QuantOperands{4, 5, 0, "w"} : QuantOperands{-1, 3, 0, "w"});
  if (!W)
    return W.takeError();
  QuantOperands Y{6, 7, {}, "y"};
  Expected<AttrMap> A = integerOpAttrs(C, N, Linear ? &Y : nullptr);
  if (!A)
    return A.takeError();
  std::vector<Value *> Ins = {*X, *W};
  if (Linear && N.input_size() > 8) {
    Expected<Value *> B = C.input(N, 8);
    if (!B)
      return B.takeError();
    if (*B)
      Ins.push_back(*B);
  }
  return C.emit(N, OpKind::QConv, std::move(Ins), std::move(*A));
}

/// QLinearMatMul(a, a_scale, a_zero_point, b, b_scale, b_zero_point,
/// y_scale, y_zero_point) and MatMulInteger(A, B[, a_zero_point,
/// b_zero_point]) -> QMatMul. b's parameters may be per column.
template <bool Linear>
Status importQMatMul(ImportContext &C, const onnx::NodeProto &N) {
  constexpr std::string_view PerRow =
      "a per-row quantization of A is not supported; mote quantizes A per "
      "tensor";
  Expected<Value *> A =
      quantOperand(C, N, 0,
                   Linear ? QuantOperands{1, 2, {}, "a", PerRow}
                          : QuantOperands{-1, 2, {}, "a", PerRow});
  if (!A)
    return A.takeError();
  Expected<Value *> BIn = C.input(N, Linear ? 3 : 1);
  if (!BIn)
    return BIn.takeError();
  int64_t BRank = *BIn ? int64_t((*BIn)->type().rank()) : 0;
  std::optional<int64_t> Col;
  if (BRank >= 2)
    Col = BRank - 1;
  Expected<Value *> B = quantOperand(
      C, N, Linear ? 3 : 1,
      Linear ? QuantOperands{4, 5, Col, "b"} : QuantOperands{-1, 3, Col, "b"});
  if (!B)
    return B.takeError();
  QuantOperands Y{6, 7, {}, "y"};
  Expected<AttrMap> At = integerOpAttrs(C, N, Linear ? &Y : nullptr);
  if (!At)
    return At.takeError();
  return C.emit(N, OpKind::QMatMul, {*A, *B}, std::move(*At));
}

// The table: (op_type, opset range) -> handler. Ordered by op type.
const HandlerEntry HandlerTable[] = {
    {"Abs", 11, 17, direct<OpKind::Abs>},
    {"Add", 11, 17, direct<OpKind::Add>},
    {"AveragePool", 11, 17, direct<OpKind::AveragePool>},
    {"BatchNormalization", 11, 17, importBatchNorm},
    {"Cast", 11, 17, importCast},
    {"Clip", 11, 17, importClip},
    {"Concat", 11, 17, direct<OpKind::Concat>},
    {"Constant", 11, 17, importConstant},
    {"ConstantOfShape", 11, 17, importConstantOfShape},
    {"Conv", 11, 17, direct<OpKind::Conv>},
    {"ConvInteger", 10, 17, importQConv<false>},
    {"DequantizeLinear", 10, 17, importDequantizeLinear},
    {"Div", 11, 17, direct<OpKind::Div>},
    {"Dropout", 11, 17, importDropout},
    {"Erf", 11, 17, direct<OpKind::Erf>},
    {"Exp", 11, 17, direct<OpKind::Exp>},
    {"Expand", 11, 17, importExpand},
    {"Flatten", 11, 17, direct<OpKind::Flatten>},
    {"Gather", 11, 17, direct<OpKind::Gather>},
    {"Gemm", 11, 17, direct<OpKind::Gemm>},
    {"GlobalAveragePool", 11, 17, direct<OpKind::GlobalAveragePool>},
    {"HardSigmoid", 11, 17, direct<OpKind::HardSigmoid>},
    {"HardSwish", 14, 17, direct<OpKind::HardSwish>},
    {"Identity", 11, 17, importIdentity},
    {"LayerNormalization", 17, 17, direct<OpKind::LayerNormalization>},
    {"LeakyRelu", 11, 17, direct<OpKind::LeakyRelu>},
    {"Log", 11, 17, direct<OpKind::Log>},
    {"LogSoftmax", 11, 17, importSoftmax<OpKind::LogSoftmax>},
    {"MatMul", 11, 17, direct<OpKind::MatMul>},
    {"MatMulInteger", 10, 17, importQMatMul<false>},
    {"MaxPool", 11, 17, direct<OpKind::MaxPool>},
    {"Mul", 11, 17, direct<OpKind::Mul>},
    {"Neg", 11, 17, direct<OpKind::Neg>},
    {"Pad", 11, 17, importPad},
    {"Pow", 11, 17, direct<OpKind::Pow>},
    {"QLinearConv", 10, 17, importQConv<true>},
    {"QLinearMatMul", 10, 17, importQMatMul<true>},
    {"QuantizeLinear", 10, 17, importQuantizeLinear},
    {"Reciprocal", 11, 17, direct<OpKind::Reciprocal>},
    {"ReduceMax", 11, 17, direct<OpKind::ReduceMax>},
    {"ReduceMean", 11, 17, direct<OpKind::ReduceMean>},
    {"ReduceSum", 11, 12, direct<OpKind::ReduceSum>},
    {"ReduceSum", 13, 17, importAxesOperand<OpKind::ReduceSum>},
    {"Relu", 11, 17, direct<OpKind::Relu>},
    {"Reshape", 11, 17, importReshape},
    {"Shape", 11, 17, direct<OpKind::Shape>},
    {"Sigmoid", 11, 17, direct<OpKind::Sigmoid>},
    {"Slice", 11, 17, importSlice},
    {"Softmax", 11, 17, importSoftmax<OpKind::Softmax>},
    {"SoftmaxCrossEntropyLoss", 13, 17,
     direct<OpKind::SoftmaxCrossEntropyLoss>},
    {"Split", 11, 17, importSplit},
    {"Sqrt", 11, 17, direct<OpKind::Sqrt>},
    {"Squeeze", 11, 12, direct<OpKind::Squeeze>},
    {"Squeeze", 13, 17, importAxesOperand<OpKind::Squeeze>},
    {"Sub", 11, 17, direct<OpKind::Sub>},
    {"Tanh", 11, 17, direct<OpKind::Tanh>},
    {"Transpose", 11, 17, direct<OpKind::Transpose>},
    {"Unsqueeze", 11, 12, direct<OpKind::Unsqueeze>},
    {"Unsqueeze", 13, 17, importAxesOperand<OpKind::Unsqueeze>},
};

const HandlerEntry *findHandler(std::string_view OpType, int Opset) {
  for (const HandlerEntry &E : HandlerTable)
    if (E.OpType == OpType && Opset >= E.MinOpset && Opset <= E.MaxOpset)
      return &E;
  return nullptr;
}

bool isDefaultDomain(const std::string &D) {
  return D.empty() || D == "ai.onnx";
}

/// Static type of an ONNX ValueInfo, or nullopt if it is not a fully static
/// tensor of a supported element type.
std::optional<TensorType> staticType(const onnx::ValueInfoProto &VI) {
  if (!VI.type().has_tensor_type())
    return std::nullopt;
  const auto &TT = VI.type().tensor_type();
  std::optional<DType> DT = dtypeFromOnnx(TT.elem_type());
  if (!DT || !TT.has_shape())
    return std::nullopt;
  Shape Dims;
  for (const auto &D : TT.shape().dim()) {
    if (!D.has_dim_value() || D.dim_value() < 0)
      return std::nullopt;
    Dims.push_back(D.dim_value());
  }
  TensorType T(*DT, Dims);
  if (!T.isValid())
    return std::nullopt;
  return T;
}

Expected<TensorType> inputType(const onnx::ValueInfoProto &VI,
                               const ImportOptions &Opts,
                               const std::string &File) {
  auto Fail = [&](std::string Msg) {
    Diag D(std::move(Msg));
    D.File = File;
    return D;
  };
  if (!VI.type().has_tensor_type())
    return Fail(fmt::format("graph input '{}' is not a tensor", VI.name()));
  const auto &TT = VI.type().tensor_type();
  std::optional<DType> DT = dtypeFromOnnx(TT.elem_type());
  if (!DT)
    return Fail(fmt::format("graph input '{}' has element type {}, which mote "
                            "does not support",
                            VI.name(), onnxDTypeName(TT.elem_type())));
  auto Bound = Opts.InputShapes.find(VI.name());
  if (Bound != Opts.InputShapes.end()) {
    if (TT.has_shape() && TT.shape().dim_size() != int(Bound->second.size()))
      return Fail(fmt::format("--input-shape {} has rank {} but input '{}' "
                              "has rank {}",
                              VI.name(), Bound->second.size(), VI.name(),
                              TT.shape().dim_size()));
    if (TT.has_shape())
      for (int I = 0; I < TT.shape().dim_size(); ++I) {
        const auto &D = TT.shape().dim(I);
        if (D.has_dim_value() && D.dim_value() != Bound->second[size_t(I)])
          return Fail(fmt::format("--input-shape {} sets dim {} to {} but the "
                                  "model fixes it to {}",
                                  VI.name(), I, Bound->second[size_t(I)],
                                  D.dim_value()));
      }
    TensorType T(*DT, Bound->second);
    if (!T.isValid())
      return Fail(fmt::format("--input-shape {} gives an invalid shape {}",
                              VI.name(), shapeStr(Bound->second)));
    return T;
  }
  if (!TT.has_shape())
    return Fail(fmt::format("graph input '{}' has no shape; give one with "
                            "--input-shape {}=DxDx...",
                            VI.name(), VI.name()));
  Shape Dims;
  for (int I = 0; I < TT.shape().dim_size(); ++I) {
    const auto &D = TT.shape().dim(I);
    if (I == 0 && Opts.Batch > 0) {
      if (D.has_dim_value() && D.dim_value() != 1 &&
          D.dim_value() != Opts.Batch)
        return Fail(fmt::format("--batch {}: input '{}' has a fixed batch "
                                "dim of {}",
                                Opts.Batch, VI.name(), D.dim_value()));
      Dims.push_back(Opts.Batch);
      continue;
    }
    if (!D.has_dim_value() || D.dim_value() < 0) {
      std::string What = D.has_dim_param()
                             ? fmt::format("dynamic dim '{}'", D.dim_param())
                             : std::string("an unknown dim");
      return Fail(fmt::format("graph input '{}' has {} at position {}; bind "
                              "it with --input-shape {}=DxDx...",
                              VI.name(), What, I, VI.name()));
    }
    Dims.push_back(D.dim_value());
  }
  TensorType T(*DT, Dims);
  if (!T.isValid())
    return Fail(fmt::format("graph input '{}' has an invalid shape {}",
                            VI.name(), shapeStr(Dims)));
  return T;
}

/// ONNX's own shape inference (libonnx 1.12, convPoolShapeInference)
/// divides by every stride and dilation of a windowed op without checking
/// them: a zero there is a SIGFPE in the library, not an exception. So
/// they are checked first, with the message mote's type rules give.
Status checkWindowAttributes(const onnx::GraphProto &GP, int Opset) {
  static constexpr std::string_view Windowed[] = {
      "Conv",   "ConvTranspose", "MaxPool",    "AveragePool",
      "LpPool", "QLinearConv",   "ConvInteger"};
  for (int I = 0; I < GP.node_size(); ++I) {
    const onnx::NodeProto &N = GP.node(I);
    if (std::find(std::begin(Windowed), std::end(Windowed), N.op_type()) ==
        std::end(Windowed))
      continue;
    for (const onnx::AttributeProto &A : N.attribute()) {
      if (A.name() != "strides" && A.name() != "dilations")
        continue;
      std::vector<int64_t> V(A.ints().begin(), A.ints().end());
      if (std::all_of(V.begin(), V.end(), [](int64_t X) { return X > 0; }))
        continue;
      Diag D(fmt::format("{} {} must be positive", A.name(), shapeStr(V)));
      D.NodeName = N.name().empty() ? fmt::format("#{}", I) : N.name();
      D.OpType = N.op_type();
      D.Opset = Opset;
      return D;
    }
  }
  return ok();
}

Expected<std::unique_ptr<Graph>> importModel(onnx::ModelProto &M,
                                             const std::string &File,
                                             const std::string &BaseDir,
                                             const ImportOptions &Opts) {
  auto Fail = [&](std::string Msg) {
    Diag D(std::move(Msg));
    D.File = File;
    return D;
  };
  if (!M.has_graph())
    return Fail("the model has no graph; is this an ONNX model?");
  int Opset = -1;
  for (const auto &OS : M.opset_import())
    if (isDefaultDomain(OS.domain()))
      Opset = int(OS.version());
  if (Opset < 0)
    return Fail("the model imports no opset of the default ONNX domain");
  if (Opset < MinOnnxOpset || Opset > MaxOnnxOpset)
    return Fail(fmt::format("opset {} is not supported (mote reads opsets {} "
                            "to {}); convert the model with "
                            "onnx.version_converter",
                            Opset, MinOnnxOpset, MaxOnnxOpset));
  const onnx::GraphProto &GP = M.graph();

  // List every unsupported op at once.
  std::vector<std::string> Unsupported;
  for (int I = 0; I < GP.node_size(); ++I) {
    const onnx::NodeProto &N = GP.node(I);
    std::string Name = N.name().empty() ? fmt::format("#{}", I) : N.name();
    if (!isDefaultDomain(N.domain()))
      Unsupported.push_back(fmt::format("node '{}' ({}, domain '{}')", Name,
                                        N.op_type(), N.domain()));
    else if (!findHandler(N.op_type(), Opset)) {
      // An op mote reads only from a later opset (opset 10 models: the
      // quantized ops are read from 10, everything else from 11).
      int Later = 0;
      for (const HandlerEntry &E : HandlerTable)
        if (E.OpType == N.op_type() && E.MinOpset > Opset)
          Later = Later ? std::min(Later, E.MinOpset) : E.MinOpset;
      Unsupported.push_back(
          Later ? fmt::format("node '{}' ({}, opset {}: mote reads {} from "
                              "opset {} on; convert the model with "
                              "onnx.version_converter)",
                              Name, N.op_type(), Opset, N.op_type(), Later)
                : fmt::format("node '{}' ({}, opset {})", Name, N.op_type(),
                              Opset));
    }
  }
  if (!Unsupported.empty())
    return Fail(fmt::format("{} unsupported op{}: {}", Unsupported.size(),
                            Unsupported.size() == 1 ? "" : "s",
                            fmt::join(Unsupported, "; ")));

  if (Status S = checkWindowAttributes(GP, Opset); !S)
    return S.takeError().inFile(File);

  // ONNX shape inference, for the cross-check of mote's own type rules.
  std::unordered_map<std::string, TensorType> OnnxTypes;
  try {
    onnx::ModelProto Inferred = M;
    onnx::shape_inference::InferShapes(Inferred);
    for (const auto &VI : Inferred.graph().value_info())
      if (std::optional<TensorType> T = staticType(VI))
        OnnxTypes[VI.name()] = *T;
    for (const auto &VI : Inferred.graph().output())
      if (std::optional<TensorType> T = staticType(VI))
        OnnxTypes[VI.name()] = *T;
  } catch (const std::exception &E) {
    std::string What = E.what();
    std::replace(What.begin(), What.end(), '\n', ' ');
    return Fail(fmt::format("ONNX shape inference failed: {}", What));
  }

  auto G = std::make_unique<Graph>(GP.name().empty() ? "main" : GP.name());
  G->SourceFile = File;
  G->Opset = Opset;
  ImportContext C(*G, BaseDir, Opset);
  // Bound or partly dynamic inputs make ONNX's static types unreliable.
  if (Opts.InputShapes.empty() && Opts.Batch <= 0)
    C.OnnxTypes = std::move(OnnxTypes);

  for (const onnx::TensorProto &T : GP.initializer()) {
    if (T.name().empty())
      return Fail("an initializer has no name");
    if (C.Values.count(T.name()))
      return Fail(fmt::format("initializer '{}' is defined twice", T.name()));
    Expected<Tensor> D = tensorFromProto(T, BaseDir);
    if (!D)
      return D.takeError().inFile(File);
    C.Values[T.name()] = G->addParam(T.name(), std::move(*D));
  }
  for (const onnx::ValueInfoProto &VI : GP.input()) {
    if (C.Values.count(VI.name()))
      continue; // an initializer listed as input (IR version < 4 style)
    if (VI.name().empty())
      return Fail("a graph input has no name");
    auto Known = Opts.ConstantInputs.find(VI.name());
    if (Known != Opts.ConstantInputs.end()) {
      C.Values[VI.name()] = G->addConst(VI.name(), Known->second);
      continue;
    }
    Expected<TensorType> T = inputType(VI, Opts, File);
    if (!T)
      return T.takeError();
    C.Values[VI.name()] = G->addInput(VI.name(), *T);
  }
  for (const auto &[Name, Dims] : Opts.InputShapes)
    if (!G->lookup(Name) || !G->lookup(Name)->isInput())
      return Fail(fmt::format("--input-shape names '{}', which is not a graph "
                              "input",
                              Name));

  for (int I = 0; I < GP.node_size(); ++I) {
    const onnx::NodeProto &N = GP.node(I);
    C.Current = &N;
    C.CurrentName = N.name().empty() ? fmt::format("{}_{}", N.op_type(), I)
                                     : N.name();
    const HandlerEntry *H = findHandler(N.op_type(), Opset);
    if (Status S = H->Fn(C, N); !S)
      return S.takeError();
  }
  C.Current = nullptr;
  C.CurrentName.clear();

  if (GP.output_size() == 0)
    return Fail("the graph has no outputs");
  for (const onnx::ValueInfoProto &VI : GP.output()) {
    auto It = C.Values.find(VI.name());
    if (It == C.Values.end())
      return Fail(fmt::format("graph output '{}' is not computed by any node",
                              VI.name()));
    G->addOutput(It->second);
  }
  G->removeDeadCode();
  if (Status S = verifyGraph(*G); !S)
    return S.takeError();
  return G;
}

} // namespace

Expected<std::unique_ptr<Graph>> importOnnxBytes(std::string_view Bytes,
                                                 const std::string &SourceName,
                                                 const std::string &BaseDir,
                                                 const ImportOptions &Opts) {
  onnx::ModelProto M;
  if (Bytes.size() > size_t(MaxModelBytes) ||
      !M.ParseFromArray(Bytes.data(), int(Bytes.size()))) {
    Diag D("not a valid ONNX model (the protobuf does not parse; is the file "
           "truncated or not .onnx?)");
    D.File = SourceName;
    return D;
  }
  return importModel(M, SourceName, BaseDir, Opts);
}

Expected<std::unique_ptr<Graph>> importOnnxFile(const std::string &Path,
                                                const ImportOptions &Opts) {
  std::error_code EC;
  if (fs::is_directory(Path, EC)) {
    Diag D("is a directory, not an .onnx file");
    D.File = Path;
    return D;
  }
  std::ifstream In(Path, std::ios::binary);
  if (!In) {
    Diag D("cannot open the file");
    D.File = Path;
    return D;
  }
  std::string Bytes((std::istreambuf_iterator<char>(In)),
                    std::istreambuf_iterator<char>());
  return importOnnxBytes(Bytes, Path, fs::path(Path).parent_path().string(),
                         Opts);
}

bool isOnnxOpSupported(std::string_view OpType, int Opset) {
  return findHandler(OpType, Opset) != nullptr;
}

std::vector<OnnxOpSupport> supportedOnnxOps() {
  std::vector<OnnxOpSupport> R;
  for (const HandlerEntry &E : HandlerTable) {
    if (!R.empty() && R.back().OpType == E.OpType) {
      R.back().MaxOpset = std::max(R.back().MaxOpset, E.MaxOpset);
      continue;
    }
    R.push_back({E.OpType, E.MinOpset, E.MaxOpset});
  }
  return R;
}

} // namespace mote
