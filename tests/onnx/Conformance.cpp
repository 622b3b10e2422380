//===- Conformance.cpp - ONNX backend node tests through mote -------------===//
//
// mote-onnx-conformance NODE_DIR [--filter SUBSTR] [--verbose]
//
// Runs every ONNX backend node test (model.onnx + test_data_set_*/ .pb) whose
// ops mote supports through the importer and the reference interpreter, and
// compares with the stored outputs (rtol 1e-3, atol 1e-7 as ONNX's own
// backend runner; integers and bools exactly). Tests using an op mote does
// not import are skipped and their op types listed; so are the few tests of
// features mote refuses by design (listed below with the reason).
// Prints "N passed, M failed, K skipped (unsupported)"; exits 1 on failure.
//
// --generated DIR: every test that passes on the interpreter is also
// compiled (inference pipeline, memory plan, C++ emitter) into DIR as
// t<k>.h/.cpp, built into one host program with make (-O1) and run; its
// outputs must match the stored ones with the same tolerance. Prints
// "generated code: N passed, M failed".
//
//===----------------------------------------------------------------------===//

#include "compiler/Graph.h"
#include "compiler/Interpreter.h"
#include "compiler/OpDef.h"
#include "driver/Driver.h"
#include "frontends/onnx/OnnxImporter.h"

#include <algorithm>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <onnx/onnx_pb.h>
#include <set>

namespace fs = std::filesystem;
using namespace mote;

namespace {

/// Tests of supported ops that exercise something mote refuses on purpose.
struct Refusal {
  std::string_view Prefix;
  std::string_view Why;
};
const Refusal Refusals[] = {
    {"test_batchnorm_epsilon_training_mode",
     "training-mode BatchNormalization: mote imports eval-mode models"},
    {"test_batchnorm_example_training_mode",
     "training-mode BatchNormalization: mote imports eval-mode models"},
    {"test_training_dropout", "training-mode Dropout: mote imports eval-mode "
                              "models"},
    {"test_adam_multiple",
     "inconsistent test: its reference output uses epsilon 1e-2 but the node "
     "sets no epsilon (ONNX 1.12's adam.py); test_adam checks the same op"},
};

std::string_view refusalReason(const std::string &Name) {
  for (const Refusal &R : Refusals)
    if (Name.starts_with(R.Prefix))
      return R.Why;
  return {};
}

std::string readFile(const fs::path &P) {
  std::ifstream In(P, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(In)),
                     std::istreambuf_iterator<char>());
}

/// Compares an output with its reference; returns a description of the first
/// mismatch, or empty.
std::string compare(const Tensor &Got, const Tensor &Want) {
  // ONNX's tensors carry no quantization parameters: compare the storage.
  if (!Got.type().sameStorage(Want.type()))
    return fmt::format("type {} but expected {}", Got.type().str(),
                       Want.type().str());
  for (int64_t I = 0; I < Want.numElements(); ++I) {
    double G = Got.getAsDouble(I), W = Want.getAsDouble(I);
    if (std::isnan(W) && std::isnan(G))
      continue;
    if (std::isinf(W) && G == W)
      continue;
    bool Ok = isFloat(Want.dtype())
                  ? std::fabs(G - W) <= 1e-7 + 1e-3 * std::fabs(W)
                  : G == W;
    if (!Ok)
      return fmt::format("element {}: got {} expected {}", I, G, W);
  }
  return {};
}

enum class Outcome { Pass, Fail, Skip };

/// A test compiled to C++ whose outputs are checked after the batch runs.
struct GeneratedCase {
  std::string Test;
  std::string Name; ///< symbol prefix, t<k>
  std::vector<Tensor> Want;
};

/// Where --generated puts its cases (null: not asked).
struct GeneratedBatch {
  fs::path Dir;
  std::vector<GeneratedCase> Cases;
  std::vector<std::string> Failures; ///< tests that failed to compile
};
GeneratedBatch *Batch = nullptr;

void writeBinary(const fs::path &P, const std::string &Text) {
  std::ofstream Out(P, std::ios::binary);
  Out << Text;
}

