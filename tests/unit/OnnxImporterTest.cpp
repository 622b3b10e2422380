//===- OnnxImporterTest.cpp - The ONNX frontend on hand-built models ------===//
//
// Models are built here with the ONNX protobuf API, serialized, and imported
// from bytes (or from files in a temp dir, for external data).
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include "compiler/Interpreter.h"
#include "compiler/Printer.h"
#include "compiler/Quant.h"
#include "frontends/onnx/OnnxImporter.h"

#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <onnx/onnx_pb.h>

using namespace mote;
using namespace mote::test;
namespace fs = std::filesystem;

namespace {

/// Fluent builder of small ONNX models.
struct ModelBuilder {
  onnx::ModelProto M;
  onnx::GraphProto *G;

  explicit ModelBuilder(int Opset = 13) {
    M.set_ir_version(8);
    auto *OS = M.add_opset_import();
    OS->set_domain("");
    OS->set_version(Opset);
    G = M.mutable_graph();
    G->set_name("g");
  }

  static void setType(onnx::ValueInfoProto *VI, const std::string &Name,
                      int Elem, const std::vector<std::string> &Dims) {
    VI->set_name(Name);
    auto *TT = VI->mutable_type()->mutable_tensor_type();
    TT->set_elem_type(Elem);
    auto *S = TT->mutable_shape();
    for (const std::string &D : Dims) {
      auto *Dim = S->add_dim();
      if (!D.empty() && (std::isdigit(D[0]) || D[0] == '-'))
        Dim->set_dim_value(std::stoll(D));
      else
        Dim->set_dim_param(D);
    }
  }
  ModelBuilder &input(const std::string &Name,
                      const std::vector<std::string> &Dims,
                      int Elem = onnx::TensorProto::FLOAT) {
    setType(G->add_input(), Name, Elem, Dims);
    return *this;
  }
  ModelBuilder &output(const std::string &Name) {
    G->add_output()->set_name(Name);
    return *this;
  }
  onnx::TensorProto *init(const std::string &Name, std::vector<int64_t> Dims,
                          std::vector<float> Vals) {
    auto *T = G->add_initializer();
    T->set_name(Name);
    T->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t D : Dims)
      T->add_dims(D);
    for (float V : Vals)
      T->add_float_data(V);
    return T;
  }
  onnx::TensorProto *initI64(const std::string &Name, std::vector<int64_t> Dims,
                             std::vector<int64_t> Vals) {
    auto *T = G->add_initializer();
    T->set_name(Name);
    T->set_data_type(onnx::TensorProto::INT64);
    for (int64_t D : Dims)
      T->add_dims(D);
    for (int64_t V : Vals)
      T->add_int64_data(V);
    return T;
  }
  /// An integer initializer (INT8, UINT8, INT32: ONNX keeps these in
  /// int32_data).
  onnx::TensorProto *initInts(const std::string &Name, int Type,
                              std::vector<int64_t> Dims,
                              std::vector<int32_t> Vals) {
    auto *T = G->add_initializer();
    T->set_name(Name);
    T->set_data_type(Type);
    for (int64_t D : Dims)
      T->add_dims(D);
    for (int32_t V : Vals)
      T->add_int32_data(V);
    return T;
  }
  onnx::NodeProto *node(const std::string &Op, std::vector<std::string> Ins,
                        std::vector<std::string> Outs,
                        const std::string &Name = "") {
    auto *N = G->add_node();
    N->set_op_type(Op);
    N->set_name(Name);
    for (auto &I : Ins)
      N->add_input(I);
    for (auto &O : Outs)
      N->add_output(O);
    return N;
  }
  std::string bytes() const { return M.SerializeAsString(); }
};

void addIntsAttr(onnx::NodeProto *N, const std::string &Name,
                 std::vector<int64_t> V) {
  auto *A = N->add_attribute();
  A->set_name(Name);
  A->set_type(onnx::AttributeProto::INTS);
  for (int64_t X : V)
    A->add_ints(X);
}

