//===- IrTest.cpp - Graph IR, builder, verifier, printer and parser -------===//

#include "TestUtil.h"

#include "compiler/Interpreter.h"
#include "compiler/Parser.h"
#include "compiler/Printer.h"
#include "compiler/Verifier.h"

using namespace mote;
using namespace mote::test;

namespace {

/// x -> Gemm(w, b) -> Relu -> y, with a const shape and one param per kind.
std::unique_ptr<Graph> buildMlp() {
  auto G = std::make_unique<Graph>("mlp");
  Value *X = G->addInput("x", TensorType(DType::F32, {1, 3}));
  Value *W = G->addParam("fc.weight", f32({2, 3}, {1, 0, -1, 0.5f, 0.25f, 2}));
  Value *B = G->addParam("fc.bias", f32({2}, {0.5f, -8}));
  AttrMap A;
  A.set("transB", int64_t(1));
  Node *Fc = G->addNode(OpKind::Gemm, "fc", {X, W, B}, A,
                        {{"h", TensorType(DType::F32, {1, 2})}});
  Node *R = G->addNode(OpKind::Relu, "relu", {Fc->output(0)}, {},
                       {{"y", TensorType(DType::F32, {1, 2})}});
  G->addOutput(R->output(0));
  return G;
}

} // namespace

TEST_CASE("a built graph verifies and runs", "[ir]") {
  auto G = buildMlp();
  REQUIRE(verifyGraph(*G));
  auto Out = interpret(*G, {{"x", f32({1, 3}, {1, 2, 3})}});
  REQUIRE(Out);
  // h = [1 - 3 + 0.5, 0.5 + 0.5 + 6 - 8] = [-1.5, -1]; relu -> [0, 0]
  // (checked by hand: row 0 = 1*1 + 0*2 - 1*3, row 1 = 0.5 + 0.5 + 6)
  checkF32((*Out)[0], {1, 2}, {0, 0});
  auto Out2 = interpret(*G, {{"x", f32({1, 3}, {4, 0, 0})}});
  REQUIRE(Out2);
  checkF32((*Out2)[0], {1, 2}, {4.5f, 0});
}

TEST_CASE("the interpreter checks its feeds", "[ir]") {
  auto G = buildMlp();
  auto Missing = interpret(*G, {});
  REQUIRE_FALSE(Missing);
  CHECK(Missing.error().Message ==
        "no value given for graph input 'x' (f32[1,3])");
  auto Wrong = interpret(*G, {{"x", f32({3}, {1, 2, 3})}});
  REQUIRE_FALSE(Wrong);
  CHECK(Wrong.error().Message == "graph input 'x' expects f32[1,3], got f32[3]");
}

TEST_CASE("the verifier catches a wrong result type", "[ir][verifier]") {
  auto G = buildMlp();
  G->lookup("y")->setType(TensorType(DType::F32, {2, 1}));
  Status S = verifyGraph(*G);
  REQUIRE_FALSE(S);
  CHECK(S.error().str() == "node 'relu' (Relu): result 'y' is declared "
                           "f32[2,1] but the op gives f32[1,2]");
}

TEST_CASE("the verifier catches use before definition", "[ir][verifier]") {
  auto G = buildMlp();
  Node *Fc = G->lookupNode("fc");
  Node *Relu = G->lookupNode("relu");
  G->setNodeOrder({Relu, Fc});
  Status S = verifyGraph(*G);
  REQUIRE_FALSE(S);
  CHECK_THAT(S.error().str(),
             Catch::Contains("operand 0 ('h') is used before it is defined"));
}

TEST_CASE("the verifier checks arity and attributes", "[ir][verifier]") {
  Graph G;
  Value *X = G.addInput("x", TensorType(DType::F32, {2}));
  AttrMap A;
  A.set("alpha", std::string("big"));
  Node *N = G.addNode(OpKind::LeakyRelu, "lr", {X, X}, A,
                      {{"y", TensorType(DType::F32, {2})}});
  G.addOutput(N->output(0));
  Status S = verifyGraph(G);
  REQUIRE_FALSE(S);
  CHECK(S.error().str() == "node 'lr' (LeakyRelu): expects 1 input, got 2");
}

TEST_CASE("dead code removal keeps what reaches outputs", "[ir]") {
  auto G = buildMlp();
  Value *X = G->lookup("x");
  G->addParam("unused", f32({1}, {1}));
  G->addNode(OpKind::Neg, "dead", {X}, {},
             {{"d", TensorType(DType::F32, {1, 3})}});
  CHECK(G->removeDeadCode());
  CHECK(G->lookup("unused") == nullptr);
  CHECK(G->lookupNode("dead") == nullptr);
  CHECK(G->nodes().size() == 2);
  CHECK_FALSE(G->removeDeadCode());
  CHECK(verifyGraph(*G));
}