/// Compiles the graph of a passing test (inference pipeline) to C++ in the
/// batch directory with its inputs as raw files.
void addGeneratedCase(const std::string &Test, std::string_view Bytes,
                      const fs::path &ModelDir, const ImportOptions &Opts,
                      const std::map<std::string, Tensor> &Feeds,
                      std::vector<Tensor> Want) {
  auto Fail = [&](const std::string &Why) {
    Batch->Failures.push_back(fmt::format("{}: {}", Test, Why));
  };
  CompileOptions O;
  O.ModelPath = (ModelDir / "model.onnx").string();
  O.Import = Opts;
  O.Name = fmt::format("t{}", Batch->Cases.size());
  Expected<CompiledModel> M =
      compileOnnxBytes(std::string(Bytes), O.ModelPath, ModelDir.string(), O);
  if (!M)
    return Fail("compile: " + M.error().str());
  const std::string &Name = O.Name;
  const Graph &G = *M->G;
  for (const EmittedFile &F : M->Files)
    if (!F.Path.starts_with("mote_rt/") && !F.Path.starts_with("board/"))
      writeBinary(Batch->Dir / F.Path, F.Text);
  for (size_t I = 0; I < G.inputs().size(); ++I) {
    const Value *In = G.inputs()[I];
    auto It = Feeds.find(In->name());
    if (It == Feeds.end() || !It->second.type().sameStorage(In->type()))
      return Fail(fmt::format("no input data of type {} for '{}'",
                              In->type().str(), In->name()));
    writeBinary(Batch->Dir / fmt::format("{}_in{}.bin", Name, I),
                std::string(reinterpret_cast<const char *>(It->second.raw()),
                            size_t(It->second.type().bytes())));
  }
  if (G.outputs().size() != Want.size())
    return Fail("output count differs after the pipeline");
  for (size_t I = 0; I < Want.size(); ++I)
    if (!G.outputs()[I]->type().sameStorage(Want[I].type()))
      return Fail(fmt::format("output {} is {} after the pipeline, expected {}",
                              I, G.outputs()[I]->type().str(),
                              Want[I].type().str()));
  Batch->Cases.push_back({Test, Name, std::move(Want)});
}

struct Result {
  Outcome O;
  std::string Detail;
};