Expected<std::unique_ptr<Graph>> importBytes(const ModelBuilder &B,
                                             ImportOptions Opts = {}) {
  return importOnnxBytes(B.bytes(), "m.onnx", ".", Opts);
}

} // namespace

TEST_CASE("a small conv model imports with types and params", "[onnx]") {
  ModelBuilder B;
  B.input("x", {"1", "1", "4", "4"}).output("y");
  B.init("w", {2, 1, 3, 3}, std::vector<float>(18, 1.0f));
  B.init("b", {2}, {0.5f, -0.5f});
  auto *C = B.node("Conv", {"x", "w", "b"}, {"c"}, "conv");
  addIntsAttr(C, "pads", {1, 1, 1, 1});
  B.node("Relu", {"c"}, {"y"}, "relu");
  auto G = importBytes(B);
  REQUIRE(G);
  CHECK((*G)->Opset == 13);
  CHECK((*G)->lookup("c")->type() == TensorType(DType::F32, {1, 2, 4, 4}));
  CHECK((*G)->lookup("w")->isParam());
  CHECK(nodeMacs(*(*G)->lookupNode("conv")) == 2 * 16 * 9);
}

TEST_CASE("zero strides and dilations are errors before ONNX shape "
          "inference divides by them",
          "[onnx]") {
  for (const char *Attr : {"strides", "dilations"}) {
    ModelBuilder B;
    B.input("x", {"1", "1", "4", "4"}).output("y");
    B.init("w", {2, 1, 3, 3}, std::vector<float>(18, 1.0f));
    auto *C = B.node("Conv", {"x", "w"}, {"y"}, "conv");
    addIntsAttr(C, Attr, {1, 0});
    auto G = importBytes(B);
    REQUIRE_FALSE(G);
    CHECK(G.error().str() == fmt::format("m.onnx: node 'conv' (Conv, opset "
                                         "13): {} [1, 0] must be positive",
                                         Attr));
  }
}

TEST_CASE("all unsupported ops are listed in one error", "[onnx]") {
  ModelBuilder B;
  B.input("x", {"2"}).output("z");
  B.node("Cos", {"x"}, {"a"}, "c1");
  B.node("Relu", {"a"}, {"b"}, "r");
  B.node("TopK", {"b"}, {"z"}, "t");
  auto G = importBytes(B);
  REQUIRE_FALSE(G);
  CHECK(G.error().str() ==
        "m.onnx: 2 unsupported ops: node 'c1' (Cos, opset 13); node 't' "
        "(TopK, opset 13)");
}

TEST_CASE("custom domains and out-of-range opsets are refused", "[onnx]") {
  ModelBuilder B;
  B.input("x", {"2"}).output("y");
  B.node("Relu", {"x"}, {"y"}, "r")->set_domain("com.example");
  auto G = importBytes(B);
  REQUIRE_FALSE(G);
  CHECK_THAT(G.error().Message,
             Catch::Contains("node 'r' (Relu, domain 'com.example')"));
  ModelBuilder Old(7);
  Old.input("x", {"2"}).output("y");
  Old.node("Relu", {"x"}, {"y"});
  auto H = importBytes(Old);
  REQUIRE_FALSE(H);
  CHECK_THAT(H.error().Message,
             Catch::Contains("opset 7 is not supported (mote reads opsets 10 "
                             "to 17)"));
}

TEST_CASE("dynamic dims are refused or bound with --input-shape", "[onnx]") {
  ModelBuilder B;
  B.input("x", {"batch", "3"}).output("y");
  B.node("Relu", {"x"}, {"y"});
  auto G = importBytes(B);
  REQUIRE_FALSE(G);
  CHECK(G.error().str() ==
        "m.onnx: graph input 'x' has dynamic dim 'batch' at position 0; bind "
        "it with --input-shape x=DxDx...");
  ImportOptions Opts;
  Opts.InputShapes["x"] = {4, 3};
  auto Bound = importBytes(B, Opts);
  REQUIRE(Bound);
  CHECK((*Bound)->lookup("y")->type() == TensorType(DType::F32, {4, 3}));
  Opts.InputShapes["x"] = {4, 5};
  auto Clash = importBytes(B, Opts);
  REQUIRE_FALSE(Clash);
  CHECK_THAT(Clash.error().Message,
             Catch::Contains("sets dim 1 to 5 but the model fixes it to 3"));
}

