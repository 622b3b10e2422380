//===- DriverTest.cpp - compile() and its options, as a library -----------===//

#include "driver/Driver.h"
#include "codegen/Targets.h"
#include "compiler/Parser.h"
#include "driver/Report.h"

#include <catch2/catch.hpp>

using namespace mote;

namespace {

ParsedArgs parsed(std::vector<std::string> Args) {
  std::vector<OptionSpec> Specs(modelOptionSpecs().begin(),
                                modelOptionSpecs().end());
  for (OptionSpec S : {OptionSpec{"ram-budget", "SIZE", false, ""},
                       OptionSpec{"name", "IDENT", false, ""},
                       OptionSpec{"emit", "KIND", false, ""},
                       OptionSpec{"target", "T", false, ""},
                       OptionSpec{"check-bounds", "", false, ""}})
    Specs.push_back(S);
  auto R = parseArgs(Args, Specs);
  REQUIRE(std::holds_alternative<ParsedArgs>(R));
  return std::get<ParsedArgs>(R);
}

constexpr std::string_view Mlp = R"(graph @mlp {
  input %x : f32[1,4]
  param %fc.weight : f32[2,4] = [0.5, -1, 0.25, 3e-8, 1, 2, 3, 4]
  param %fc.bias : f32[2] = [0, 1.5]
  %h = Gemm "fc"(%x, %fc.weight, %fc.bias) {transB = 1} : f32[1,2]
  %y = Relu "relu"(%h) : f32[1,2]
  output %y
}
)";

std::unique_ptr<Graph> mlp() {
  auto G = parseGraph(Mlp, "mlp.mote");
  REQUIRE(G);
  return std::move(*G);
}

const EmittedFile *fileNamed(const CompiledModel &M, std::string_view Path) {
  for (const EmittedFile &F : M.Files)
    if (F.Path == Path)
      return &F;
  return nullptr;
}

} // namespace

TEST_CASE("parseCompileOptions reads every option that shapes a compile",
          "[driver]") {
  Expected<CompileOptions> O = parseCompileOptions(parsed(
      {"m.onnx",        "--train",  "--optimizer", "adam",         "--lr",
       "0.5",           "--update", "fc.*:0.5",    "--batch",      "4",
       "--input-shape", "x=1x3",    "--no-fuse",   "--ram-budget", "64K",
       "--name",        "net",      "--emit",      "both",         "--target",
       "cortex-m4"}));
  REQUIRE(O);
  CHECK(O->ModelPath == "m.onnx");
  CHECK(O->Training);
  CHECK(O->Train.Optimizer == OptimizerKind::Adam);
  CHECK(O->Train.LearningRate == 0.5f);
  REQUIRE(O->Train.Update.size() == 1);
  CHECK(O->Train.Update[0].Ratio == 0.5);
  CHECK(O->Import.Batch == 4);
  CHECK(O->Import.InputShapes.at("x") == Shape{1, 3});
  CHECK_FALSE(O->Fuse);
  CHECK(O->Reorder);
  CHECK(O->RamBudget == 65536);
  CHECK(O->Name == "net");
  CHECK(O->Emit == EmitKind::Both);
  CHECK(O->target().Name == "cortex-m4");
}

TEST_CASE("parseCompileOptions: a bad option is a usage error naming it",
          "[driver]") {
  struct Case {
    std::vector<std::string> Args;
    std::string Message;
    bool Usage;
  } Cases[] = {
      {{"m.onnx", "--lr", "1"}, "--lr needs --train", true},
      {{"m.onnx", "--train", "--optimizer", "foo"},
       "--optimizer 'foo': use sgd, momentum or adam",
       true},
      {{"m.onnx", "--train", "--loss", "l1"},
       "--loss 'l1': use cross-entropy or mse",
       true},
      {{"m.onnx", "--train", "--lr", "x"}, "--lr 'x' is not a number", true},
      {{"m.onnx", "--train", "--lr", "-1"}, "--lr must be positive", true},
      {{"m.onnx", "--train", "--infer"},
       "--train and --infer exclude each other",
       true},
      {{"m.onnx", "--emit", "elf"},
       "--emit 'elf': use cpp, obj, both or none",
       true},
      {{"m.onnx", "--name", "a-b"},
       "--name 'a-b' is not a C identifier",
       false},
      {{"m.onnx", "--target", "z80"}, "--target 'z80' is not a target", true},
      {{"m.onnx", "--emit", "obj", "--check-bounds"},
       "--check-bounds needs --emit cpp",
       true},
      {{"m.onnx", "--ram-budget", "1G"},
       "--ram-budget '1G' must be a byte",
       true},
      {{"m.onnx", "--batch", "0"},
       "--batch '0' must be a positive integer",
       true},
      {{"a.onnx", "b.onnx"}, "expected one model file", true},
      {{"m.onnx", "--train", "--update", "x:2"}, "ratio", false},
  };
  for (const Case &C : Cases) {
    INFO(C.Message);
    Expected<CompileOptions> O = parseCompileOptions(parsed(C.Args));
    REQUIRE_FALSE(O);
    CHECK(O.error().Message.find(C.Message) != std::string::npos);
    CHECK(O.error().Usage == C.Usage);
  }
}