Result runTest(const fs::path &Dir, std::set<std::string> &SkippedOps) {
  onnx::ModelProto M;
  std::string Bytes = readFile(Dir / "model.onnx");
  if (!M.ParseFromString(Bytes))
    return {Outcome::Fail, "model.onnx does not parse"};
  int Opset = -1;
  for (const auto &OS : M.opset_import())
    if (OS.domain().empty() || OS.domain() == "ai.onnx")
      Opset = int(OS.version());
  std::vector<std::string> Missing;
  for (const auto &N : M.graph().node()) {
    bool Default = N.domain().empty() || N.domain() == "ai.onnx";
    if (!Default || !isOnnxOpSupported(N.op_type(), Opset) ||
        Opset < MinOnnxOpset || Opset > MaxOnnxOpset)
      Missing.push_back(fmt::format("{}-{}", N.op_type(), Opset));
  }
  if (!Missing.empty()) {
    for (const std::string &S : Missing)
      SkippedOps.insert(S);
    return {Outcome::Skip, fmt::format("unsupported: {}", fmt::join(Missing, ", "))};
  }
  std::string Name = Dir.filename().string();
  if (std::string_view Why = refusalReason(Name); !Why.empty())
    return {Outcome::Skip, std::string(Why)};

  for (const auto &VI : M.graph().input())
    if (!VI.type().has_tensor_type())
      return {Outcome::Skip, fmt::format("input '{}' is not a tensor "
                                         "(sequence/optional types)",
                                         VI.name())};

  std::vector<fs::path> Sets;
  for (const auto &E : fs::directory_iterator(Dir))
    if (E.is_directory() && E.path().filename().string().starts_with("test_data_set_"))
      Sets.push_back(E.path());
  std::sort(Sets.begin(), Sets.end());
  if (Sets.empty())
    return {Outcome::Fail, "no test data"};

  // Graph inputs that are not initializers, in order.
  std::vector<std::string> InputNames;
  std::set<std::string> Inits;
  for (const auto &I : M.graph().initializer())
    Inits.insert(I.name());
  for (const auto &VI : M.graph().input())
    if (!Inits.count(VI.name()))
      InputNames.push_back(VI.name());

  bool FirstSet = true;
  for (const fs::path &Set : Sets) {
    std::map<std::string, Tensor> Feeds;
    for (size_t I = 0; I < InputNames.size(); ++I) {
      fs::path P = Set / fmt::format("input_{}.pb", I);
      if (!fs::exists(P))
        continue; // optional input left out
      Expected<Tensor> T = readTensorFile(P.string());
      if (!T) {
        if (T.error().Message.find("not support") != std::string::npos)
          return {Outcome::Skip, "unsupported dtype: " + T.error().Message};
        return {Outcome::Fail, T.error().str()};
      }
      Feeds[InputNames[I]] = std::move(*T);
    }
    // Shape-like operands (Reshape's shape, Clip's bounds...) arrive as graph
    // inputs in node tests; bind each one the importer asks to be constant.
    ImportOptions Opts;
    auto G = importOnnxBytes(Bytes, (Dir / "model.onnx").string(),
                             Dir.string(), Opts);
    for (int Try = 0; Try < 8 && !G; ++Try) {
      const std::string &Msg = G.error().Message;
      size_t At = Msg.find("') must be a constant");
      size_t Open = Msg.rfind("('", At);
      if (At == std::string::npos || Open == std::string::npos)
        break;
      std::string Operand = Msg.substr(Open + 2, At - Open - 2);
      auto It = Feeds.find(Operand);
      if (It == Feeds.end() || Opts.ConstantInputs.count(Operand))
        break;
      Opts.ConstantInputs[Operand] = It->second;
      G = importOnnxBytes(Bytes, (Dir / "model.onnx").string(), Dir.string(),
                          Opts);
    }
    if (!G) {
      const std::string &Msg = G.error().Message;
      if (Msg.find("which mote does not support") != std::string::npos ||
          Msg.find("is not supported") != std::string::npos)
        return {Outcome::Skip, "refused: " + G.error().str()};
      return {Outcome::Fail, "import: " + G.error().str()};
    }
    std::map<std::string, Tensor> RunFeeds;
    for (auto &[N, T] : Feeds)
      if (!Opts.ConstantInputs.count(N))
        RunFeeds[N] = T;
    Expected<std::vector<Tensor>> Outs = interpret(**G, RunFeeds);
    if (!Outs)
      return {Outcome::Fail, "run: " + Outs.error().str()};
    std::vector<Tensor> Wants;
    for (size_t I = 0; I < Outs->size(); ++I) {
      fs::path P = Set / fmt::format("output_{}.pb", I);
      Expected<Tensor> Want = readTensorFile(P.string());
      if (!Want)
        return {Outcome::Fail, Want.error().str()};
      std::string D = compare((*Outs)[I], *Want);
      if (!D.empty())
        return {Outcome::Fail, fmt::format("{} output {}: {}",
                                           Set.filename().string(), I, D)};
      Wants.push_back(std::move(*Want));
    }
    if (Batch && FirstSet)
      addGeneratedCase(Name, Bytes, Dir, Opts, RunFeeds, std::move(Wants));
    FirstSet = false;
  }
  return {Outcome::Pass, {}};
}