TEST_CASE("Reshape resolves 0 and -1 and constant chains fold", "[onnx]") {
  ModelBuilder B;
  B.input("x", {"2", "3", "4"}).output("y");
  // Shape -> Gather(0) -> Unsqueeze -> Concat([-1]) -> Reshape: folds.
  B.node("Shape", {"x"}, {"s"});
  B.initI64("zero", {}, {0});
  B.node("Gather", {"s", "zero"}, {"d0"});
  B.initI64("ax", {1}, {0});
  B.node("Unsqueeze", {"d0", "ax"}, {"d0v"});
  B.initI64("minus1", {1}, {-1});
  auto *Cat = B.node("Concat", {"d0v", "minus1"}, {"shape"});
  auto *A = Cat->add_attribute();
  A->set_name("axis");
  A->set_type(onnx::AttributeProto::INT);
  A->set_i(0);
  B.node("Reshape", {"x", "shape"}, {"y"}, "reshape");
  auto G = importBytes(B);
  REQUIRE(G);
  REQUIRE((*G)->nodes().size() == 1);
  const Node &R = *(*G)->nodes()[0];
  CHECK(R.op() == OpKind::Reshape);
  CHECK(R.attrs().getInts("shape") == std::vector<int64_t>{2, 12});
  ModelBuilder Z;
  Z.input("x", {"2", "3", "4"}).output("y");
  Z.initI64("shape", {3}, {0, -1, 2});
  Z.node("Reshape", {"x", "shape"}, {"y"});
  auto H = importBytes(Z);
  REQUIRE(H);
  CHECK((*H)->lookup("y")->type().Dims == Shape{2, 6, 2});
}

TEST_CASE("a Constant node becomes a constant", "[onnx]") {
  ModelBuilder B;
  B.input("x", {"3"}).output("y");
  auto *C = B.node("Constant", {}, {"k"});
  auto *A = C->add_attribute();
  A->set_name("value_floats");
  A->set_type(onnx::AttributeProto::FLOATS);
  for (float V : {1.0f, 2.0f, 3.0f})
    A->add_floats(V);
  B.node("Mul", {"x", "k"}, {"y"});
  auto G = importBytes(B);
  REQUIRE(G);
  CHECK((*G)->lookup("k")->isConst());
  auto Out = interpret(**G, {{"x", f32({3}, {1, 1, 2})}});
  REQUIRE(Out);
  checkF32((*Out)[0], {3}, {1, 2, 6});
}

