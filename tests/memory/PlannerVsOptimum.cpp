//===- PlannerVsOptimum.cpp - The memory planner against the exact optimum ===//
//
// Measures how far planMemory's arena is from the smallest possible one on
// small interval sets (at most 40 buffers): hand-drawn shapes (chain,
// fan-out, diamond, many small + one big, a forward/backward training step,
// in-place chains) and seeded random lifetimes and sizes.
//
// The exact optimum comes from coinor-cbc. Each case is written as the
// dynamic-storage-allocation MILP in CPLEX LP format:
//   - one integer k_i per buffer, its offset being Align_i * k_i bytes,
//   - one integer a, the arena being 16 * a bytes (the arena alignment),
//   - o_i + Size_i <= 16 a for every buffer,
//   - for each pair live at a common step, a binary y_ij choosing which
//     one lies below the other, enforced with big-M constraints,
//   - for an in-place pair (see BufferRequest::InplaceWith) a binary z that
//     lets the two share exactly the same offset instead,
//   - valid inequalities that only speed up the proof, from the buffers
//     live at one step (pairwise disjoint): their sizes fit in the arena,
//     each lies above those below it, their order has no 3-cycle; and of
//     two identical buffers the first lies below the second.
// minimise 16 a. The planner's arena, once checkPlan accepts its layout, is
// an upper bound on the optimum and serves as the big M (all buffers
// stacked if the layout is invalid). cbc solves each case under a time
// limit (cbc's CPU seconds, a share of one overall budget); a
// case that stops on the limit without proving optimality is listed with
// the range cbc narrowed the optimum to, and left out of the figures.
//
// Fails (exit 1) if a planner layout is invalid, if the planner beats the
// proved optimum or the optimum beats the liveness lower bound (either
// means the MILP or the planner is wrong), if cbc fails (an infeasible
// MILP is such a contradiction too) or its own layout does not pass
// checkPlan, or if the worst planner/optimum ratio over the cases where
// every buffer is 16-aligned (as motec's are) passes the regression bar.
// Exits 77 when cbc is not installed.
//
//===----------------------------------------------------------------------===//

#include "memory/Planner.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace mote;