/// The ai.onnx.preview.training Momentum and Adam node tests, run through
/// mote's MomentumUpdate / AdamUpdate (learning rate R becomes the lr
/// attribute, T the step input). Returns nullopt if \p Dir is not one.
std::optional<Result> runOptimizerTest(const fs::path &Dir) {
  onnx::ModelProto M;
  if (!M.ParseFromString(readFile(Dir / "model.onnx")) ||
      M.graph().node_size() != 1)
    return std::nullopt;
  const onnx::NodeProto &N = M.graph().node(0);
  bool IsAdam = N.op_type() == "Adam";
  if (N.domain() != "ai.onnx.preview.training" ||
      (N.op_type() != "Momentum" && !IsAdam))
    return std::nullopt;
  fs::path Set = Dir / "test_data_set_0";
  std::vector<Tensor> Ins, Want;
  for (int I = 0; I < N.input_size(); ++I) {
    Expected<Tensor> T = readTensorFile((Set / fmt::format("input_{}.pb", I)).string());
    if (!T)
      return Result{Outcome::Fail, T.error().str()};
    Ins.push_back(std::move(*T));
  }
  for (int I = 0; I < N.output_size(); ++I) {
    Expected<Tensor> T = readTensorFile((Set / fmt::format("output_{}.pb", I)).string());
    if (!T)
      return Result{Outcome::Fail, T.error().str()};
    Want.push_back(std::move(*T));
  }
  AttrMap A;
  A.set("lr", float(Ins[0].getAsDouble(0)));
  for (const auto &At : N.attribute()) {
    if (At.type() == onnx::AttributeProto::FLOAT)
      A.set(At.name(), At.f());
    else if (At.type() == onnx::AttributeProto::STRING)
      A.set(At.name(), At.s());
  }
  // Inputs after R, T come in groups: X..., G..., V... (, H...).
  size_t Groups = IsAdam ? 4 : 3;
  size_t K = (Ins.size() - 2) / Groups;
  for (size_t P = 0; P < K; ++P) {
    Graph G;
    std::vector<Value *> Vs;
    for (size_t Gi = 0; Gi < Groups; ++Gi)
      Vs.push_back(G.addConst(fmt::format("v{}", Gi), Ins[2 + Gi * K + P]));
    Tensor Step(TensorType(DType::I64, {}));
    Step.data<int64_t>()[0] = Ins[1].getAsInt(0);
    Vs.push_back(G.addConst("t", Step));
    std::vector<ResultSpec> Rs;
    for (size_t R = 0; R + 1 < Groups; ++R)
      Rs.push_back({fmt::format("r{}", R), Vs[0]->type()});
    Node *U = G.addNode(IsAdam ? OpKind::AdamUpdate : OpKind::MomentumUpdate,
                        "u", Vs, A, Rs);
    for (Value *O : U->outputs())
      G.addOutput(O);
    Expected<std::vector<Tensor>> Outs = interpret(G, {});
    if (!Outs)
      return Result{Outcome::Fail, Outs.error().str()};
    for (size_t R = 0; R < Outs->size(); ++R) {
      std::string D = compare((*Outs)[R], Want[R * K + P]);
      if (!D.empty())
        return Result{Outcome::Fail, fmt::format("result {} of parameter {}: {}",
                                                 R, P, D)};
    }
  }
  return Result{Outcome::Pass, {}};
}