TEST_CASE("parseByteSize takes bytes and K or M suffixes", "[driver]") {
  CHECK(*parseByteSize("ram-budget", "100000") == 100000);
  CHECK(*parseByteSize("ram-budget", "256K") == 262144);
  CHECK(*parseByteSize("ram-budget", "256k") == 262144);
  CHECK(*parseByteSize("ram-budget", "2M") == 2097152);
  CHECK(*parseByteSize("ram-budget", "0") == 0);
  for (const char *Bad : {"", "K", "-1", "1.5K", "12G", "lots",
                          "99999999999999999999", "9223372036854775807M"})
    CHECK_FALSE(parseByteSize("ram-budget", Bad));
}

TEST_CASE("compileGraph stops at the stage asked for", "[driver]") {
  CompileOptions O;
  O.ModelPath = "mlp.mote";
  Expected<CompiledModel> G = compileGraph(mlp(), O, Stage::Graph);
  REQUIRE(G);
  CHECK_FALSE(G->Layout);
  CHECK_FALSE(G->Program);
  CHECK(G->Files.empty());
  // The inference pipeline ran: the Relu folded into the Gemm.
  CHECK(G->G->nodes().size() == 1);
  CHECK(G->Passes.PassesRun ==
        std::vector<std::string>{"canonicalize", "fold-qdq", "fuse", "schedule",
                                 "stream"});

  Expected<CompiledModel> L = compileGraph(mlp(), O, Stage::Layout);
  REQUIRE(L);
  REQUIRE(L->Layout);
  // The result alone: the input is read from the caller's buffer.
  CHECK(L->Layout->Plan.ArenaBytes == 16);
  CHECK(L->Layout->CallerBytes == 16);
  CHECK_FALSE(L->Program);
}

TEST_CASE("compileGraph emits the C++, the object or both", "[driver]") {
  CompileOptions O;
  O.ModelPath = "mlp.mote";
  O.Name = "net";
  Expected<CompiledModel> M = compileGraph(mlp(), O);
  REQUIRE(M);
  REQUIRE(M->Program);
  CHECK(M->Program->Name == "net");
  CHECK(M->Program->Calls.size() == 1);
  REQUIRE(fileNamed(*M, "net.h"));
  REQUIRE(fileNamed(*M, "net.cpp"));
  const EmittedFile *W = fileNamed(*M, "net.weights");
  REQUIRE(W);
  CHECK(W->Text.size() == 40); // 8 + 2 floats
  CHECK(fileNamed(*M, "mote_rt/core.h"));
  CHECK(fileNamed(*M, "mote_rt/params.def"));
  CHECK_FALSE(fileNamed(*M, "net.o"));

  Expected<std::vector<EmittedFile>> Obj =
      emitFiles(*M, EmitKind::Object, *lookupTarget("cortex-m4"));
  REQUIRE(Obj);
  REQUIRE(Obj->size() == 2);
  CHECK((*Obj)[0].Path == "net.h");
  CHECK((*Obj)[0].Text == fileNamed(*M, "net.h")->Text);
  CHECK((*Obj)[1].Path == "net.o");
  CHECK((*Obj)[1].Text.substr(0, 4) == "\x7f"
                                       "ELF");

  O.Emit = EmitKind::None;
  Expected<CompiledModel> None = compileGraph(mlp(), O);
  REQUIRE(None);
  CHECK(None->Program);
  CHECK(None->Files.empty());
}

TEST_CASE("compile errors name the model; the budget is checked at layout",
          "[driver]") {
  CompileOptions O;
  O.ModelPath = "mlp.mote";
  O.RamBudget = 8;
  Expected<CompiledModel> M = compileGraph(mlp(), O);
  REQUIRE_FALSE(M);
  CHECK(M.error().File == "mlp.mote");
  CHECK(M.error().Message.find("over the --ram-budget of 8") !=
        std::string::npos);

  CompileOptions P;
  P.ModelPath = "mlp.mote";
  P.Passes = std::vector<std::string>{"no-such-pass"};
  Expected<CompiledModel> Bad = compileGraph(mlp(), P);
  REQUIRE_FALSE(Bad);
  CHECK(Bad.error().Usage);

  Expected<CompiledModel> Missing =
      compile(CompileOptions{.ModelPath = "/nonexistent/model.onnx"});
  REQUIRE_FALSE(Missing);
  CHECK(Missing.error().str().find("/nonexistent/model.onnx") !=
        std::string::npos);
}

TEST_CASE("the reports of a compiled model", "[driver]") {
  CompileOptions O;
  O.ModelPath = "mlp.mote";
  Expected<CompiledModel> M = compileGraph(mlp(), O, Stage::Layout);
  REQUIRE(M);
  std::string J = reportJson(*M);
  for (const char *Key :
       {"\"arena_bytes\": 16", "\"lower_bound_bytes\"", "\"efficiency\"",
        "\"flash_bytes\": 40", "\"tensors\"", "\"caller_input_bytes\": 16",
        "\"caller_inputs\"", "\"ops\"", "\"update\"", "\"passes\"",
        "\"fusion\"", "\"masks\""})
    CHECK(J.find(Key) != std::string::npos);
  CHECK(reportHtml(*M).starts_with("<!DOCTYPE html>"));
}