namespace {

/// ctest's code for a test that could not run here.
constexpr int ExitSkipped = 77;

/// Regression bar on the worst planner/optimum ratio over the proved cases
/// whose buffers are all 16-aligned. Measured (cbc 2.10.8): worst 1.104
/// (random-5), mean 1.012 over the 33 of 37 cases cbc proves, 28 of them
/// optimal; about 35 s in all.
/// The mixed-alignment case stays out of it: the planner reserves every
/// buffer's padding up to its alignment, which a buffer of smaller
/// alignment could use; motec asks 16 for every buffer (Liveness.cpp).
constexpr double MaxWorstRatio = 1.15;

/// cbc's time limit per case, and the budget for all of them together: a
/// case gets the smaller of its limit and what is left of the budget
/// spread over the cases still to run.
constexpr double CaseSeconds = 6.0;
constexpr double TotalSeconds = 45.0;

constexpr int64_t ArenaAlign = 16;

struct Case {
  std::string Name;
  std::vector<BufferRequest> Buffers;
};

BufferRequest buf(int64_t Size, int32_t First, int32_t Last,
                  int32_t InplaceWith = -1, int64_t Align = 16) {
  return {Size, Align, First, Last, InplaceWith};
}

std::vector<Case> handDrawnCases() {
  std::vector<Case> Cases;
  Cases.push_back({"chain",
                   {buf(96, 0, 1), buf(48, 1, 2), buf(208, 2, 3), buf(32, 3, 4),
                    buf(400, 4, 5), buf(16, 5, 6), buf(160, 6, 7)}});
  Cases.push_back({"fan-out",
                   {buf(64, 0, 3), buf(32, 1, 4), buf(32, 2, 4), buf(32, 3, 4),
                    buf(16, 4, 4)}});
  Cases.push_back(
      {"diamond",
       {buf(64, 0, 2), buf(32, 1, 3), buf(32, 2, 3), buf(64, 3, 3)}});
  {
    std::vector<BufferRequest> B = {buf(1024, 0, 10)};
    for (int32_t S = 0; S < 10; ++S)
      B.push_back(buf(16 * (S % 3 + 1), S, S + 1));
    Cases.push_back({"many small + one big", B});
  }
  {
    // The big buffer lives only in the middle, so the small ones on either
    // side must leave room for it or sit above it.
    std::vector<BufferRequest> B = {buf(2048, 6, 9)};
    for (int32_t S = 0; S < 16; ++S)
      B.push_back(buf(48 + 32 * (S % 4), S, S + 2));
    Cases.push_back({"many small + one big (middle)", B});
  }
  Cases.push_back(
      {"same interval",
       {buf(100, 0, 5), buf(60, 0, 5), buf(60, 0, 5), buf(200, 0, 5)}});
  // The 1-byte buffer fits in the padding of the 3-byte one, which the
  // planner reserves: the one case outside the regression bar.
  Cases.push_back({"alignment 64, odd sizes",
                   {buf(3, 0, 2, -1, 64), buf(65, 0, 2, -1, 64),
                    buf(100, 0, 2, -1, 64), buf(1, 1, 3, -1, 1)}});
  Cases.push_back(
      {"in-place chain",
       {buf(64, 0, 1), buf(64, 1, 2, 0), buf(48, 2, 3, 1), buf(32, 0, 3)}});
  Cases.push_back(
      {"zero-size buffers",
       {buf(0, 0, 5), buf(64, 0, 5), buf(0, 2, 3, -1, 64), buf(32, 3, 4)}});
  // Staircase: each buffer outlives the previous one by a step; a first-fit
  // by start time leaves holes that a better order avoids.
  Cases.push_back(
      {"staircase",
       {buf(256, 0, 3), buf(64, 1, 4), buf(192, 2, 5), buf(128, 3, 6),
        buf(320, 4, 7), buf(32, 5, 8), buf(224, 6, 9), buf(96, 7, 10)}});
  // Two peaks held by different buffers.
  Cases.push_back(
      {"two peaks",
       {buf(512, 0, 2), buf(256, 1, 3), buf(128, 2, 6), buf(384, 4, 7),
        buf(320, 5, 8), buf(64, 7, 9), buf(256, 8, 9)}});
  {
    // A training step: forward activation i lives from step i until the
    // backward step that reads it (2N - i); each gradient lives two steps;
    // four trained parameters live throughout.
    const int32_t N = 8;
    std::vector<BufferRequest> B;
    for (int32_t I = 0; I < N; ++I)
      B.push_back(buf(64 * ((I * 5) % 7 + 2), I, 2 * N - I));
    for (int32_t I = 0; I < N; ++I)
      B.push_back(buf(64 * ((I * 3) % 5 + 1), N + I, N + I + 1));
    for (int32_t I = 0; I < 4; ++I)
      B.push_back(buf(48 * (I + 1), 0, 2 * N + 1));
    Cases.push_back({"forward/backward step", B});
  }
  {
    // The same step where each gradient reuses the activation it replaces.
    const int32_t N = 6;
    std::vector<BufferRequest> B;
    for (int32_t I = 0; I < N; ++I)
      B.push_back(buf(96 * (I % 3 + 1), I, 2 * N - 1 - I));
    for (int32_t I = 0; I < N; ++I) {
      int32_t Act = N - 1 - I;
      B.push_back(buf(B[size_t(Act)].Size, B[size_t(Act)].Last,
                      B[size_t(Act)].Last + 1, Act));
    }
    Cases.push_back({"forward/backward, in place", B});
  }
  return Cases;
}

/// Seeded random cases: lifetimes over a short schedule, sizes of 1 to 1024
/// bytes, alignment 16; every third case with some in-place pairs.
std::vector<Case> randomCases(int Count, uint32_t Seed) {
  std::mt19937 Rng(Seed);
  auto Pick = [&](uint32_t N) { return int64_t(Rng() % N); };
  std::vector<Case> Cases;
  for (int C = 0; C < Count; ++C) {
    int N = 8 + int(C * 32 / std::max(Count - 1, 1)); // 8 .. 40 buffers
    int32_t Steps = int32_t(N / 2 + Pick(uint32_t(N)));
    bool Inplace = C % 3 == 2;
    std::vector<BufferRequest> B;
    for (int I = 0; I < N; ++I) {
      BufferRequest R = buf(16 * (Pick(64) + 1) - Pick(16), 0, 0);
      R.First = int32_t(Pick(uint32_t(Steps)));
      R.Last = R.First + int32_t(Pick(uint32_t(std::max(Steps / 3, 2))));
      if (Inplace && I > 0 && Pick(4) == 0) {
        int32_t K = int32_t(Pick(uint32_t(I)));
        R.First = B[size_t(K)].Last;
        R.Last = R.First + int32_t(Pick(4));
        R.Size = Pick(uint32_t(B[size_t(K)].Size)) + 1;
        R.InplaceWith = K;
      }
      B.push_back(R);
    }
    Cases.push_back({fmt::format("random-{}", C), std::move(B)});
  }
  return Cases;
}

int64_t alignUp(int64_t V, int64_t A) { return (V + A - 1) / A * A; }

bool liveTogether(const BufferRequest &A, const BufferRequest &B) {
  return A.First <= B.Last && B.First <= A.Last;
}

/// The in-place partner buffer \p I may share storage with, or -1: the
/// rule BufferRequest::InplaceWith documents.
int32_t partnerOf(const std::vector<BufferRequest> &B, size_t I) {
  int32_t K = B[I].InplaceWith;
  if (K < 0 || size_t(K) >= I || B[size_t(K)].Last != B[I].First ||
      B[size_t(K)].Size < B[I].Size)
    return -1;
  return K;
}

/// The LP text of a case and the number of binary variables in it.
struct Milp {
  std::string Text;
  int Binaries = 0;
};

/// A linear expression: constant + sum of coefficient * variable, variables
/// kept sorted by name so that the text is deterministic.
struct Linear {
  int64_t Const = 0;
  std::map<std::string, int64_t> Coefs;

