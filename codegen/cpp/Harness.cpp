//===- Harness.cpp - Programs that drive generated code -------------------===//

#include "codegen/cpp/Harness.h"

#include <fmt/format.h>

namespace mote {

std::string emitHostHarness(const HarnessSpec &S) {
  std::string H;
  H += "// Host harness written by motec run. Reads in<i>.bin, writes results.\n";
  H += fmt::format("#include \"{}.h\"\n", S.Name);
  H += "#include <cstdio>\n#include <cstdlib>\n#include <vector>\n\n";
  H += "static std::vector<unsigned char> readAll(const char *Path, size_t "
       "Bytes) {\n"
       "  std::vector<unsigned char> B(Bytes ? Bytes : 1);\n"
       "  FILE *F = std::fopen(Path, \"rb\");\n"
       "  if (!F || std::fread(B.data(), 1, Bytes, F) != Bytes) {\n"
       "    std::fprintf(stderr, \"cannot read %s\\n\", Path);\n"
       "    std::exit(3);\n  }\n  std::fclose(F);\n  return B;\n}\n\n"
       "static void writeAll(const char *Path, const void *P, size_t Bytes) {\n"
       "  FILE *F = std::fopen(Path, \"wb\");\n"
       "  if (!F || std::fwrite(P, 1, Bytes, F) != Bytes) {\n"
       "    std::fprintf(stderr, \"cannot write %s\\n\", Path);\n"
       "    std::exit(3);\n  }\n  std::fclose(F);\n}\n\n";
  H += "int main() {\n";
  // The arena on a cache line, beyond the 16 bytes the API asks for: the
  // planner's offsets are multiples of 16, and with 32-byte host vectors
  // (AVX) an arena at 16 mod 32 splits every other vector load across cache
  // lines (the CNN's training step measured 16% slower).
  H += fmt::format("  static_assert({0}_ARENA_ALIGN <= 64);\n"
                   "  void *Arena = std::aligned_alloc(64, ({0}_ARENA_BYTES + "
                   "63) / 64 * 64 + 64);\n"
                   "  {0}_init(Arena);\n",
                   S.Name);
  H += fmt::format("  std::vector<unsigned char> In[{}];\n",
                   std::max<size_t>(S.InputBytes.size(), 1));
  H += fmt::format("  const void *Ptrs[{}] = {{}};\n",
                   std::max<size_t>(S.InputBytes.size(), 1));
  for (size_t I = 0; I < S.InputBytes.size(); ++I)
    H += fmt::format("  In[{0}] = readAll(\"in{0}.bin\", {1});\n  Ptrs[{0}] = "
                     "In[{0}].data();\n",
                     I, S.InputBytes[I]);
  if (S.Training) {
    H += fmt::format("  std::vector<float> Loss({});\n", S.Steps);
    H += fmt::format("  for (int K = 0; K < {}; ++K)\n    Loss[size_t(K)] = "
                     "{}_train_step_v(Arena, Ptrs);\n",
                     S.Steps, S.Name);
    H += "  writeAll(\"loss.bin\", Loss.data(), Loss.size() * sizeof(float));\n";
    H += fmt::format("  std::vector<unsigned char> Ck({0}_CHECKPOINT_BYTES + "
                     "1);\n  {0}_save(Arena, Ck.data());\n  "
                     "writeAll(\"checkpoint.bin\", Ck.data(), "
                     "{0}_CHECKPOINT_BYTES);\n",
                     S.Name);
  } else {
    H += fmt::format("  std::vector<unsigned char> Out[{}];\n",
                     std::max<size_t>(S.OutputBytes.size(), 1));
    H += fmt::format("  void *OutPtrs[{}] = {{}};\n",
                     std::max<size_t>(S.OutputBytes.size(), 1));
    for (size_t I = 0; I < S.OutputBytes.size(); ++I)
      H += fmt::format("  Out[{0}].resize({1} + 1);\n  OutPtrs[{0}] = "
                       "Out[{0}].data();\n",
                       I, S.OutputBytes[I]);
    H += fmt::format("  for (int K = 0; K < {}; ++K)\n"
                     "    {}_infer_v(Arena, Ptrs, OutPtrs);\n",
                     S.Steps, S.Name);
    for (size_t I = 0; I < S.OutputBytes.size(); ++I)
      H += fmt::format("  writeAll(\"out{0}.bin\", Out[{0}].data(), {1});\n", I,
                       S.OutputBytes[I]);
  }
  H += "  std::free(Arena);\n  return 0;\n}\n";
  return H;
}

} // namespace mote