/// Builds every generated case into one program, runs it and compares.
/// Returns the number of failures.
int runGeneratedBatch(GeneratedBatch &B, bool Verbose) {
  std::string Main = "// Runs every generated node test; written by "
                     "mote-onnx-conformance.\n#include <cstdio>\n#include "
                     "<cstdlib>\n#include <vector>\n";
  for (const GeneratedCase &C : B.Cases)
    Main += fmt::format("#include \"{}.h\"\n", C.Name);
  Main += "static std::vector<unsigned char> readAll(const char *P) {\n"
          "  std::vector<unsigned char> B;\n  FILE *F = std::fopen(P, \"rb\");\n"
          "  if (!F) return B;\n  int C;\n  while ((C = std::fgetc(F)) != EOF) "
          "B.push_back((unsigned char)C);\n  std::fclose(F);\n  B.push_back(0);\n"
          "  return B;\n}\n"
          "static void writeAll(const char *P, const void *D, size_t N) {\n"
          "  FILE *F = std::fopen(P, \"wb\");\n  std::fwrite(D, 1, N, F);\n"
          "  std::fclose(F);\n}\n";
  Main += "int main() {\n";
  std::vector<std::string> Objs;
  for (const GeneratedCase &C : B.Cases) {
    Objs.push_back(C.Name + ".o");
    size_t NumIn = 0;
    while (fs::exists(B.Dir / fmt::format("{}_in{}.bin", C.Name, NumIn)))
      ++NumIn;
    Main += "  {\n";
    Main += fmt::format("    void *A = std::aligned_alloc(16, ({}_ARENA_BYTES "
                        "+ 15) / 16 * 16 + 16);\n    {}_init(A);\n",
                        C.Name, C.Name);
    Main += fmt::format("    std::vector<unsigned char> In[{}];\n    const "
                        "void *Ip[{}] = {{}};\n",
                        std::max<size_t>(NumIn, 1), std::max<size_t>(NumIn, 1));
    for (size_t I = 0; I < NumIn; ++I)
      Main += fmt::format("    In[{0}] = readAll(\"{1}_in{0}.bin\");\n    "
                          "Ip[{0}] = In[{0}].data();\n",
                          I, C.Name);
    Main += fmt::format("    std::vector<unsigned char> Out[{}];\n    void "
                        "*Op[{}] = {{}};\n",
                        std::max<size_t>(C.Want.size(), 1),
                        std::max<size_t>(C.Want.size(), 1));
    for (size_t I = 0; I < C.Want.size(); ++I)
      Main += fmt::format("    Out[{0}].resize({1} + 1);\n    Op[{0}] = "
                          "Out[{0}].data();\n",
                          I, C.Want[I].type().bytes());
    Main += fmt::format("    {}_infer_v(A, Ip, Op);\n", C.Name);
    for (size_t I = 0; I < C.Want.size(); ++I)
      Main += fmt::format("    writeAll(\"{1}_out{0}.bin\", Out[{0}].data(), "
                          "{2});\n",
                          I, C.Name, C.Want[I].type().bytes());
    Main += "    std::free(A);\n  }\n";
  }
  Main += "  return 0;\n}\n";
  writeBinary(B.Dir / "main.cpp", Main);
  std::string Make = "CXX ?= c++\nCXXFLAGS = -std=c++20 -O1 -I .\n"
                     "run: main.o " + fmt::format("{}", fmt::join(Objs, " ")) +
                     "\n\t$(CXX) -o $@ $^\n%.o: %.cpp\n\t$(CXX) $(CXXFLAGS) "
                     "-c $< -o $@\n";
  writeBinary(B.Dir / "Makefile", Make);
  std::string Cmd = fmt::format("make -s -j2 -C '{}' run > '{}/build.log' 2>&1 "
                                "&& cd '{}' && ./run > run.log 2>&1",
                                B.Dir.string(), B.Dir.string(), B.Dir.string());
  int Failures = int(B.Failures.size());
  for (const std::string &F : B.Failures)
    fmt::print("GENERATED FAIL {}\n", F);
  if (std::system(Cmd.c_str()) != 0) {
    fmt::print("GENERATED FAIL: the batch did not build or run; see {}/build.log "
               "and run.log\n",
               B.Dir.string());
    return Failures + int(B.Cases.size());
  }
  int Passed = 0;
  for (const GeneratedCase &C : B.Cases) {
    std::string Why;
    for (size_t I = 0; I < C.Want.size() && Why.empty(); ++I) {
      std::string Raw = readFile(B.Dir / fmt::format("{}_out{}.bin", C.Name, I));
      Tensor Got(C.Want[I].type());
      if (int64_t(Raw.size()) != Got.type().bytes()) {
        Why = fmt::format("output {} missing", I);
        break;
      }
      std::memcpy(Got.raw(), Raw.data(), Raw.size());
      std::string D = compare(Got, C.Want[I]);
      if (!D.empty())
        Why = fmt::format("output {}: {}", I, D);
    }
    if (Why.empty()) {
      ++Passed;
      if (Verbose)
        fmt::print("GENERATED PASS {}\n", C.Test);
    } else {
      ++Failures;
      fmt::print("GENERATED FAIL {} ({}): {}\n", C.Test, C.Name, Why);
    }
  }
  fmt::print("generated code: {} passed, {} failed\n", Passed, Failures);
  return Failures;
}

} // namespace