  Linear &add(const Linear &O, int64_t Scale = 1) {
    Const += Scale * O.Const;
    for (const auto &[V, C] : O.Coefs)
      Coefs[V] += Scale * C;
    return *this;
  }
  static Linear var(const std::string &V, int64_t Coef = 1) {
    Linear L;
    L.Coefs[V] = Coef;
    return L;
  }
  static Linear constant(int64_t C) {
    Linear L;
    L.Const = C;
    return L;
  }
};

/// One row "Expr Sense Rhs" with Expr's constant moved to the right.
std::string row(int Index, const Linear &E, const char *Sense, int64_t Rhs) {
  std::string Text = fmt::format(" c{}:", Index);
  bool Any = false;
  for (const auto &[V, C] : E.Coefs) {
    if (C == 0)
      continue;
    Text += fmt::format(" {} {} {}", C < 0 ? '-' : '+', C < 0 ? -C : C, V);
    Any = true;
  }
  if (!Any)
    Text += " 0 a";
  return Text + fmt::format(" {} {}\n", Sense, Rhs - E.Const);
}

/// \p UpperBound: an arena known to be achievable; every offset and the
/// arena stay below it and it is the big M of the pair constraints.
Milp writeMilp(const std::vector<BufferRequest> &B, int64_t UpperBound) {
  size_t N = B.size();
  std::vector<size_t> Live; // buffers that occupy bytes
  for (size_t I = 0; I < N; ++I)
    if (B[I].Size > 0)
      Live.push_back(I);
  const int64_t BigM = UpperBound;
  std::vector<int32_t> Partner(N);
  std::vector<char> HasChild(N, 0);
  for (size_t I = 0; I < N; ++I) {
    Partner[I] = partnerOf(B, I);
    if (Partner[I] >= 0)
      HasChild[size_t(Partner[I])] = 1;
  }
  auto Offset = [&](size_t I) {
    return Linear::var(fmt::format("k{}", I), B[I].Align);
  };
  const Linear Arena = Linear::var("a", ArenaAlign);

  std::string Rows;
  int Row = 0;
  std::vector<std::string> BinaryVars;
  auto AddRow = [&](const Linear &E, const char *Sense, int64_t Rhs) {
    Rows += row(Row++, E, Sense, Rhs);
  };
  // Every buffer lies below the arena top.
  for (size_t I : Live)
    AddRow(Linear(Offset(I)).add(Arena, -1), "<=", -B[I].Size);

  // Order of each pair live at a common step, I < J: either a binary y
  // (0: I below J, 1: J below I) or, for identical buffers that can be
  // swapped, fixed with I below.
  std::map<std::pair<size_t, size_t>, std::string> OrderVar;
  auto Identical = [&](size_t I, size_t J) {
    return B[I].Size == B[J].Size && B[I].Align == B[J].Align &&
           B[I].First == B[J].First && B[I].Last == B[J].Last &&
           Partner[I] < 0 && Partner[J] < 0 && !HasChild[I] && !HasChild[J];
  };
  for (size_t X = 0; X < Live.size(); ++X) {
    for (size_t Y = X + 1; Y < Live.size(); ++Y) {
      size_t I = Live[X], J = Live[Y];
      if (!liveTogether(B[I], B[J]))
        continue;
      if (Identical(I, J)) {
        OrderVar[{I, J}] = "";
        AddRow(Linear(Offset(I)).add(Offset(J), -1), "<=", -B[I].Size);
        continue;
      }
      std::string Yv = fmt::format("y{}_{}", I, J);
      OrderVar[{I, J}] = Yv;
      BinaryVars.push_back(Yv);
      Linear Relax = Linear::var(Yv, BigM); // what y = 1 relaxes
      if (Partner[J] == int32_t(I)) {
        // z = 1: J takes I's offset; z = 0: they must not overlap.
        std::string Zv = fmt::format("z{}_{}", I, J);
        BinaryVars.push_back(Zv);
        Linear Z = Linear::var(Zv, BigM);
        AddRow(Linear(Offset(I)).add(Offset(J), -1).add(Z), "<=", BigM);
        AddRow(Linear(Offset(J)).add(Offset(I), -1).add(Z), "<=", BigM);
        AddRow(Linear(Offset(I)).add(Offset(J), -1).add(Relax, -1).add(Z, -1),
               "<=", -B[I].Size);
        AddRow(Linear(Offset(J)).add(Offset(I), -1).add(Relax).add(Z, -1),
               "<=", BigM - B[J].Size);
        continue;
      }
      AddRow(Linear(Offset(I)).add(Offset(J), -1).add(Relax, -1),
             "<=", -B[I].Size);
      AddRow(Linear(Offset(J)).add(Offset(I), -1).add(Relax),
             "<=", BigM - B[J].Size);
    }
  }
  // 1 if J lies below I, as an expression in the order variables.
  auto Below = [&](size_t J, size_t I) {
    size_t Lo = std::min(I, J), Hi = std::max(I, J);
    const std::string &Yv = OrderVar.at({Lo, Hi});
    if (Yv.empty())
      return Linear::constant(J == Lo ? 1 : 0);
    if (J == Hi)
      return Linear::var(Yv);
    return Linear::constant(1).add(Linear::var(Yv), -1);
  };

  // Valid inequalities, written from the intervals alone. The buffers live
  // at one step, leaving out a child that may share its partner's storage
  // there, are pairwise disjoint, so
  //   - their sizes sum to at most the arena,
  //   - a buffer lies above all that are below it and below the arena top
  //     by all that are above it,
  //   - their order has no cycle: of three, not a below b below c below a.
  // Starts and the arena are multiples of the smallest alignment there (at
  // most 16), so sizes count rounded up to it. Only the steps whose live
  // set is not contained in another step's are used.
  int32_t LastStep = 0;
  for (size_t I : Live)
    LastStep = std::max(LastStep, B[I].Last);
  std::vector<std::vector<size_t>> Cliques;
  for (int32_t S = 0; S <= LastStep; ++S) {
    std::vector<size_t> At;
    for (size_t I : Live)
      if (B[I].First <= S && S <= B[I].Last &&
          !(Partner[I] >= 0 && B[I].First == S))
        At.push_back(I);
    if (!At.empty())
      Cliques.push_back(std::move(At));
  }
  std::vector<std::vector<size_t>> Maximal;
  for (size_t C = 0; C < Cliques.size(); ++C) {
    bool Contained = false;
    for (size_t D = 0; D < Cliques.size() && !Contained; ++D)
      Contained = D != C &&
                  std::includes(Cliques[D].begin(), Cliques[D].end(),
                                Cliques[C].begin(), Cliques[C].end()) &&
                  (Cliques[D].size() > Cliques[C].size() || D < C);
    if (!Contained)
      Maximal.push_back(Cliques[C]);
  }
  for (const std::vector<size_t> &L : Maximal) {
    int64_t Unit = ArenaAlign;
    for (size_t I : L)
      Unit = std::min(Unit, B[I].Align);
    auto Rounded = [&](size_t I) { return alignUp(B[I].Size, Unit); };
    int64_t Sum = 0;
    for (size_t I : L)
      Sum += Rounded(I);
    AddRow(Arena, ">=", Sum);
    for (size_t I : L) {
      Linear Under = Offset(I), Over = Arena;
      Over.add(Offset(I), -1);
      for (size_t J : L) {
        if (J == I)
          continue;
        Under.add(Below(J, I), -Rounded(J));
        Over.add(Linear::constant(1).add(Below(J, I), -1), -Rounded(J));
      }
      AddRow(Under, ">=", 0);
      AddRow(Over, ">=", Rounded(I));
    }
    for (size_t X = 0; X < L.size(); ++X)
      for (size_t Y = X + 1; Y < L.size(); ++Y)
        for (size_t Z = Y + 1; Z < L.size(); ++Z) {
          size_t P = L[X], Q = L[Y], R = L[Z];
          AddRow(Below(P, Q).add(Below(Q, R)).add(Below(R, P)), "<=", 2);
          AddRow(Below(Q, P).add(Below(R, Q)).add(Below(P, R)), "<=", 2);
        }
  }

  std::string Text = "\\ mote: dynamic storage allocation of one arena\n"
                     "Minimize\n obj: 16 a\nSubject To\n" +
                     Rows + "Bounds\n";
  Text += fmt::format(" 0 <= a <= {}\n", BigM / ArenaAlign);
  for (size_t I : Live)
    Text +=
        fmt::format(" 0 <= k{} <= {}\n", I, (BigM - B[I].Size) / B[I].Align);
  Text += "General\n a\n";
  for (size_t I : Live)
    Text += fmt::format(" k{}\n", I);
  if (!BinaryVars.empty()) {
    Text += "Binary\n";
    for (const std::string &V : BinaryVars)
      Text += " " + V + "\n";
  }
  Text += "End\n";
  return {Text, int(BinaryVars.size())};
}

/// What cbc found for one case.
struct Solution {
  enum { Optimal, Stopped, Failed } Status = Failed;
  /// The best layout's arena, -1 if cbc stopped before finding one.
  int64_t Arena = -1;
  /// When stopped: the lower bound cbc had proved, -1 if unknown.
  double BestPossible = -1;
  /// The layout itself, checked with checkPlan.
  MemoryPlan Plan;
  std::string Message;
};

/// Parses cbc's `solu` file: a status line ("Optimal - objective value
/// 240.00000000", "Stopped on time - objective value ...") and then one
/// line per variable: index, name, value, reduced cost.
Solution readSolution(const std::filesystem::path &File,
                      const std::vector<BufferRequest> &B) {
  Solution S;
  std::ifstream In(File);
  std::string Status;
  if (!std::getline(In, Status)) {
    S.Message = "cbc wrote no solution";
    return S;
  }
  if (Status.rfind("Optimal", 0) == 0)
    S.Status = Solution::Optimal;
  else if (Status.rfind("Stopped", 0) == 0)
    S.Status = Solution::Stopped;
  else {
    S.Message = "cbc: " + Status;
    return S;
  }
  size_t At = Status.find("objective value");
  if (At == std::string::npos ||
      Status.find("no integer solution") != std::string::npos) {
    if (S.Status == Solution::Optimal) {
      S.Status = Solution::Failed;
      S.Message = "cbc: " + Status;
    }
    return S;
  }
  S.Arena = std::llround(std::strtod(Status.c_str() + At + 15, nullptr));
  std::map<std::string, double> Values;
  std::string Line;
  while (std::getline(In, Line)) {
    std::istringstream Fields(Line);
    std::string Index, Name;
    double Value = 0;
    if (Fields >> Index >> Name >> Value)
      Values[Name] = Value;
  }
  S.Plan.Offsets.assign(B.size(), 0);
  for (size_t I = 0; I < B.size(); ++I) {
    auto It = Values.find(fmt::format("k{}", I));
    if (It != Values.end())
      S.Plan.Offsets[I] = std::llround(It->second) * B[I].Align;
  }
  S.Plan.ArenaBytes = S.Arena;
  return S;
}

std::optional<std::filesystem::path> findOnPath(const std::string &Name) {
  const char *Path = std::getenv("PATH");
  std::string Dirs = Path ? Path : "/usr/bin:/bin";
  std::istringstream In(Dirs);
  std::string Dir;
  while (std::getline(In, Dir, ':')) {
    std::filesystem::path P =
        std::filesystem::path(Dir.empty() ? "." : Dir) / Name;
    if (::access(P.c_str(), X_OK) == 0)
      return P;
  }
  return std::nullopt;
}

Solution solve(const std::filesystem::path &Cbc,
               const std::filesystem::path &Dir, const std::string &Stem,
               const std::vector<BufferRequest> &B, const Milp &M,
               double Seconds) {
  std::filesystem::path Lp = Dir / (Stem + ".lp");
  std::filesystem::path Out = Dir / (Stem + ".sol");
  std::filesystem::path Log = Dir / (Stem + ".log");
  {
    std::ofstream F(Lp);
    F << M.Text;
  }
  std::string Cmd = fmt::format("'{}' '{}' sec {:.1f} solve solu '{}' > '{}' "
                                "2>&1",
                                Cbc.string(), Lp.string(), Seconds,
                                Out.string(), Log.string());
  if (std::system(Cmd.c_str()) != 0) {
    Solution S;
    S.Message = "cbc failed, see " + Log.string();
    return S;
  }
  Solution S = readSolution(Out, B);
  if (S.Status != Solution::Stopped)
    return S;
  // "Partial search - best objective 3744 (best possible 3712), ..."
  std::ifstream In(Log);
  std::string Line;
  while (std::getline(In, Line))
    if (size_t At = Line.find("(best possible "); At != std::string::npos)
      S.BestPossible = std::strtod(Line.c_str() + At + 15, nullptr);
  return S;
}

std::string slug(const std::string &Name) {
  std::string S;
  for (char C : Name)
    S += std::isalnum(static_cast<unsigned char>(C)) ? C : '_';
  return S;
}

} // namespace

