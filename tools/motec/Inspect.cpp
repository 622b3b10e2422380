//===- Inspect.cpp - motec inspect ----------------------------------------===//
//
// Imports a model and prints what mote sees: inputs and outputs, every node
// with its result types and MACs, parameter counts and bytes (with
// --params, every parameter and constant with its type), and the total
// MACs. Quantized types show their scales and zero points. An unsupported
// op anywhere makes the import fail with all of them listed.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "compiler/Graph.h"
#include "compiler/Json.h"
#include "compiler/OpDef.h"
#include "compiler/Printer.h"
#include "driver/Driver.h"
#include "driver/Report.h"

#include <fmt/format.h>

namespace mote::cli {

namespace {

const OptionSpec InspectOwnOptions[] = {
    {"format", "text|json", false, "output format (default text)"},
    {"params", "", false,
     "list every parameter and constant with its type and bytes"},
    {"print-ir", "", false, "print the graph in mote's textual IR instead"},
};
std::span<const OptionSpec> inspectOptions() {
  static const std::vector<OptionSpec> V = withModelOptions(InspectOwnOptions);
  return V;
}

/// "1,234,567".
std::string grouped(int64_t V) {
  std::string S = fmt::format("{}", V);
  for (int I = int(S.size()) - 3; I > (S[0] == '-' ? 1 : 0); I -= 3)
    S.insert(size_t(I), ",");
  return S;
}

struct ParamStats {
  int64_t Tensors = 0, Elements = 0, Bytes = 0;
};

void addTo(ParamStats &S, const Value *V) {
  ++S.Tensors;
  S.Elements += V->type().numElements();
  S.Bytes += V->type().bytes();
}

std::string typesOf(const Node &N) {
  std::string S;
  for (size_t I = 0; I < N.numOutputs(); ++I)
    S += (I ? ", " : "") + N.output(I)->type().str();
  return S;
}

/// "param", "param, trainable", "const".
std::string kindOf(const Value *V) {
  if (!V->isParam())
    return "const";
  return V->isTrainable() ? "param, trainable" : "param";
}

void printText(const Graph &G, const std::string &Path, bool Training,
               bool ListParams) {
  ParamStats Params, Consts;
  for (const Value *V : G.params())
    addTo(V->isParam() ? Params : Consts, V);
  int64_t TotalMacs = 0;
  for (const auto &N : G.nodes())
    TotalMacs += nodeMacs(*N);

  fmt::print("model: {} (opset {}, graph '{}')\n", Path, G.Opset, G.name());
  fmt::print("inputs:\n");
  for (const Value *V : G.inputs())
    fmt::print("  {:<24} {}\n", V->name(), V->type().str());
  fmt::print("outputs:\n");
  for (const Value *V : G.outputs())
    fmt::print("  {:<24} {}\n", V->name(), V->type().str());
  fmt::print("parameters: {} tensors, {} values, {} bytes\n", Params.Tensors,
             grouped(Params.Elements), grouped(Params.Bytes));
  fmt::print("constants: {} tensors, {} bytes\n", Consts.Tensors,
             grouped(Consts.Bytes));
  if (ListParams)
    for (const Value *V : G.params())
      fmt::print("  {:<24} {:<16} {:>12}  {}\n", V->name(), kindOf(V),
                 grouped(V->type().bytes()), briefType(V->type()));
  fmt::print("nodes: {}\n", G.nodes().size());
  size_t NameW = 4;
  for (const auto &N : G.nodes())
    NameW = std::max(NameW, N->name().size());
  NameW = std::min<size_t>(NameW, 48);
  fmt::print("  {:>4}  {:<{}}  {:<20}  {:>14}  {}\n", "#", "node", NameW, "op",
             "MACs", "result");
  size_t I = 0;
  for (const auto &N : G.nodes())
    fmt::print("  {:>4}  {:<{}}  {:<20}  {:>14}  {}\n", I++, N->name(), NameW,
               N->opName(), grouped(nodeMacs(*N)), typesOf(*N));
  fmt::print("total MACs: {}\n", grouped(TotalMacs));
  if (Training) {
    TrainingStats S = trainingStats(G);
    fmt::print("training: {} forward, {} backward, {} update nodes; {} "
               "trainable parameters ({} values)\n",
               S.ForwardNodes, S.BackwardNodes, S.UpdateNodes,
               S.TrainableParams, grouped(S.TrainableElements));
    fmt::print("saved activations: {} tensors, {} bytes\n",
               S.SavedActivations, grouped(S.SavedActivationBytes));
  }
  fmt::print("unsupported ops: none\n");
}

void printJson(const Graph &G, const std::string &Path, bool Training,
               bool ListParams) {
  JsonWriter W;
  W.beginObject();
  W.field("model", Path);
  W.field("opset", G.Opset);
  auto ValueList = [&](std::string_view Key, const std::vector<Value *> &Vs) {
    W.key(Key);
    W.beginArray();
    for (const Value *V : Vs) {
      W.beginObject();
      W.field("name", V->name());
      W.field("type", V->type().str());
      W.endObject();
    }
    W.endArray();
  };
  ValueList("inputs", G.inputs());
  ValueList("outputs", G.outputs());
  ParamStats Params, Consts;
  for (const Value *V : G.params())
    addTo(V->isParam() ? Params : Consts, V);
  W.field("param_tensors", Params.Tensors);
  W.field("param_elements", Params.Elements);
  W.field("param_bytes", Params.Bytes);
  W.field("const_bytes", Consts.Bytes);
  if (ListParams) {
    W.key("params");
    W.beginArray();
    for (const Value *V : G.params()) {
      W.beginObject();
      W.field("name", V->name());
      W.field("kind", V->isParam() ? "param" : "const");
      W.field("trainable", V->isTrainable());
      W.field("dtype", dtypeName(V->type().Elem));
      W.field("type", V->type().str());
      W.field("bytes", V->type().bytes());
      W.endObject();
    }
    W.endArray();
  }
  int64_t Total = 0;
  W.key("nodes");
  W.beginArray();
  for (const auto &N : G.nodes()) {
    W.beginObject();
    W.field("name", N->name());
    W.field("op", N->opName());
    W.field("macs", nodeMacs(*N));
    W.key("results");
    W.beginArray();
    for (const Value *V : N->outputs())
      W.value(V->type().str());
    W.endArray();
    W.endObject();
    Total += nodeMacs(*N);
  }
  W.endArray();
  W.field("total_macs", Total);
  if (Training) {
    TrainingStats S = trainingStats(G);
    W.key("training");
    W.beginObject();
    W.field("forward_nodes", S.ForwardNodes);
    W.field("backward_nodes", S.BackwardNodes);
    W.field("update_nodes", S.UpdateNodes);
    W.field("saved_activations", S.SavedActivations);
    W.field("saved_activation_bytes", S.SavedActivationBytes);
    W.field("trainable_params", S.TrainableParams);
    W.field("trainable_elements", S.TrainableElements);
    W.endObject();
  }
  W.key("unsupported_ops");
  W.beginArray();
  W.endArray();
  W.endObject();
  fmt::print("{}", W.str());
}

int runInspect(const ParsedArgs &Args) {
  std::string Format = Args.get("format").value_or("text");
  if (Format != "text" && Format != "json") {
    fmt::print(stderr, "motec inspect: --format must be text or json\n");
    return ExitUsage;
  }
  Expected<CompileOptions> O = parseCompileOptions(Args);
  if (!O)
    return reportDiag("inspect", O.error());
  Expected<CompiledModel> M = compile(*O, Stage::Graph);
  if (!M)
    return reportDiag("inspect", M.error());
  const Graph &G = *M->G;
  if (Args.has("print-ir"))
    fmt::print("{}", printGraph(G, PrintOptions{.ElideDataAbove = 16}));
  else if (Format == "json")
    printJson(G, O->ModelPath, O->Training, Args.has("params"));
  else
    printText(G, O->ModelPath, O->Training, Args.has("params"));
  return ExitOk;
}

} // namespace

const Command InspectCommand = {
    "inspect",
    "inspect model.onnx [--params] [--format text|json] [--print-ir] [model "
    "options]",
    "show the ops, value shapes, parameters and MACs of a model, and every op "
    "mote does not support",
    inspectOptions,
    runInspect,
};

} // namespace mote::cli
