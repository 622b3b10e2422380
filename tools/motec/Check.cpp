//===- Check.cpp - motec check: regression checks on generated code -------===//
//
// Compiles a model as `motec compile` does, measures what a change to the
// compiler could make worse (arena, liveness lower bound and flash bytes;
// the SHA-256 of the generated files; the loss after each of N training
// steps of the generated code on the host and, with --target, on an
// emulated target, with the guest instructions per training step there) and
// compares the numbers with a baseline JSON file committed next to the
// tests. Exit 0 when nothing regressed, 1 on a regression (or a model
// error), 2 on a usage error (which includes a missing baseline and a
// baseline made with other options). --update-baseline (re)writes the file.
//
// Without --input, every graph input gets seeded pseudo-random data (see
// seededInput), so a baseline is reproducible without data files.
// docs/check.md is the user's guide.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "FileUtil.h"
#include "Sha256.h"
#include "Toolchain.h"
#include "Version.h"
#include "codegen/Targets.h"
#include "compiler/Graph.h"
#include "compiler/Hash.h"
#include "compiler/Json.h"
#include "driver/Driver.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <optional>
#include <unistd.h>

namespace fs = std::filesystem;

namespace mote::cli {

namespace {

constexpr std::string_view BaselineFormat = "motec-check-baseline-1";

const OptionSpec CheckOwnOptions[] = {
    {"baseline", "FILE.json", false,
     "the baseline to compare with (required; written by --update-baseline)"},
    {"update-baseline", "", false,
     "(re)write the baseline from this run instead of comparing, and exit 0"},
    {"steps", "N", false,
     "training steps whose losses are compared (default 3)"},
    {"target", "host|cortex-m4|cortex-m7|cortex-m55|aarch64|hexagon", false,
     "also run on this emulated target: its losses and guest instructions "
     "per training step (the host always runs)"},
    {"emit", "cpp|obj", false,
     "check the C++ (default) or the LLVM backend's object: NAME.h + NAME.o "
     "are hashed, and the object is linked into the runs"},
    {"input", "NAME=FILE.pb", true,
     "value of a graph input (ONNX TensorProto); default: seeded "
     "pseudo-random data (docs/check.md)"},
    {"strict-hash", "", false,
     "a changed hash of the generated code is a regression (default: "
     "reported only)"},
    {"tolerance-arena", "PCT", false,
     "arena growth allowed, in percent (default 0)"},
    {"tolerance-flash", "PCT", false,
     "flash growth allowed, in percent (default 0)"},
    {"tolerance-loss", "REL", false,
     "relative loss difference allowed (default 1e-4)"},
    {"tolerance-instructions", "PCT", false,
     "instruction-count growth allowed, in percent (default 1)"},
    {"keep", "", false, "keep the generated code and harnesses (prints where)"},
};

std::span<const OptionSpec> checkOptions() {
  static const std::vector<OptionSpec> V = withModelOptions(CheckOwnOptions);
  return V;
}

/// Option name -> values as written (a flag holds one empty value).
using OptionMap = std::map<std::string, std::vector<std::string>>;

/// Everything a baseline records: the configuration it was made with and
/// the measurements.
struct Record {
  std::string Version;
  std::string Model;
  std::string ModelSha;
  OptionMap Options;
  int64_t ArenaBytes = 0, LowerBoundBytes = 0, FlashBytes = 0;
  /// Generated file -> SHA-256, in file order.
  std::vector<std::pair<std::string, std::string>> Code;
  /// Where the code ran ("host", a target) -> loss after each step.
  std::vector<std::pair<std::string, std::vector<double>>> Losses;
  /// Emulated target -> guest instructions per training step (inference).
  std::vector<std::pair<std::string, int64_t>> Instructions;
};

struct Tolerances {
  double ArenaPct = 0, FlashPct = 0, LossRel = 1e-4, InstructionsPct = 1;
  bool StrictHash = false;
};

//===----------------------------------------------------------------------===//
// Seeded inputs
//===----------------------------------------------------------------------===//

uint64_t splitmix64(uint64_t &State) {
  uint64_t Z = (State += 0x9e3779b97f4a7c15ULL);
  Z = (Z ^ (Z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  Z = (Z ^ (Z >> 27)) * 0x94d049bb133111ebULL;
  return Z ^ (Z >> 31);
}

/// The number of classes of an integer class label: dim 1 of the logits of
/// the SoftmaxCrossEntropyLoss that reads it; 0 if it is not a label.
int64_t labelClasses(const Graph &G, const Value &In) {
  for (const Node *N : G.users(&In))
    if (N->opName() == "SoftmaxCrossEntropyLoss" && N->inputs().size() >= 2 &&
        N->inputs()[1] == &In && N->inputs()[0] &&
        N->inputs()[0]->type().rank() >= 2)
      return N->inputs()[0]->type().Dims[1];
  return 0;
}

/// Deterministic data for graph input \p In: splitmix64 seeded with
/// 0x6d6f7465 ("mote") xor the FNV-1a hash of the input's name, one draw per
/// element in order. Float elements: uniform in [-1, 1) (the top 24 bits of
/// the draw); class labels: draw mod C; other integer inputs: 0.
Tensor seededInput(const Graph &G, const Value &In) {
  Tensor T(In.type());
  uint64_t State = 0x6d6f7465ULL ^ fnv1a64(In.name());
  int64_t Classes = isFloat(In.type().Elem) ? 0 : labelClasses(G, In);
  for (int64_t I = 0; I < T.numElements(); ++I) {
    uint64_t X = splitmix64(State);
    if (isFloat(In.type().Elem))
      T.setFromDouble(I, double(X >> 40) / double(1 << 24) * 2.0 - 1.0);
    else
      T.setFromDouble(I, Classes > 0 ? double(X % uint64_t(Classes)) : 0.0);
  }
  return T;
}

//===----------------------------------------------------------------------===//
// Baseline JSON
//===----------------------------------------------------------------------===//

std::string toJson(const Record &R) {
  JsonWriter W;
  W.beginObject();
  W.field("format", BaselineFormat);
  W.field("motec_version", R.Version);
  W.field("model", R.Model);
  W.field("model_sha256", R.ModelSha);
  W.key("options");
  W.beginObject();
  for (const auto &[Name, Values] : R.Options) {
    W.key(Name);
    if (Values.size() == 1 && Values[0].empty()) {
      W.value(true);
      continue;
    }
    W.beginArray();
    for (const std::string &V : Values)
      W.value(V);
    W.endArray();
  }
  W.endObject();
  W.field("arena_bytes", R.ArenaBytes);
  W.field("lower_bound_bytes", R.LowerBoundBytes);
  W.field("flash_bytes", R.FlashBytes);
  W.key("code_sha256");
  W.beginObject();
  for (const auto &[File, Sha] : R.Code)
    W.field(File, Sha);
  W.endObject();
  W.key("losses");
  W.beginObject();
  for (const auto &[Where, L] : R.Losses) {
    W.key(Where);
    W.beginArray();
    for (double V : L)
      W.value(V);
    W.endArray();
  }
  W.endObject();
  W.key("instructions_per_step");
  W.beginObject();
  for (const auto &[Where, N] : R.Instructions)
    W.field(Where, N);
  W.endObject();
  W.endObject();
  return W.str() + "\n";
}

/// Reads a baseline; errors are worded for the user and name \p Path.
Expected<Record> fromJson(const std::string &Path, std::string_view Text) {
  Expected<JsonValue> J = parseJson(Text);
  if (!J)
    return Diag(fmt::format("{}: not a baseline ({}); rewrite it with "
                            "--update-baseline",
                            Path, J.error().Message));
  auto Bad = [&](std::string_view What) {
    return Diag(fmt::format("{}: not a baseline of this motec ({}); rewrite "
                            "it with --update-baseline",
                            Path, What));
  };
  using K = JsonValue::Kind;
  auto Str = [&](std::string_view Key) -> const std::string * {
    const JsonValue *V = J->get(Key);
    return V && V->K == K::String ? &V->Str : nullptr;
  };
  auto Int = [&](const JsonValue *V) -> std::optional<int64_t> {
    if (!V || V->K != K::Number || V->Num != std::floor(V->Num) ||
        std::fabs(V->Num) > 9e15)
      return std::nullopt;
    return int64_t(V->Num);
  };
  if (J->K != K::Object || !Str("format") || *Str("format") != BaselineFormat)
    return Bad(fmt::format("\"format\" is not \"{}\"", BaselineFormat));
  Record R;
  for (std::string_view Key : {"motec_version", "model", "model_sha256"})
    if (!Str(Key))
      return Bad(fmt::format("no \"{}\"", Key));
  R.Version = *Str("motec_version");
  R.Model = *Str("model");
  R.ModelSha = *Str("model_sha256");
  const JsonValue *O = J->get("options");
  if (!O || O->K != K::Object)
    return Bad("no \"options\"");
  for (const auto &[Name, V] : O->Obj) {
    std::vector<std::string> &Vals = R.Options[Name];
    if (V.K == K::Bool && V.B) {
      Vals.push_back("");
      continue;
    }
    if (V.K != K::Array)
      return Bad(fmt::format("option \"{}\" is not true or a list", Name));
    for (const JsonValue &E : V.Arr) {
      if (E.K != K::String)
        return Bad(fmt::format("option \"{}\" holds a non-string", Name));
      Vals.push_back(E.Str);
    }
  }
  struct {
    const char *Key;
    int64_t *Dest;
  } Ints[] = {{"arena_bytes", &R.ArenaBytes},
              {"lower_bound_bytes", &R.LowerBoundBytes},
              {"flash_bytes", &R.FlashBytes}};
  for (auto &I : Ints) {
    auto V = Int(J->get(I.Key));
    if (!V)
      return Bad(fmt::format("no integer \"{}\"", I.Key));
    *I.Dest = *V;
  }
  const JsonValue *C = J->get("code_sha256");
  if (!C || C->K != K::Object)
    return Bad("no \"code_sha256\"");
  for (const auto &[File, V] : C->Obj) {
    if (V.K != K::String)
      return Bad("a code hash is not a string");
    R.Code.emplace_back(File, V.Str);
  }
  const JsonValue *L = J->get("losses");
  if (!L || L->K != K::Object)
    return Bad("no \"losses\"");
  for (const auto &[Where, V] : L->Obj) {
    if (V.K != K::Array)
      return Bad("losses are not lists");
    std::vector<double> Vals;
    for (const JsonValue &E : V.Arr)
      Vals.push_back(E.K == K::Number ? E.Num : std::nan(""));
    R.Losses.emplace_back(Where, std::move(Vals));
  }
  const JsonValue *N = J->get("instructions_per_step");
  if (!N || N->K != K::Object)
    return Bad("no \"instructions_per_step\"");
  for (const auto &[Where, V] : N->Obj) {
    auto X = Int(&V);
    if (!X)
      return Bad("an instruction count is not an integer");
    R.Instructions.emplace_back(Where, *X);
  }
  return R;
}

//===----------------------------------------------------------------------===//
// Configuration
//===----------------------------------------------------------------------===//

/// The options that shape the measurements, as recorded in a baseline: the
/// model options as written (--update-file by the SHA-256 of its contents),
/// --steps, --target and --emit with their defaults filled in, and each
/// --input as NAME=sha256:HASH of the file. Not --no-reorder or --no-fuse:
/// they change how the compiler lays out the same training step, not what
/// the step computes, which is what a check exists to catch (a worse
/// schedule shows as an arena regression; tests/baselines injects one this
/// way).
Expected<OptionMap> configuration(const ParsedArgs &Args, int64_t Steps,
                                  std::string_view Target,
                                  std::string_view Emit) {
  OptionMap M;
  for (const OptionSpec &O : modelOptionSpecs()) {
    if (!Args.has(O.Name) || O.Name == "no-reorder" || O.Name == "no-fuse")
      continue;
    std::vector<std::string> Vals = Args.getAll(O.Name);
    if (O.Name == "update-file") {
      Expected<std::string> Text = readWholeFile(Vals.back());
      if (!Text)
        return Text.takeError();
      Vals = {"sha256:" + sha256Hex(*Text)};
    }
    M[std::string(O.Name)] = std::move(Vals);
  }
  M["steps"] = {std::to_string(Steps)};
  M["target"] = {std::string(Target)};
  M["emit"] = {std::string(Emit)};
  std::vector<std::string> Inputs;
  for (const std::string &A : Args.getAll("input")) {
    size_t Eq = A.find('=');
    if (Eq == std::string::npos || Eq == 0)
      return usageError(fmt::format("--input '{}' must look like NAME=FILE.pb", A));
    Expected<std::string> Data = readWholeFile(A.substr(Eq + 1));
    if (!Data)
      return Data.takeError();
    Inputs.push_back(A.substr(0, Eq) + "=sha256:" + sha256Hex(*Data));
  }
  std::sort(Inputs.begin(), Inputs.end());
  if (!Inputs.empty())
    M["input"] = std::move(Inputs);
  return M;
}

std::string showOption(const OptionMap &M, const std::string &Name) {
  auto It = M.find(Name);
  if (It == M.end())
    return "(not given)";
  if (It->second.size() == 1 && It->second[0].empty())
    return "(given)";
  std::vector<std::string> Q;
  for (const std::string &V : It->second)
    Q.push_back(fmt::format("'{}'", V));
  return fmt::format("{}", fmt::join(Q, " "));
}

/// A usage error listing how the baseline's configuration differs from the
/// current one; ok if they agree.
Status compareConfiguration(const std::string &Path, const Record &Base,
                            const Record &Now) {
  std::vector<std::string> Diffs;
  if (Base.ModelSha != Now.ModelSha)
    Diffs.push_back(fmt::format("the model: baseline {} (sha256 {:.12}), now "
                                "{} (sha256 {:.12})",
                                Base.Model, Base.ModelSha, Now.Model,
                                Now.ModelSha));
  std::vector<std::string> Names;
  for (const auto &[N, V] : Base.Options)
    Names.push_back(N);
  for (const auto &[N, V] : Now.Options)
    if (!Base.Options.count(N))
      Names.push_back(N);
  std::sort(Names.begin(), Names.end());
  for (const std::string &N : Names) {
    auto B = Base.Options.find(N), C = Now.Options.find(N);
    if (B != Base.Options.end() && C != Now.Options.end() &&
        B->second == C->second)
      continue;
    Diffs.push_back(fmt::format("--{}: baseline {}, now {}", N,
                                showOption(Base.Options, N),
                                showOption(Now.Options, N)));
  }
  if (Diffs.empty())
    return ok();
  return usageError(fmt::format("{} was made with other options: {}; check with "
                           "the baseline's options, or replace it with "
                           "--update-baseline",
                           Path, fmt::join(Diffs, "; ")));
}

//===----------------------------------------------------------------------===//
// Comparison table
//===----------------------------------------------------------------------===//

struct Row {
  std::string Metric, Baseline, Now, Change, Verdict;
  bool Regression = false;
  bool Improved = false;
};

std::string signedPercent(int64_t Base, int64_t Now) {
  if (Base == Now)
    return "0";
  std::string Abs = fmt::format("{:+}", Now - Base);
  if (Base == 0)
    return Abs;
  return fmt::format("{} ({:+.2f}%)", Abs,
                     100.0 * double(Now - Base) / double(Base));
}

/// A byte or instruction count: more than \p TolPct percent growth is a
/// regression, any decrease an improvement.
Row countRow(std::string Metric, int64_t Base, int64_t Now, double TolPct) {
  Row R{std::move(Metric), std::to_string(Base), std::to_string(Now),
        signedPercent(Base, Now), "ok", false, false};
  if (double(Now) > double(Base) * (1.0 + TolPct / 100.0)) {
    R.Verdict = "REGRESSION";
    R.Regression = true;
  } else if (Now < Base) {
    R.Verdict = "improved";
    R.Improved = true;
  }
  return R;
}

Row lossRow(std::string Metric, double Base, double Now, double Tol) {
  Row R{std::move(Metric), fmt::format("{:.8g}", Base),
        fmt::format("{:.8g}", Now), "", "ok", false, false};
  double Rel = std::fabs(Now - Base) / std::max(std::fabs(Base), 1e-30);
  R.Change = Now == Base ? std::string("0") : fmt::format("rel {:.2g}", Rel);
  bool Same = Now == Base || (std::isnan(Now) && std::isnan(Base));
  if (!Same && !(Rel <= Tol)) {
    R.Verdict = "REGRESSION";
    R.Regression = true;
  }
  return R;
}

std::vector<Row> compare(const Record &Base, const Record &Now,
                         const Tolerances &T) {
  std::vector<Row> Rows;
  Rows.push_back(countRow("arena bytes", Base.ArenaBytes, Now.ArenaBytes,
                          T.ArenaPct));
  Row LB = countRow("lower bound bytes", Base.LowerBoundBytes,
                    Now.LowerBoundBytes, 0);
  LB.Verdict = "info";
  LB.Regression = LB.Improved = false;
  Rows.push_back(LB);
  Rows.push_back(countRow("flash bytes", Base.FlashBytes, Now.FlashBytes,
                          T.FlashPct));
  for (const auto &[Where, L] : Now.Losses) {
    auto B = std::find_if(Base.Losses.begin(), Base.Losses.end(),
                          [&](const auto &P) { return P.first == Where; });
    for (size_t I = 0; I < L.size(); ++I) {
      std::string Metric = fmt::format("loss step {} ({})", I + 1, Where);
      if (B == Base.Losses.end() || I >= B->second.size()) {
        Rows.push_back({Metric, "-", fmt::format("{:.8g}", L[I]), "new",
                        "REGRESSION", true, false});
        continue;
      }
      Rows.push_back(lossRow(Metric, B->second[I], L[I], T.LossRel));
    }
  }
  for (const auto &[Where, N] : Now.Instructions) {
    std::string Metric =
        fmt::format("instructions/{} ({})",
                    Now.Options.count("train") ? "step" : "inference", Where);
    auto B = std::find_if(Base.Instructions.begin(), Base.Instructions.end(),
                          [&](const auto &P) { return P.first == Where; });
    if (B == Base.Instructions.end()) {
      Rows.push_back({Metric, "-", std::to_string(N), "new", "REGRESSION",
                      true, false});
      continue;
    }
    Rows.push_back(countRow(Metric, B->second, N, T.InstructionsPct));
  }
  for (const auto &[File, Sha] : Now.Code) {
    auto B = std::find_if(Base.Code.begin(), Base.Code.end(),
                          [&](const auto &P) { return P.first == File; });
    std::string BaseSha = B == Base.Code.end() ? "-" : B->second;
    bool Same = BaseSha == Sha;
    Row R{fmt::format("sha256 {}", File), BaseSha.substr(0, 12),
          Sha.substr(0, 12), Same ? "same" : "changed", "ok", false, false};
    if (!Same) {
      R.Verdict = T.StrictHash ? "REGRESSION" : "changed";
      R.Regression = T.StrictHash;
    }
    Rows.push_back(R);
  }
  Rows.push_back({"motec version", Base.Version, Now.Version,
                  Base.Version == Now.Version ? "same" : "changed", "info",
                  false, false});
  return Rows;
}

void printTable(const std::vector<Row> &Rows) {
  Row Head{"metric", "baseline", "now", "change", "verdict", false, false};
  size_t W[4] = {Head.Metric.size(), Head.Baseline.size(), Head.Now.size(),
                 Head.Change.size()};
  for (const Row &R : Rows) {
    W[0] = std::max(W[0], R.Metric.size());
    W[1] = std::max(W[1], R.Baseline.size());
    W[2] = std::max(W[2], R.Now.size());
    W[3] = std::max(W[3], R.Change.size());
  }
  auto Line = [&](const Row &R) {
    fmt::print("{:<{}} | {:>{}} | {:>{}} | {:<{}} | {}\n", R.Metric, W[0],
               R.Baseline, W[1], R.Now, W[2], R.Change, W[3], R.Verdict);
  };
  Line(Head);
  fmt::print("{:-<{}}-|-{:-<{}}-|-{:-<{}}-|-{:-<{}}-|-{:-<7}\n", "", W[0], "",
             W[1], "", W[2], "", W[3], "");
  for (const Row &R : Rows)
    Line(R);
}

//===----------------------------------------------------------------------===//
// The command
//===----------------------------------------------------------------------===//

Expected<double> parseNonNegative(const ParsedArgs &Args, std::string_view Opt,
                                  double Default) {
  auto V = Args.get(Opt);
  if (!V)
    return Default;
  double D = 0;
  auto [P, EC] = std::from_chars(V->data(), V->data() + V->size(), D);
  if (V->empty() || EC != std::errc() || P != V->data() + V->size() ||
      !std::isfinite(D) || D < 0)
    return usageError(fmt::format("--{} '{}' must be a non-negative number", Opt,
                             *V));
  return D;
}

/// Runs the generated code \p Files of \p M \p Steps times on \p Target;
/// emulated targets also count the guest instructions of one step. Fills
/// the losses and counts of \p R.
Status measureRuns(const CompiledModel &M, const std::vector<EmittedFile> &Files,
                   int64_t Steps, const std::map<std::string, Tensor> &Feeds,
                   const TargetInfo &Target, bool Keep, Record &R) {
  bool Training = M.Options.Training;
  RunSettings S;
  S.Keep = Keep;
  std::vector<float> Losses;
  if (Target.Run != RunKind::Native) {
    Expected<CountedRun> C =
        countInstructions(M, Files, Steps, Feeds, Target, S);
    if (!C)
      return C.takeError();
    R.Instructions.emplace_back(std::string(Target.Name), C->PerStep);
    if (C->Result)
      Losses = C->Result->Losses;
  }
  if (Training && (Target.Run == RunKind::Native || Steps > 2)) {
    Expected<RunResult> Run = runGenerated(M, Files, Steps, Feeds, Target, S);
    if (!Run)
      return Run.takeError();
    Losses = Run->Losses;
  }
  if (Training)
    R.Losses.emplace_back(std::string(Target.Name),
                          std::vector<double>(Losses.begin(), Losses.end()));
  return ok();
}

/// The files to build for \p Target: the C++ of \p M, or its object for
/// that target.
Expected<std::vector<EmittedFile>> filesFor(const CompiledModel &M,
                                            const TargetInfo &Target) {
  if (M.Options.Emit == EmitKind::Cpp)
    return M.Files;
  return emitFiles(M, EmitKind::Object, Target);
}

int runCheck(const ParsedArgs &Args) {
  Expected<CompileOptions> O = parseCompileOptions(Args);
  if (!O)
    return reportDiag("check", O.error());
  O->Name = "model";
  auto BaselineArg = Args.get("baseline");
  if (!BaselineArg)
    return reportUsage("check", Diag("--baseline FILE.json is required (a new "
                                     "baseline is made with --update-baseline)"));
  fs::path Baseline(*BaselineArg);
  int64_t Steps = 3;
  if (auto V = Args.get("steps")) {
    auto [P, EC] = std::from_chars(V->data(), V->data() + V->size(), Steps);
    if (EC != std::errc() || P != V->data() + V->size() || Steps < 1)
      return reportUsage("check", Diag("--steps must be a positive integer"));
  }
  if (!O->Training && Args.has("steps"))
    return reportUsage("check", Diag("--steps needs --train"));
  if (!O->Training)
    Steps = 1;
  const TargetInfo *Target = &O->target();
  std::string TargetName(Target->Name);
  if (O->Emit != EmitKind::Cpp && O->Emit != EmitKind::Object)
    return reportUsage("check", Diag("--emit must be cpp or obj"));
  std::string Emit = O->Emit == EmitKind::Cpp ? "cpp" : "obj";
  Tolerances Tol;
  struct {
    const char *Name;
    double *Dest;
  } TolOpts[] = {{"tolerance-arena", &Tol.ArenaPct},
                 {"tolerance-flash", &Tol.FlashPct},
                 {"tolerance-loss", &Tol.LossRel},
                 {"tolerance-instructions", &Tol.InstructionsPct}};
  for (auto &O : TolOpts) {
    Expected<double> D = parseNonNegative(Args, O.Name, *O.Dest);
    if (!D)
      return reportUsage("check", D.error());
    *O.Dest = *D;
  }
  Tol.StrictHash = Args.has("strict-hash");
  bool Update = Args.has("update-baseline");

  Record Now;
  Now.Version = MOTE_VERSION;
  Now.Model = fs::path(O->ModelPath).filename().string();
  Expected<std::string> ModelBytes = readWholeFile(O->ModelPath);
  if (!ModelBytes)
    return reportError(ModelBytes.error());
  Now.ModelSha = sha256Hex(*ModelBytes);
  Expected<OptionMap> Config = configuration(Args, Steps, TargetName, Emit);
  if (!Config)
    return reportDiag("check", Config.error());
  Now.Options = std::move(*Config);

  // The baseline and its configuration are checked before the (slow)
  // compile and runs.
  std::optional<Record> Base;
  if (!Update) {
    std::error_code EC;
    if (!fs::exists(Baseline, EC))
      return reportUsage("check",
                         Diag(fmt::format("{}: no such baseline; make it with "
                                          "--update-baseline (same options)",
                                          Baseline.string())));
    Expected<std::string> Text = readWholeFile(Baseline);
    if (!Text)
      return reportUsage("check", Text.error());
    Expected<Record> B = fromJson(Baseline.string(), *Text);
    if (!B)
      return reportUsage("check", B.error());
    if (Status St = compareConfiguration(Baseline.string(), *B, Now); !St)
      return reportUsage("check", St.error());
    Base = std::move(*B);
  }
  const TargetInfo &Host = *lookupTarget("host");
  for (const TargetInfo *T : {&Host, Target})
    if (Status St = checkTargetTools(*T); !St)
      return reportError(St.error());

  // The files hashed: the model's own (not the runtime-stub files), the
  // object for --target.
  Expected<CompiledModel> M = compile(*O);
  if (!M)
    return reportDiag("check", M.error());
  const MemoryLayout &L = *M->Layout;
  Now.ArenaBytes = L.Plan.ArenaBytes;
  Now.LowerBoundBytes = L.Plan.LowerBoundBytes;
  Now.FlashBytes = L.FlashBytes;
  for (const EmittedFile &F : M->Files)
    if (F.Path.starts_with("model."))
      Now.Code.emplace_back(F.Path, sha256Hex(F.Text));

  const Graph &G = *M->G;
  Expected<std::map<std::string, Tensor>> Feeds =
      readInputFiles(G, Args.getAll("input"), /*RequireAll=*/false);
  if (!Feeds)
    return reportDiag("check", Feeds.error());
  for (const Value *In : G.inputs())
    if (!Feeds->count(In->name()))
      Feeds->emplace(In->name(), seededInput(G, *In));

  bool Keep = Args.has("keep");
  // The host runs training steps; an emulated target also inference, to
  // count its instructions.
  std::vector<const TargetInfo *> Runs;
  if (O->Training)
    Runs.push_back(&Host);
  if (Target->Run != RunKind::Native)
    Runs.push_back(Target);
  for (const TargetInfo *T : Runs) {
    Expected<std::vector<EmittedFile>> Files = filesFor(*M, *T);
    if (!Files)
      return reportError(Files.error());
    if (Status St = measureRuns(*M, *Files, Steps, *Feeds, *T, Keep, Now); !St)
      return reportError(St.error());
  }

  if (Update) {
    // The table shows what changes against the old file, if there is one
    // of this format.
    Record Old = Now;
    if (Expected<std::string> Text = readWholeFile(Baseline))
      if (Expected<Record> B = fromJson(Baseline.string(), *Text))
        Old = std::move(*B);
    if (Status St = writeFileAtomically(Baseline, toJson(Now)); !St)
      return reportError(St.error());
    printTable(compare(Old, Now, Tol));
    fmt::print("motec check: wrote the baseline {}\n", Baseline.string());
    return ExitOk;
  }
  std::vector<Row> Rows = compare(*Base, Now, Tol);
  printTable(Rows);
  std::vector<std::string> Regressed, Improved;
  for (const Row &R : Rows) {
    if (R.Regression)
      Regressed.push_back(R.Metric);
    if (R.Improved)
      Improved.push_back(R.Metric);
  }
  if (!Regressed.empty()) {
    fmt::print("motec check: {} regression{} against {}: {}\n",
               Regressed.size(), Regressed.size() == 1 ? "" : "s",
               Baseline.string(), fmt::join(Regressed, ", "));
    return ExitUserError;
  }
  fmt::print("motec check: ok against {}", Baseline.string());
  if (!Improved.empty())
    fmt::print(" ({} improved: {}; --update-baseline records it)",
               Improved.size(), fmt::join(Improved, ", "));
  fmt::print("\n");
  return ExitOk;
}

} // namespace

const Command CheckCommand = {
    "check",
    "check model.onnx --baseline FILE.json [--update-baseline] [--steps N] "
    "[--target T] [--emit cpp|obj] [--input NAME=FILE.pb ...] [model "
    "options]",
    "compile and run a model and compare arena, flash, code hash, losses and "
    "instruction counts with a baseline: exit 1 on a regression",
    checkOptions,
    runCheck,
};

} // namespace mote::cli