TEST_CASE("bad models give one clear error", "[onnx]") {
  SECTION("garbage bytes") {
    auto G = importOnnxBytes("\x08\x96\x01garbage\xff\xff", "bad.onnx", ".");
    REQUIRE_FALSE(G);
    CHECK_THAT(G.error().str(), Catch::StartsWith("bad.onnx: "));
  }
  SECTION("truncated") {
    ModelBuilder B;
    B.input("x", {"2"}).output("y");
    B.init("w", {2}, {1, 2});
    B.node("Add", {"x", "w"}, {"y"});
    std::string Bytes = B.bytes();
    for (size_t Cut = 1; Cut < Bytes.size(); Cut += 3) {
      auto G = importOnnxBytes(Bytes.substr(0, Cut), "t.onnx", ".");
      if (!G)
        CHECK_THAT(G.error().str(), Catch::StartsWith("t.onnx: "));
    }
  }
  SECTION("initializer of the wrong size") {
    ModelBuilder B;
    B.input("x", {"2"}).output("y");
    B.init("w", {3}, {1, 2});
    B.node("Add", {"x", "w"}, {"y"});
    auto G = importBytes(B);
    REQUIRE_FALSE(G);
    CHECK(G.error().str() ==
          "m.onnx: tensor 'w' has 2 values but f32[3] needs 3");
  }
  SECTION("shape mismatch names the node") {
    ModelBuilder B;
    B.input("x", {"2"}).output("y");
    B.init("w", {3}, {1, 2, 3});
    B.node("Add", {"x", "w"}, {"y"}, "add");
    auto G = importBytes(B);
    REQUIRE_FALSE(G);
    CHECK(G.error().str() == "m.onnx: node 'add' (Add, opset 13): shapes [2] "
                             "and [3] cannot be broadcast");
  }
  SECTION("duplicate value names") {
    ModelBuilder B;
    B.input("x", {"2"}).output("y");
    B.node("Relu", {"x"}, {"y"});
    B.node("Neg", {"x"}, {"y"}, "again");
    auto G = importBytes(B);
    REQUIRE_FALSE(G);
    CHECK_THAT(G.error().str(), Catch::Contains("value 'y' is defined twice"));
  }
  SECTION("undefined operand (or a cycle)") {
    ModelBuilder B;
    B.input("x", {"2"}).output("y");
    B.node("Relu", {"z"}, {"y"}, "r");
    B.node("Neg", {"y"}, {"z"}, "n");
    auto G = importBytes(B);
    REQUIRE_FALSE(G);
    CHECK_THAT(G.error().str(), Catch::Contains("input 'z' is not defined"));
  }
  SECTION("negative dims") {
    ModelBuilder B;
    B.input("x", {"-3"}).output("y");
    B.node("Relu", {"x"}, {"y"});
    auto G = importBytes(B);
    REQUIRE_FALSE(G);
    CHECK_THAT(G.error().str(), Catch::Contains("graph input 'x'"));
  }
}

TEST_CASE("external data is read inside the model directory only", "[onnx]") {
  fs::path Dir = fs::temp_directory_path() / "mote-ext-test";
  fs::remove_all(Dir);
  fs::create_directories(Dir / "sub");
  float Vals[2] = {3, 4};
  {
    std::ofstream F(Dir / "sub" / "w.bin", std::ios::binary);
    F.write(reinterpret_cast<const char *>(Vals), sizeof(Vals));
  }
  auto Make = [&](const std::string &Location) {
    ModelBuilder B;
    B.input("x", {"2"}).output("y");
    auto *T = B.G->add_initializer();
    T->set_name("w");
    T->set_data_type(onnx::TensorProto::FLOAT);
    T->add_dims(2);
    T->set_data_location(onnx::TensorProto::EXTERNAL);
    auto *KV = T->add_external_data();
    KV->set_key("location");
    KV->set_value(Location);
    B.node("Add", {"x", "w"}, {"y"});
    return importOnnxBytes(B.bytes(), "m.onnx", Dir.string());
  };
  auto Good = Make("sub/w.bin");
  REQUIRE(Good);
  CHECK((*Good)->lookup("w")->data()->data<float>()[1] == 4);
  for (std::string Bad : {"../w.bin", "/etc/passwd", "sub/../../x"}) {
    INFO(Bad);
    auto G = Make(Bad);
    REQUIRE_FALSE(G);
    CHECK_THAT(G.error().Message, Catch::Contains("outside the model directory"));
  }
  auto Missing = Make("nope.bin");
  REQUIRE_FALSE(Missing);
  CHECK_THAT(Missing.error().Message, Catch::Contains("cannot open external data"));
  fs::remove_all(Dir);
}

TEST_CASE("opset 11 Softmax keeps its 2-D semantics", "[onnx]") {
  ModelBuilder B(11);
  B.input("x", {"2", "2", "2"}).output("y");
  auto *S = B.node("Softmax", {"x"}, {"y"}, "sm");
  auto *A = S->add_attribute();
  A->set_name("axis");
  A->set_type(onnx::AttributeProto::INT);
  A->set_i(1);
  auto G = importBytes(B);
  REQUIRE(G);
  // Each batch row of 4 values is normalised as one.
  auto Out = interpret(**G, {{"x", f32({2, 2, 2}, {0, 0, 0, 0, 1, 1, 1, 1})}});
  REQUIRE(Out);
  checkF32((*Out)[0], {2, 2, 2}, std::vector<float>(8, 0.25f));
}