TEST_CASE("print and parse round-trip exactly", "[ir][text]") {
  auto G = buildMlp();
  G->addConst("odd name/with \"quotes\"", i64({2}, {-1, 9000000000}));
  Value *Y = G->outputs()[0];
  std::string Text = printGraph(*G);
  auto P = parseGraph(Text, "rt.mote");
  REQUIRE(P);
  CHECK(printGraph(**P) == Text);
  REQUIRE(verifyGraph(**P));
  CHECK((*P)->outputs()[0]->name() == Y->name());
  CHECK(*(*P)->lookup("fc.weight")->data() == *G->lookup("fc.weight")->data());
}

TEST_CASE("attributes of every kind round-trip", "[ir][text]") {
  const char *Text = R"(graph @g {
  input %x : f32[1,2]
  %y = Gelu "n"(%x) {approximate = "tanh"} : f32[1,2]
  output %y
}
)";
  auto G = parseGraph(Text);
  REQUIRE(G);
  CHECK(printGraph(**G) == Text);
  // Attribute values the schema of no op has still parse and print.
  Graph H;
  Value *X = H.addInput("x", TensorType(DType::F32, {1}));
  AttrMap A;
  A.set("f", 0.1f);
  A.set("fs", std::vector<float>{0.1f, -2.5e-8f, 3, 1e30f});
  A.set("is", std::vector<int64_t>{});
  A.set("ss", std::vector<std::string>{"a", "b\"c"});
  A.set("i", int64_t(-7));
  Node *N = H.addNode(OpKind::Identity, "id", {X}, A,
                      {{"y", TensorType(DType::F32, {1})}});
  H.addOutput(N->output(0));
  std::string Once = printGraph(H);
  auto Back = parseGraph(Once);
  REQUIRE(Back);
  CHECK(printGraph(**Back) == Once);
  CHECK((*Back)->nodes()[0]->attrs() == A);
}

TEST_CASE("float data survives the text format bit for bit", "[ir][text]") {
  Graph G;
  std::vector<float> V = {0.1f, 1.0f / 3, -0.0f, 1e-45f, 3.4028235e38f,
                          std::numeric_limits<float>::infinity()};
  Value *P = G.addParam("p", f32({6}, V));
  G.addOutput(P);
  auto Back = parseGraph(printGraph(G));
  REQUIRE(Back);
  auto Got = (*Back)->lookup("p")->data()->data<float>();
  for (size_t I = 0; I < V.size(); ++I)
    CHECK(std::memcmp(&Got[I], &V[I], sizeof(float)) == 0);
}

TEST_CASE("parse errors name the line", "[ir][text]") {
  struct Case {
    const char *Text;
    const char *Error;
  } Cases[] = {
      {"graph @g {\n  input %x : f32[2]\n  %y = Bogus(%x) : f32[2]\n}",
       "<input>:3: unknown op 'Bogus'"},
      {"graph @g {\n  %y = Relu(%x) : f32[2]\n}",
       "<input>:2: use of undefined value '%x'"},
      {"graph @g {\n  input %x : f32[2]\n  input %x : f32[2]\n}",
       "<input>:3: redefinition of '%x'"},
      {"graph @g {\n  input %x : f33[2]\n}",
       "<input>:2: unknown element type 'f33'"},
      {"graph @g {\n  param %w : f32[2] = [1, 2, 3]\n}",
       "<input>:2: more than 2 values for f32[2]"},
      {"graph @g {\n  input %x : f32[-1]\n}",
       "<input>:2: type f32[-1] is invalid: a negative dim or a size over 1 "
       "TiB"},
      {"graph @g {\n  param %w : f32[100000000000]\n}",
       "<input>:2: 'w' is 400000000000 bytes, more than the text format "
       "holds (268435456 bytes)"},
      {"graph @g {\n  input %x : f32[2]\n", "expected '}' to close the graph"},
  };
  for (const Case &C : Cases) {
    INFO(C.Text);
    auto G = parseGraph(C.Text);
    REQUIRE_FALSE(G);
    CHECK_THAT(G.error().str(), Catch::Contains(C.Error));
  }
}

TEST_CASE("type sizes are checked for overflow", "[ir]") {
  CHECK_FALSE(TensorType(DType::F32, {-1}).isValid());
  CHECK_FALSE(TensorType(DType::F32, {int64_t(1) << 40, 4}).isValid());
  CHECK_FALSE(TensorType(DType::F32, {int64_t(1) << 62, int64_t(1) << 62})
                  .isValid());
  CHECK_FALSE(TensorType(DType::F32, {0, int64_t(1) << 62}).isValid());
  CHECK(TensorType(DType::F32, {0, 5}).isValid());
  CHECK(TensorType(DType::F32, {}).numElements() == 1);
}
