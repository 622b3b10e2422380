//===- FileUtil.cpp - Reading and writing motec's files -------------------===//

#include "FileUtil.h"

#include <fmt/format.h>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace mote::cli {

Expected<std::string> readWholeFile(const fs::path &P) {
  std::ifstream In(P, std::ios::binary);
  if (!In)
    return Diag(fmt::format("{}: cannot read the file", P.string()));
  return std::string(std::istreambuf_iterator<char>(In), {});
}

Status writeFileAtomically(const fs::path &P, const std::string &Text) {
  fs::path Tmp = P;
  Tmp += fmt::format(".tmp-{}", ::getpid());
  {
    std::ofstream Out(Tmp, std::ios::binary);
    Out << Text;
    Out.close();
    if (!Out) {
      std::error_code EC;
      fs::remove(Tmp, EC);
      return Diag(fmt::format("{}: cannot write", P.string()));
    }
  }
  std::error_code EC;
  fs::rename(Tmp, P, EC);
  if (EC) {
    std::error_code Ignored;
    fs::remove(Tmp, Ignored);
    return Diag(fmt::format("{}: cannot write: {}", P.string(), EC.message()));
  }
  return ok();
}

Status writeFilesAtomically(const fs::path &Dir,
                            const std::vector<EmittedFile> &Files) {
  std::error_code EC;
  fs::path Abs = fs::absolute(Dir, EC);
  if (EC)
    return Diag(fmt::format("{}: {}", Dir.string(), EC.message()));
  fs::path Parent = Abs.parent_path();
  fs::create_directories(Parent, EC);
  fs::path Tmp = Parent / fmt::format(".{}.motec-tmp-{}",
                                      Abs.filename().string(), ::getpid());
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
      return Fail(
          fmt::format("{}: cannot create: {}", Abs.string(), EC.message()));
    return ok();
  }
  if (!fs::is_directory(Abs))
    return Fail(fmt::format("{}: exists and is not a directory", Abs.string()));
  for (const fs::directory_entry &E : fs::directory_iterator(Tmp)) {
    fs::path To = Abs / E.path().filename();
    fs::remove_all(To, EC);
    fs::rename(E.path(), To, EC);
    if (EC)
      return Fail(
          fmt::format("{}: cannot write: {}", To.string(), EC.message()));
  }
  fs::remove_all(Tmp, EC);
  return ok();
}

} // namespace mote::cli