TEST_CASE("TensorProto files round-trip", "[onnx]") {
  fs::path P = fs::temp_directory_path() / "mote-tensor-test.pb";
  Tensor T = i64({2, 2}, {1, -2, 3, 1LL << 40});
  REQUIRE(writeTensorFile(P.string(), T, "t"));
  auto Back = readTensorFile(P.string());
  REQUIRE(Back);
  CHECK(*Back == T);
  fs::remove(P);
  auto Missing = readTensorFile((fs::temp_directory_path() / "nope.pb").string());
  REQUIRE_FALSE(Missing);
}

TEST_CASE("a QDQ conv imports with its weights quantized in flash",
          "[onnx][quant]") {
  ModelBuilder B;
  B.input("x", {"1", "2", "2", "2"}).output("y");
  B.init("sx", {}, {0.05f});
  B.initInts("zx", onnx::TensorProto::INT8, {}, {3});
  B.initInts("w", onnx::TensorProto::INT8, {2, 2, 1, 1}, {10, -20, 127, -128});
  B.init("sw", {2}, {0.01f, 0.02f});
  B.initInts("zw", onnx::TensorProto::INT8, {2}, {0, 0});
  B.initInts("b", onnx::TensorProto::INT32, {2}, {100, -40});
  B.init("sb", {2}, {0.0005f, 0.001f});
  B.node("QuantizeLinear", {"x", "sx", "zx"}, {"xq"}, "q");
  B.node("DequantizeLinear", {"xq", "sx", "zx"}, {"xd"}, "dq");
  for (auto *N : {B.node("DequantizeLinear", {"w", "sw", "zw"}, {"wd"}, "dqw"),
                  B.node("DequantizeLinear", {"b", "sb"}, {"bd"}, "dqb")}) {
    auto *A = N->add_attribute();
    A->set_name("axis");
    A->set_type(onnx::AttributeProto::INT);
    A->set_i(0);
  }
  B.node("Conv", {"xd", "wd", "bd"}, {"y"}, "conv");
  auto G = importBytes(B);
  if (!G)
    FAIL(G.error().str());
  const Value *WV = (*G)->lookup("w");
  REQUIRE(WV->isParam());
  CHECK(WV->type().str() == "i8[2,2,1,1]<axis 0: 0.01:0, 0.02:0>");
  CHECK((*G)->lookup("b")->type().str() ==
        "i32[2]<axis 0: 0.0005:0, 0.001:0>");
  CHECK((*G)->lookup("xq")->type().str() == "i8[1,2,2,2]<0.05:3>");
  CHECK((*G)->lookupNode("dqw")->op() == OpKind::DequantizeLinear);

  std::vector<float> X = {0.0f, 0.12f, -0.4f, 1.0f, 7.0f, -7.0f, 0.025f, 0.075f};
  Expected<std::vector<Tensor>> Out =
      interpret(**G, {{"x", f32({1, 2, 2, 2}, X)}});
  REQUIRE(Out);
  const float Wf[2][2] = {{10 * 0.01f, -20 * 0.01f}, {127 * 0.02f, -128 * 0.02f}};
  const float Bf[2] = {100 * 0.0005f, -40 * 0.001f};
  std::vector<float> Want;
  for (int O = 0; O < 2; ++O)
    for (int P = 0; P < 4; ++P) {
      float Acc = Bf[O];
      for (int C = 0; C < 2; ++C) {
        int32_t Q = quantizeValue(X[size_t(C * 4 + P)], 0.05f, 3, -128, 127);
        Acc += dequantizeValue(Q, 0.05f, 3) * Wf[O][C];
      }
      Want.push_back(Acc);
    }
  checkF32((*Out)[0], {1, 2, 2, 2}, Want, 1e-6f);
}

