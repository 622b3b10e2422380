//===- UpdateAutoTest.cpp - --update auto's search and its rules ----------===//
//
// chooseUpdate (driver/UpdateAuto.h) on a three-layer CNN, with a compile
// whose arena is a known sum of what each rule trains, so the search's
// choices can be stated exactly; the rules' glob escaping and their update
// file round trip. (Test names may not begin with "-": ctest passes them
// to the test binary as arguments.)
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"
#include "compiler/Parser.h"
#include "driver/Options.h"
#include "driver/UpdateAuto.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fnmatch.h>
#include <fstream>
#include <map>

using namespace mote;

namespace {

/// A "compile" whose arena is the sum of each trained parameter's cost
/// (a weight's scaled by its channel ratio); records every spec it saw.
struct FakeCompile {
  std::map<std::string, int64_t> Cost = {
      {"fc.bias", 100},       {"conv2.bias", 200},    {"conv1.bias", 400},
      {"fc.weight", 1000},    {"conv2.weight", 1000}, {"conv1.weight", 1000}};
  std::vector<std::vector<UpdateRule>> Seen;

  Expected<int64_t> operator()(std::unique_ptr<Graph> G,
                               const CompileOptions &O) {
    REQUIRE(G);
    CHECK_FALSE(O.Train.UpdateAuto);
    CHECK_FALSE(O.RamBudget);
    Seen.push_back(O.Train.Update);
    double Sum = 0;
    for (const UpdateRule &R : O.Train.Update) {
      REQUIRE(Cost.count(R.Pattern));
      Sum += double(Cost[R.Pattern]) * R.Ratio;
    }
    return int64_t(Sum);
  }
};

Expected<AutoUpdate> search(int64_t Budget, FakeCompile &C) {
  CompileOptions O;
  O.Training = true;
  O.Train.UpdateAuto = true;
  O.RamBudget = Budget;
  return chooseUpdate(
      O, [] { return parseGraph(test::SmallCnnText); },
      [&](std::unique_ptr<Graph> G, const CompileOptions &CO) {
        return C(std::move(G), CO);
      });
}

std::vector<std::string> specOf(const std::vector<UpdateRule> &Rules) {
  std::vector<std::string> R;
  for (const UpdateRule &U : Rules)
    R.push_back(U.Ratio < 1 ? U.Pattern + ":" + std::to_string(U.Ratio)
                            : U.Pattern);
  return R;
}

} // namespace

TEST_CASE("update auto takes biases from the last layer back, then "
          "weights at the first ratio that fits",
          "[driver][update-auto]") {
  FakeCompile C;
  // 350: the last two biases (300); no weight fits even at 1/8 (fc.weight
  // at 1/8 would make 425), so the walk stops at once.
  Expected<AutoUpdate> A = search(350, C);
  REQUIRE(A);
  CHECK(specOf(A->Rules) ==
        std::vector<std::string>{"fc.bias", "conv2.bias"});
  CHECK(A->Biases == 2);
  CHECK(A->Weights == 0);
  CHECK(A->Layers == 3);
  CHECK(A->ArenaBytes == 300);
  CHECK(A->Budget == 350);
  CHECK(A->Compiles == int64_t(C.Seen.size()));
  // The bias search is a binary search: k = 1, then 2 of [1, 3], then 3.
  CHECK(C.Seen.size() == 7);

  // 2000: all three biases (700), fc.weight whole (1700), conv2.weight at
  // 1/4 (1950); conv1.weight fits at no ratio.
  FakeCompile C2;
  A = search(2000, C2);
  REQUIRE(A);
  CHECK(specOf(A->Rules) ==
        std::vector<std::string>{"fc.bias", "conv2.bias", "conv1.bias",
                                 "fc.weight", "conv2.weight:0.250000"});
  CHECK(A->Biases == 3);
  CHECK(A->Weights == 2);
  CHECK(A->ArenaBytes == 1950);
  CHECK(A->Rules.back().Origin == "--update auto: 'conv2.weight:0.25'");

  // A budget under the last bias alone is an error naming its arena.
  FakeCompile C3;
  A = search(50, C3);
  REQUIRE_FALSE(A);
  CHECK(A.error().Message ==
        "--update auto: training even the last layer's bias ('fc.bias') "
        "needs an arena of 100 bytes, over the --ram-budget of 50");

  // Without a budget there is nothing to fit.
  CompileOptions O;
  O.Training = true;
  O.Train.UpdateAuto = true;
  Expected<AutoUpdate> N = chooseUpdate(
      O, [] { return parseGraph(test::SmallCnnText); },
      [](std::unique_ptr<Graph>, const CompileOptions &) -> Expected<int64_t> {
        FAIL("compiled without a budget");
        return 0;
      });
  REQUIRE_FALSE(N);
  CHECK(N.error().Message.find("--update auto needs --ram-budget") == 0);
}

TEST_CASE("update auto's rules name one parameter each and read back as "
          "an update file",
          "[driver][update-auto]") {
  std::string Name = "block[1]*odd?\\name";
  std::string Glob = escapeGlob(Name);
  CHECK(Glob == "block\\[1\\]\\*odd\\?\\\\name");
  CHECK(fnmatch(Glob.c_str(), Name.c_str(), 0) == 0);
  CHECK(fnmatch(Glob.c_str(), "block1xoddyname", 0) != 0);

  std::vector<UpdateRule> Rules = {{Glob, 1.0, ""}, {"fc.weight", 0.25, ""}};
  std::string Json = updateFileJson(Rules);
  auto Path = std::filesystem::temp_directory_path() / "mote-update-auto.json";
  std::ofstream(Path) << Json;
  Expected<std::vector<UpdateRule>> Back = readUpdateFile(Path.string());
  std::filesystem::remove(Path);
  REQUIRE(Back);
  REQUIRE(Back->size() == 2);
  CHECK((*Back)[0].Pattern == Glob);
  CHECK((*Back)[0].Ratio == 1.0);
  CHECK((*Back)[1].Pattern == "fc.weight");
  CHECK((*Back)[1].Ratio == 0.25);
}