int main(int Argc, char **Argv) {
  if (Argc < 2) {
    fmt::print(stderr, "usage: mote-onnx-conformance NODE_DIR [--filter S] "
                       "[--verbose]\n");
    return 2;
  }
  fs::path Root = Argv[1];
  std::string Filter;
  bool Verbose = false;
  std::string GenDir;
  for (int I = 2; I < Argc; ++I) {
    std::string A = Argv[I];
    if (A == "--filter" && I + 1 < Argc)
      Filter = Argv[++I];
    else if (A == "--verbose")
      Verbose = true;
    else if (A == "--generated" && I + 1 < Argc)
      GenDir = Argv[++I];
    else {
      fmt::print(stderr, "unknown option '{}'\n", A);
      return 2;
    }
  }
  std::vector<fs::path> Dirs;
  std::error_code EC;
  for (const auto &E : fs::directory_iterator(Root, EC))
    if (E.is_directory() && fs::exists(E.path() / "model.onnx") &&
        E.path().filename().string().find(Filter) != std::string::npos)
      Dirs.push_back(E.path());
  if (EC || Dirs.empty()) {
    fmt::print(stderr, "no node tests under '{}'\n", Root.string());
    return 2;
  }
  std::sort(Dirs.begin(), Dirs.end());
  GeneratedBatch TheBatch;
  if (!GenDir.empty()) {
    TheBatch.Dir = GenDir;
    fs::remove_all(TheBatch.Dir, EC);
    fs::create_directories(TheBatch.Dir / "mote_rt", EC);
    for (const EmittedFile &F : runtimeStubFiles()) {
      fs::create_directories((TheBatch.Dir / F.Path).parent_path(), EC);
      writeBinary(TheBatch.Dir / F.Path, F.Text);
    }
    Batch = &TheBatch;
  }
  int Pass = 0, Fail = 0, Skip = 0;
  std::set<std::string> SkippedOps;
  std::vector<std::string> Refused;
  for (const fs::path &D : Dirs) {
    std::string_view Why = refusalReason(D.filename().string());
    std::optional<Result> Opt =
        Why.empty() ? runOptimizerTest(D) : Result{Outcome::Skip, std::string(Why)};
    Result R = Opt ? *Opt : runTest(D, SkippedOps);
    std::string Name = D.filename().string();
    switch (R.O) {
    case Outcome::Pass:
      ++Pass;
      if (Verbose)
        fmt::print("PASS {}\n", Name);
      break;
    case Outcome::Fail:
      ++Fail;
      fmt::print("FAIL {}: {}\n", Name, R.Detail);
      break;
    case Outcome::Skip:
      ++Skip;
      if (!R.Detail.starts_with("unsupported:"))
        Refused.push_back(fmt::format("{}: {}", Name, R.Detail));
      if (Verbose)
        fmt::print("SKIP {}: {}\n", Name, R.Detail);
      break;
    }
  }
  // Op types mote does not import at all, and supported ones seen only in
  // models of an opset outside mote's range.
  std::set<std::string> OpTypes;
  for (const std::string &S : SkippedOps) {
    std::string Op = S.substr(0, S.rfind('-'));
    bool Known = isOnnxOpSupported(Op, MaxOnnxOpset);
    OpTypes.insert(Known ? fmt::format("{}(opset {})", Op, S.substr(S.rfind('-') + 1)) : Op);
  }
  fmt::print("\nskipped op types ({}): {}\n", OpTypes.size(),
             fmt::join(OpTypes, " "));
  fmt::print("tests of supported ops skipped on purpose ({}):\n", Refused.size());
  for (const std::string &R : Refused)
    fmt::print("  {}\n", R);
  fmt::print("\nonnx node tests: {} passed, {} failed, {} skipped (unsupported)\n",
             Pass, Fail, Skip);
  int GenFail = 0;
  if (Batch)
    GenFail = runGeneratedBatch(*Batch, Verbose);
  return Fail || GenFail ? 1 : 0;
}
