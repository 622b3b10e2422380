//===- Generate.cpp - Graph to generated code, shared by compile and run --===//

#include "Generate.h"
#include "codegen/llvm/LlvmEmitter.h"

#include <fmt/format.h>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace mote::cli {

Expected<Generated> generateCpp(Session &S, const std::string &Name,
                                bool CheckBounds) {
  if (!isCIdentifier(Name))
    return Diag(fmt::format("--name '{}' is not a C identifier", Name));
  Generated R;
  auto G = buildGraph(S);
  if (!G)
    return G.takeError();
  R.G = std::move(*G);
  Expected<MemoryLayout> L = computeLayout(*R.G);
  if (!L)
    return L.takeError();
  R.Layout = std::move(*L);
  CppEmitOptions O;
  O.Name = Name;
  O.Prediction = S.Passes.Prediction;
  O.CheckBounds = R.CheckBounds = CheckBounds;
  O.Source = fs::path(S.ModelPath).filename().string();
  auto Files = emitCpp(*R.G, R.Layout, O);
  if (!Files) {
    Diag D = Files.takeError();
    if (D.File.empty())
      D.File = S.ModelPath;
    return D;
  }
  R.Files = std::move(*Files);
  for (const EmittedFile &F : runtimeStubFiles())
    R.Files.push_back(F);
  return R;
}

Expected<std::vector<EmittedFile>> generateObject(const Session &S,
                                                  const Generated &Gen,
                                                  const std::string &Name,
                                                  const TargetInfo &Target,
                                                  int OptLevel) {
  ObjectEmitOptions O;
  O.Cpp.Name = Name;
  O.Cpp.Prediction = S.Passes.Prediction;
  O.Cpp.Source = fs::path(S.ModelPath).filename().string();
  O.Target = &Target;
  O.OptLevel = OptLevel;
  auto Files = emitObject(*Gen.G, Gen.Layout, O);
  if (!Files) {
    Diag D = Files.takeError();
    if (D.File.empty())
      D.File = S.ModelPath;
    return D;
  }
  return std::move(*Files);
}

Status writeFilesAtomically(const fs::path &Dir,
                            const std::vector<EmittedFile> &Files) {
  std::error_code EC;
  fs::path Abs = fs::absolute(Dir, EC);
  if (EC)
    return Diag(fmt::format("{}: {}", Dir.string(), EC.message()));
  fs::path Parent = Abs.parent_path();
  fs::create_directories(Parent, EC);
  fs::path Tmp = Parent / fmt::format(".{}.motec-tmp-{}", Abs.filename().string(),
                                      ::getpid());
  fs::remove_all(Tmp, EC);
  auto Fail = [&](std::string Msg) {
    std::error_code Ignored;
    fs::remove_all(Tmp, Ignored);
    return Status(Diag(std::move(Msg)));
  };
  for (const EmittedFile &F : Files) {
    fs::path P = Tmp / F.Path;
    fs::create_directories(P.parent_path(), EC);
    if (EC)
      return Fail(fmt::format("{}: cannot create the directory: {}",
                              P.parent_path().string(), EC.message()));
    std::ofstream Out(P, std::ios::binary);
    Out << F.Text;
    Out.close();
    if (!Out)
      return Fail(fmt::format("{}: cannot write", P.string()));
  }
  if (!fs::exists(Abs)) {
    fs::rename(Tmp, Abs, EC);
    if (EC)
      return Fail(fmt::format("{}: cannot create: {}", Abs.string(), EC.message()));
    return ok();
  }
  if (!fs::is_directory(Abs))
    return Fail(fmt::format("{}: exists and is not a directory", Abs.string()));
  for (const fs::directory_entry &E : fs::directory_iterator(Tmp)) {
    fs::path To = Abs / E.path().filename();
    fs::remove_all(To, EC);
    fs::rename(E.path(), To, EC);
    if (EC)
      return Fail(fmt::format("{}: cannot write: {}", To.string(), EC.message()));
  }
  fs::remove_all(Tmp, EC);
  return ok();
}

} // namespace mote::cli
