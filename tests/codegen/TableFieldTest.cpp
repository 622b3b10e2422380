//===- TableFieldTest.cpp - Constant tables in parameter structs ----------===//
//
// usage: mote-table-field-test WORK_DIR
//
// A parameter struct may point to a constant array in read-only memory (a
// MOTE_TABLE field of mote_rt/params.def: per-channel values such as
// requantization multipliers). No kernel of runtime-stub takes one yet, so
// this test brings its own: a lowered program (codegen/Program.h) with one
// call of `table_dot`, whose TableDotP holds a table of weights, is
//   - emitted as C++ (codegen/cpp), built with the host's c++ against a
//     kernel header written here, and run: the result must be the dot
//     product of the table with the input, so the table went into
//     NAME.weights, was placed by the assembler and reached the kernel
//     through the constant parameter struct;
//   - emitted by the LLVM backend as a module (codegen/llvm, before the
//     kernel library, which has no table_dot to link): the table must be an
//     internal constant array and the struct's field a pointer to it.
// Exit 0 on success; a failure prints what differed.
//
//===----------------------------------------------------------------------===//

#include "codegen/Program.h"
#include "codegen/Targets.h"
#include "codegen/cpp/CppEmitter.h"
#include "codegen/llvm/LlvmEmitter.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <string>

using namespace mote;
namespace fs = std::filesystem;

namespace {

int Failures = 0;

void expect(bool Ok, const std::string &What) {
  if (!Ok) {
    fmt::print(stderr, "FAILED: {}\n", What);
    ++Failures;
  }
}

void writeFile(const fs::path &P, std::string_view Text) {
  fs::create_directories(P.parent_path());
  std::ofstream Out(P, std::ios::binary);
  Out << Text;
}

/// tp_infer_v(arena, {x}, {y}): y[0] = sum_i T[i] x[i] with T = {3, 5, 7}
/// the table of the call's TableDotP; x and y in the arena.
LoweredProgram tableProgram() {
  LoweredProgram P;
  P.Name = "tp";
  P.Source = "TableFieldTest.cpp";
  P.ArenaBytes = 32;
  ProgramConstant T;
  T.Symbol = "t0";
  T.Comment = "TableDotP::Weights";
  T.Elem = DType::F32;
  T.Elements = 3;
  const float W[] = {3, 5, 7};
  T.Owned.assign(reinterpret_cast<const char *>(W), sizeof(W));
  P.Constants.push_back(T);

  ProgramRef X{ProgramRef::Kind::Arena, 0, -1, DType::F32, 12, false};
  ProgramRef Y{ProgramRef::Kind::Arena, 16, -1, DType::F32, 4, true};
  ProgramCall C;
  C.NodeName = "dot";
  C.OpName = "TableDot";
  C.Header = "table_dot.h";
  C.Kernel = "table_dot";
  C.TypeArgs = {DType::F32};
  C.Params.Type = "TableDotP";
  ParamField N;
  N.K = ParamField::Kind::I32;
  N.Name = "N";
  N.I = 3;
  ParamField Tab = kparams::fieldOf(
      "Weights", kparams::Table<float>(std::vector<float>{3, 5, 7}));
  Tab.Constant = 0;
  C.Params.Fields = {N, Tab};
  C.Operands = {X, Y};
  P.Calls.push_back(C);

  ProgramEntry E;
  E.Inputs.push_back({"x", "f32[3]", X});
  E.Outputs.push_back({"y", "f32[1]", Y});
  E.Steps = {{EntryStep::Kind::Call, 0}, {EntryStep::Kind::CopyOut, 0}};
  P.Infer = E;
  return P;
}

constexpr std::string_view KernelHeader =
    R"(// The kernel of TableFieldTest.cpp.
#include "mote_rt/core.h"
namespace mote_rt {
struct TableDotP {
  int32_t N;
  const float *Weights;
};
template <class T>
MOTE_RT_KERNEL void table_dot(const TableDotP &P, const T *X, T *Y) {
  T S = 0;
  for (int32_t I = 0; I < P.N; ++I)
    S += P.Weights[I] * X[I];
  Y[0] = S;
}
} // namespace mote_rt
)";