namespace mote {

std::string emitBoardHarness(const HarnessSpec &S) {
  std::string H;
  H += "// Board harness written by motec run (board I/O, no libc).\n";
  H += fmt::format("#include \"{}.h\"\n", S.Name);
  H += fmt::format("#include \"board/{}/io.h\"\n\n", S.Board);
  H += "namespace {\n";
  H += fmt::format("alignas(16) unsigned char Arena[{}_ARENA_BYTES + 16];\n",
                   S.Name);
  for (size_t I = 0; I < S.InputBytes.size(); ++I)
    H += fmt::format("alignas(16) unsigned char In{}[{}];\n", I,
                     std::max<int64_t>(S.InputBytes[I], 1));
  for (size_t I = 0; I < S.OutputBytes.size() && !S.Training; ++I)
    H += fmt::format("alignas(16) unsigned char Out{}[{}];\n", I,
                     std::max<int64_t>(S.OutputBytes[I], 1));
  if (S.Training) {
    H += fmt::format("alignas(16) unsigned char Ck[{}_CHECKPOINT_BYTES + 1];\n",
                     S.Name);
    H += fmt::format("float Loss[{}];\n", S.Steps);
  }
  H += "\nvoid readFile(const char *Path, void *Buf, unsigned N) {\n"
       "  int32_t F = mote_board::open(Path, 1);\n"
       "  if (F < 0 || mote_board::read(F, Buf, N) != 0) {\n"
       "    mote_board::print(\"cannot read \");\n    mote_board::print(Path);\n"
       "    mote_board::exit(3);\n  }\n  mote_board::close(F);\n}\n\n"
       "void writeFile(const char *Path, const void *Buf, unsigned N) {\n"
       "  int32_t F = mote_board::open(Path, 5);\n"
       "  if (F < 0 || mote_board::write(F, Buf, N) != 0) {\n"
       "    mote_board::print(\"cannot write \");\n    mote_board::print(Path);\n"
       "    mote_board::exit(3);\n  }\n  mote_board::close(F);\n}\n";
  H += "} // namespace\n\nint main() {\n";
  H += fmt::format("  {}_init(Arena);\n", S.Name);
  std::string Ptrs;
  for (size_t I = 0; I < S.InputBytes.size(); ++I) {
    H += fmt::format("  readFile(\"in{0}.bin\", In{0}, {1});\n", I,
                     S.InputBytes[I]);
    Ptrs += fmt::format("{}In{}", I ? ", " : "", I);
  }
  H += fmt::format("  const void *Ptrs[{}] = {{{}}};\n",
                   std::max<size_t>(S.InputBytes.size(), 1),
                   Ptrs.empty() ? "nullptr" : Ptrs);
  if (S.Training) {
    H += fmt::format("  for (int K = 0; K < {}; ++K) {{\n"
                     "    Loss[K] = {}_train_step_v(Arena, Ptrs);\n"
                     "    mote_board::print(\"step \");\n"
                     "    mote_board::printInt(K + 1);\n"
                     "    mote_board::print(\" done\\n\");\n  }}\n",
                     S.Steps, S.Name);
    H += fmt::format("  writeFile(\"loss.bin\", Loss, sizeof(Loss));\n"
                     "  {0}_save(Arena, Ck);\n"
                     "  writeFile(\"checkpoint.bin\", Ck, {0}_CHECKPOINT_BYTES);\n",
                     S.Name);
  } else {
    std::string Outs;
    for (size_t I = 0; I < S.OutputBytes.size(); ++I)
      Outs += fmt::format("{}Out{}", I ? ", " : "", I);
    H += fmt::format("  void *OutPtrs[{}] = {{{}}};\n",
                     std::max<size_t>(S.OutputBytes.size(), 1),
                     Outs.empty() ? "nullptr" : Outs);
    H += fmt::format("  for (int K = 0; K < {}; ++K)\n"
                     "    {}_infer_v(Arena, Ptrs, OutPtrs);\n",
                     S.Steps, S.Name);
    for (size_t I = 0; I < S.OutputBytes.size(); ++I)
      H += fmt::format("  writeFile(\"out{0}.bin\", Out{0}, {1});\n", I,
                       S.OutputBytes[I]);
  }
  H += "  return 0;\n}\n";
  return H;
}

} // namespace mote