TEST_CASE("DequantizeLinear operands must take the node's parameters",
          "[onnx][quant]") {
  auto Import = [](ModelBuilder &B) {
    auto G = importBytes(B);
    REQUIRE_FALSE(G);
    return G.error().str();
  };
  SECTION("a computed integer tensor") {
    ModelBuilder B;
    B.input("x", {"2"}, onnx::TensorProto::INT8).output("y");
    B.init("s", {}, {0.5f});
    B.node("Neg", {"x"}, {"n"}, "neg");
    B.node("DequantizeLinear", {"n", "s"}, {"y"}, "dq");
    CHECK(Import(B) ==
          "m.onnx: node 'dq' (DequantizeLinear, opset 13): 'n' is computed "
          "by 'neg' (Neg) as an unquantized i8[2]; mote reads graph "
          "inputs, initializers, constants and the results of quantized ops "
          "as quantized tensors");
  }
  SECTION("an input other nodes read as plain integers") {
    ModelBuilder B;
    B.input("x", {"2"}, onnx::TensorProto::UINT8).output("y").output("c");
    B.init("s", {}, {0.5f});
    auto *C = B.node("Cast", {"x"}, {"c"}, "cast");
    auto *To = C->add_attribute();
    To->set_name("to");
    To->set_type(onnx::AttributeProto::INT);
    To->set_i(onnx::TensorProto::FLOAT);
    B.node("DequantizeLinear", {"x", "s"}, {"y"}, "dq");
    CHECK(Import(B) == "m.onnx: node 'dq' (DequantizeLinear, opset 13): 'x' "
                       "is also read as a plain u8[2] by other nodes; mote "
                       "gives a tensor one type");
  }
  SECTION("an initializer dequantized two ways") {
    ModelBuilder B;
    B.output("a").output("b");
    B.initInts("w", onnx::TensorProto::INT8, {2}, {1, 2});
    B.init("s1", {}, {0.5f});
    B.init("s2", {}, {0.25f});
    B.node("DequantizeLinear", {"w", "s1"}, {"a"}, "dq1");
    B.node("DequantizeLinear", {"w", "s2"}, {"b"}, "dq2");
    CHECK(Import(B) == "m.onnx: node 'dq2' (DequantizeLinear, opset 13): "
                       "'w' is i8[2]<0.5:0> but this node reads it as "
                       "i8[2]<0.25:0>");
  }
  SECTION("a scale that is not a constant") {
    ModelBuilder B;
    B.input("x", {"2"}, onnx::TensorProto::INT8).input("s", {}).output("y");
    B.node("DequantizeLinear", {"x", "s"}, {"y"}, "dq");
    CHECK(Import(B) == "m.onnx: node 'dq' (DequantizeLinear, opset 13): the "
                       "scale operand ('s') must be a constant or an "
                       "initializer; mote compiles the quantization "
                       "parameters into the code");
  }
  SECTION("per-axis scales before opset 13") {
    ModelBuilder B(11);
    B.input("x", {"2"}).output("y");
    B.init("s", {2}, {0.5f, 0.25f});
    B.node("QuantizeLinear", {"x", "s"}, {"y"}, "q");
    CHECK(Import(B) == "m.onnx: node 'q' (QuantizeLinear, opset 11): a 1-D "
                       "scale (per-axis quantization) needs opset 13");
  }
  SECTION("quantizing to int32") {
    ModelBuilder B;
    B.input("x", {"2"}).output("y");
    B.init("s", {}, {0.5f});
    B.initInts("z", onnx::TensorProto::INT32, {}, {0});
    B.node("QuantizeLinear", {"x", "s", "z"}, {"y"}, "q");
    CHECK_THAT(Import(B),
               Catch::Contains("QuantizeLinear to i32 is not supported (ONNX "
                               "quantizes to int8 or uint8)"));
  }
  SECTION("a zero point out of range") {
    ModelBuilder B;
    B.input("x", {"2"}, onnx::TensorProto::INT8).output("y");
    B.init("s", {}, {0.0f});
    B.node("DequantizeLinear", {"x", "s"}, {"y"}, "dq");
    CHECK(Import(B) == "m.onnx: node 'dq' (DequantizeLinear, opset 13): 'x' "
                       "cannot be read as i8[2]<0:0>: scale 0 is not a "
                       "finite number > 0");
  }
}