constexpr std::string_view Main = R"(#include "tp.h"
#include <cstdio>
alignas(16) static unsigned char Arena[TP_ARENA_BYTES_CHECK];
int main() {
  float X[3] = {1, 2, 0.5f}, Y[1] = {0};
  const void *In[1] = {X};
  void *Out[1] = {Y};
  tp_init(Arena);
  tp_infer_v(Arena, In, Out);
  std::printf("%g\n", double(Y[0]));
  return Y[0] == 3 * 1 + 5 * 2 + 7 * 0.5f ? 0 : 1;
}
)";

} // namespace

int main(int Argc, char **Argv) {
  if (Argc != 2) {
    fmt::print(stderr, "usage: mote-table-field-test WORK_DIR\n");
    return 2;
  }
  fs::path Dir = fs::absolute(Argv[1]) / "table-field";
  fs::remove_all(Dir);
  LoweredProgram P = tableProgram();

  // C++: the table in tp.weights, the field its symbol.
  std::vector<EmittedFile> Files = emitCpp(P);
  std::string Cpp;
  bool Weights = false;
  for (const EmittedFile &F : Files) {
    writeFile(Dir / F.Path, F.Text);
    if (F.Path == "tp.cpp")
      Cpp = F.Text;
    if (F.Path == "tp.weights")
      Weights =
          F.Text.size() == 12 &&
          std::memcmp(F.Text.data(), P.Constants[0].bytes().data(), 12) == 0;
  }
  expect(Weights, "tp.weights holds the table's 12 bytes");
  expect(Cpp.find(".Weights = tp_t0") != std::string::npos,
         "the struct's field is the table's symbol:\n" + Cpp);
  expect(Cpp.find("extern \"C\" alignas(16) MOTE_RT_DATA const float "
                  "tp_t0[3];") != std::string::npos,
         "the table is declared as an extern array:\n" + Cpp);
  for (const EmittedFile &F : runtimeStubFiles())
    writeFile(Dir / F.Path, F.Text);
  writeFile(Dir / "table_dot.h", KernelHeader);
  writeFile(
      Dir / "main.cpp",
      std::string(Main).replace(Main.find("TP_ARENA_BYTES_CHECK"),
                                std::string_view("TP_ARENA_BYTES_CHECK").size(),
                                "tp_ARENA_BYTES"));
  const char *Cxx = std::getenv("CXX");
  std::string Cmd = fmt::format(
      "cd '{}' && {} -std=c++20 -O2 -I . -o run main.cpp tp.cpp && ./run",
      Dir.string(), Cxx && *Cxx ? Cxx : "c++");
  expect(std::system(Cmd.c_str()) == 0,
         "the generated C++ builds and computes 3 + 10 + 3.5 through the "
         "table: " +
             Cmd);

  // LLVM: an internal constant array and a pointer field.
  ObjectEmitOptions O;
  O.Target = lookupTarget("host");
  O.EmitIr = true;
  Expected<std::vector<EmittedFile>> Ir = emitObject(P, O);
  if (Ir) {
    const std::string &Text = (*Ir)[1].Text;
    expect(Text.find("@tp_t0 = internal constant [3 x float] [float "
                     "3.000000e+00, float 5.000000e+00, float 7.000000e+00], "
                     "align 16") != std::string::npos,
           "the table is an internal constant:\n" + Text);
    expect(Text.find("{ i32 3, ptr @tp_t0 }") != std::string::npos,
           "the parameter struct points to it:\n" + Text);
  } else {
    expect(false, "emitting the module failed: " + Ir.error().str());
  }
  if (Failures == 0)
    fmt::print("ok: the table reached the C++ kernel and the LLVM module\n");
  return Failures ? 1 : 0;
}
