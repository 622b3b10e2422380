//===- Run.cpp - motec run ------------------------------------------------===//
//
// Compiles a model (training step or inference) and runs it on inputs given
// as ONNX TensorProto files: N training steps (the parameters carry over
// between steps) or one inference. --dump DIR writes loss.pb (one value per
// step) and every trainable parameter after the last step as
// <initializer name>.pb ('/' in names becomes '_'); for inference, every
// graph output as <output name>.pb.
//
// Engines: interp (the reference interpreter) and generated (the C++ code
// generator's output built for the host, the default once it exists).
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "Session.h"
#include "compiler/Graph.h"
#include "compiler/Interpreter.h"

#include <charconv>
#include <filesystem>
#include <fmt/format.h>
#include <map>

namespace fs = std::filesystem;

namespace mote::cli {

namespace {

const OptionSpec RunOwnOptions[] = {
    {"input", "NAME=FILE.pb", true, "value of a graph input (ONNX TensorProto)"},
    {"steps", "N", false, "training steps to run (default 1)"},
    {"dump", "DIR", false, "write loss.pb and the trained parameters (or the outputs) here"},
    {"engine", "interp|generated", false, "how to run: the reference interpreter or generated code"},
};
std::span<const OptionSpec> runOptions() {
  static const std::vector<OptionSpec> V = withModelOptions(RunOwnOptions);
  return V;
}

std::string fileNameFor(const std::string &Name) {
  std::string R = Name;
  for (char &C : R)
    if (C == '/' || C == '\\')
      C = '_';
  return R + ".pb";
}

/// Converts an integer label tensor to the graph's integer type (PyTorch
/// writes int64 class indices; the label input is int32).
Expected<Tensor> adapt(const Value &In, Tensor T) {
  if (T.type() == In.type())
    return T;
  if (T.shape() == In.type().Dims && isInteger(T.dtype()) &&
      isInteger(In.type().Elem)) {
    Tensor R(In.type());
    for (int64_t I = 0; I < T.numElements(); ++I) {
      int64_t V = T.getAsInt(I);
      if (In.type().Elem == DType::I32 && (V < INT32_MIN || V > INT32_MAX))
        return Diag(fmt::format("input '{}': value {} does not fit in i32",
                                In.name(), V));
      R.setFromDouble(I, double(V));
    }
    return R;
  }
  return Diag(fmt::format("input '{}' expects {}, the file holds {}",
                          In.name(), In.type().str(), T.type().str()));
}

int runRun(const ParsedArgs &Args) {
  Expected<Session> S = parseSession(Args);
  if (!S)
    return reportSessionError("run", S.error());
  std::string Engine = Args.get("engine").value_or("generated");
  if (Engine != "interp" && Engine != "generated")
    return reportUsage("run", Diag("--engine must be interp or generated"));
  int64_t Steps = 1;
  if (auto V = Args.get("steps")) {
    auto [P, EC] = std::from_chars(V->data(), V->data() + V->size(), Steps);
    if (EC != std::errc() || P != V->data() + V->size() || Steps < 1)
      return reportUsage("run", Diag("--steps must be a positive integer"));
  }
  if (!S->Training && Steps != 1)
    return reportUsage("run", Diag("--steps needs --train"));
  if (Engine == "generated")
    return reportError(Diag("the generated-code engine needs mote's C++ code "
                            "generator, which this build does not have yet; "
                            "use --engine interp"));
  auto G = buildGraph(*S);
  if (!G)
    return reportError(G.error());
  const Graph &Gr = **G;

  std::map<std::string, Tensor> Feeds;
  for (const std::string &A : Args.getAll("input")) {
    size_t Eq = A.find('=');
    if (Eq == std::string::npos || Eq == 0)
      return reportUsage("run", Diag(fmt::format("--input '{}' must look like "
                                                 "NAME=FILE.pb",
                                                 A)));
    std::string Name = A.substr(0, Eq);
    const Value *In = Gr.lookup(Name);
    if (!In || !In->isInput()) {
      std::vector<std::string> Names;
      for (const Value *V : Gr.inputs())
        Names.push_back(V->name());
      return reportError(Diag(fmt::format("--input {}: the compiled graph has "
                                          "no input of that name (inputs: {})",
                                          Name, fmt::join(Names, ", "))));
    }
    Expected<Tensor> T = readTensorFile(A.substr(Eq + 1));
    if (!T)
      return reportError(T.error());
    Expected<Tensor> Adapted = adapt(*In, std::move(*T));
    if (!Adapted)
      return reportError(Adapted.error());
    Feeds[Name] = std::move(*Adapted);
  }
  for (const Value *In : Gr.inputs())
    if (!Feeds.count(In->name()))
      return reportError(Diag(fmt::format("no --input for graph input '{}' "
                                          "({})",
                                          In->name(), In->type().str())));

  Interpreter I(Gr);
  std::vector<float> Losses;
  for (int64_t K = 0; K < Steps; ++K) {
    if (Status St = I.run(Feeds); !St)
      return reportError(St.error());
    if (S->Training) {
      float L = float(I.get(Gr.outputs()[0])->getAsDouble(0));
      Losses.push_back(L);
      fmt::print("step {}: loss {}\n", K + 1, L);
    }
  }
  if (!S->Training)
    for (const Value *O : Gr.outputs())
      fmt::print("output {}: {}\n", O->name(), O->type().str());

  if (auto Dir = Args.get("dump")) {
    std::error_code EC;
    fs::create_directories(*Dir, EC);
    if (EC)
      return reportError(Diag(fmt::format("{}: cannot create the directory: "
                                          "{}",
                                          *Dir, EC.message())));
    auto Write = [&](const std::string &Name, const Tensor &T) {
      return writeTensorFile((fs::path(*Dir) / fileNameFor(Name)).string(), T,
                             Name);
    };
    if (S->Training) {
      Tensor L = Tensor::fromVector<float>(Losses, {int64_t(Losses.size())});
      if (Status St = Write("loss", L); !St)
        return reportError(St.error());
      for (const Value *P : Gr.params())
        if (P->isTrainable())
          if (Status St = Write(P->name(), *I.state(P)); !St)
            return reportError(St.error());
    } else {
      for (const Value *O : Gr.outputs())
        if (Status St = Write(O->name(), *I.get(O)); !St)
          return reportError(St.error());
    }
  }
  return ExitOk;
}

} // namespace

const Command RunCommand = {
    "run",
    "run model.onnx [--train ...] --input NAME=FILE.pb ... [--steps N] "
    "[--dump DIR] [--engine interp|generated]",
    "compile a model and run it: N training steps, or one inference",
    runOptions,
    runRun,
};

} // namespace mote::cli