int main() {
  std::optional<std::filesystem::path> Cbc = findOnPath("cbc");
  if (!Cbc) {
    fmt::print("SKIPPED: cbc (coinor-cbc) is not installed\n");
    return ExitSkipped;
  }
  std::string Template =
      (std::filesystem::temp_directory_path() / "mote-planner-exact-XXXXXX")
          .string();
  if (!::mkdtemp(Template.data())) {
    fmt::print(stderr, "error: cannot create a temporary directory\n");
    return 1;
  }
  std::filesystem::path Dir = Template;

  std::vector<Case> Cases = handDrawnCases();
  for (Case &C : randomCases(24, 20260311))
    Cases.push_back(std::move(C));

  auto Start = std::chrono::steady_clock::now();
  auto Elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         Start)
        .count();
  };
  fmt::print("{:<30} {:>7} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7}  {}\n", "case",
             "buffers", "binaries", "bound", "planner", "optimum", "ratio",
             "cbc s", "");
  std::vector<std::string> Failures;
  int Proved = 0, PlannerOptimal = 0, Stopped = 0;
  double SumRatio = 0, WorstRatio = 1, WorstBarred = 1;
  std::string WorstCase, WorstBarredCase;
  for (size_t CI = 0; CI < Cases.size(); ++CI) {
    const Case &C = Cases[CI];
    MemoryPlan P = planMemory(C.Buffers, ArenaAlign);
    std::string Invalid = checkPlan(C.Buffers, P);
    bool Valid = Invalid.empty();
    if (!Valid)
      Failures.push_back(C.Name +
                         ": the planner's layout is invalid: " + Invalid);
    int64_t Bound = livenessLowerBound(C.Buffers);
    // A valid planner layout proves the optimum is no larger, so the MILP
    // searches below its arena (a much smaller big M than all buffers
    // stacked). Were the MILP too strict, it would turn infeasible, which
    // fails like any other cbc failure.
    int64_t Stacked = 0;
    for (const BufferRequest &R : C.Buffers)
      Stacked += alignUp(R.Size, R.Align) + R.Align;
    Milp M = writeMilp(C.Buffers,
                       Valid ? P.ArenaBytes : alignUp(Stacked, ArenaAlign));
    double Left = TotalSeconds - Elapsed();
    double Seconds =
        std::clamp(Left / double(Cases.size() - CI), 1.0, CaseSeconds);
    auto CaseStart = std::chrono::steady_clock::now();
    Solution S = solve(*Cbc, Dir, fmt::format("{:02}-{}", CI, slug(C.Name)),
                       C.Buffers, M, Seconds);
    double CaseTime = std::chrono::duration<double>(
                          std::chrono::steady_clock::now() - CaseStart)
                          .count();
    std::string Optimum = "-", Ratio = "-", Note;
    if (S.Status == Solution::Failed) {
      Failures.push_back(C.Name + ": " + S.Message);
      Note = "FAILED";
    } else if (S.BestPossible > double(P.ArenaBytes) + 0.5) {
      Failures.push_back(fmt::format(
          "{}: cbc proved the optimum >= {:.1f}, above the planner's arena {}",
          C.Name, S.BestPossible, P.ArenaBytes));
      Note = "FAILED";
    } else if (S.Arena < 0) {
      ++Stopped;
      Note = S.BestPossible >= 0 ? fmt::format("time limit: optimum >= {:.0f}",
                                               std::ceil(S.BestPossible - 1e-6))
                                 : std::string("time limit, no layout found");
    } else {
      if (std::string E = checkPlan(C.Buffers, S.Plan); !E.empty())
        Failures.push_back(C.Name + ": cbc's layout is invalid: " + E);
      Optimum = std::to_string(S.Arena);
      double R = S.Arena ? double(P.ArenaBytes) / double(S.Arena) : 1.0;
      Ratio = fmt::format("{:.3f}", R);
      if (S.Status == Solution::Stopped) {
        ++Stopped;
        Note = S.BestPossible >= 0
                   ? fmt::format("time limit: optimum in [{:.0f}, {}]",
                                 std::ceil(S.BestPossible - 1e-6), S.Arena)
                   : std::string("time limit, not proved");
        Optimum += "?";
      } else {
        ++Proved;
        SumRatio += R;
        if (P.ArenaBytes == S.Arena)
          ++PlannerOptimal;
        if (R > WorstRatio) {
          WorstRatio = R;
          WorstCase = C.Name;
        }
        bool Aligned16 = std::all_of(
            C.Buffers.begin(), C.Buffers.end(), [](const BufferRequest &R) {
              return R.Size == 0 || R.Align == ArenaAlign;
            });
        if (Aligned16 && R > WorstBarred) {
          WorstBarred = R;
          WorstBarredCase = C.Name;
        }
        if (!Aligned16)
          Note = "mixed alignment, not in the bar";
        if (P.ArenaBytes < S.Arena)
          Failures.push_back(fmt::format(
              "{}: the planner's arena {} is below the proved optimum {}",
              C.Name, P.ArenaBytes, S.Arena));
        if (S.Arena < Bound)
          Failures.push_back(fmt::format(
              "{}: the optimum {} is below the liveness lower bound {}", C.Name,
              S.Arena, Bound));
        if (P.ArenaBytes == S.Arena)
          Note = P.ArenaBytes == alignUp(Bound, ArenaAlign)
                     ? "optimal (= bound)"
                     : "optimal";
      }
    }
    fmt::print("{:<30} {:>7} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7.2f}  {}\n",
               C.Name, C.Buffers.size(), M.Binaries, Bound, P.ArenaBytes,
               Optimum, Ratio, CaseTime, Note);
  }
  double Mean = Proved ? SumRatio / Proved : 1.0;
  fmt::print("\n{} cases, {} proved optimal by cbc, {} stopped on the time "
             "limit (left out)\n",
             Cases.size(), Proved, Stopped);
  fmt::print("planner / optimum over the proved cases: mean {:.4f}, worst "
             "{:.4f}{}; the planner is optimal in {} of {}\n",
             Mean, WorstRatio, WorstCase.empty() ? "" : " (" + WorstCase + ")",
             PlannerOptimal, Proved);
  fmt::print("regression bar, cases with every buffer 16-aligned: worst "
             "{:.4f}{} <= {:.2f}; total {:.1f} s\n",
             WorstBarred,
             WorstBarredCase.empty() ? "" : " (" + WorstBarredCase + ")",
             MaxWorstRatio, Elapsed());
  if (WorstBarred > MaxWorstRatio)
    Failures.push_back(fmt::format(
        "worst planner/optimum ratio {:.4f} ({}) is above the bar of {:.2f}",
        WorstBarred, WorstBarredCase, MaxWorstRatio));
  if (Failures.empty())
    std::filesystem::remove_all(Dir);
  else
    fmt::print("the LP files and cbc logs are in {}\n", Dir.string());
  for (const std::string &F : Failures)
    fmt::print("FAIL: {}\n", F);
  return Failures.empty() ? 0 : 1;
}
