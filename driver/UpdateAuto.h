//===- UpdateAuto.h - --update auto: the largest update that fits -*- C++ -*-===//
//
// With --update auto and --ram-budget the driver chooses the update spec:
// the largest TTE-style sparse update whose training step's arena fits the
// budget. The layers (Conv, Gemm and MatMul nodes with a parameter weight,
// in forward order) are walked from the last one back:
//   1. biases: those of the last k layers, k as large as fits (a binary
//      search; the arena grows with k, as the backward pass reaches
//      further);
//   2. weights: then, from the last layer back over those k, each layer's
//      weight at the first channel ratio of 1, 1/2, 1/4, 1/8 that still
//      fits; the first layer none fits ends the walk.
// Each candidate is a whole compile to the memory layout. The rules name
// the parameters exactly (glob characters escaped) and are what the
// `--update-file` format reads back (updateFileJson).
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_DRIVER_UPDATEAUTO_H
#define MOTE_DRIVER_UPDATEAUTO_H

#include "compiler/Diagnostic.h"
#include "passes/Pass.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mote {

class Graph;
struct CompileOptions;

/// What --update auto chose.
struct AutoUpdate {
  std::vector<UpdateRule> Rules;
  /// The arena of the chosen step and the budget it fits.
  int64_t ArenaBytes = 0, Budget = 0;
  /// Biases trained (of the last layers) and weights trained, of Layers.
  int64_t Biases = 0, Weights = 0, Layers = 0;
  /// Compiles the search ran.
  int64_t Compiles = 0;
};

/// A fresh graph of the model (the search compiles it once per candidate).
using GraphSource = std::function<Expected<std::unique_ptr<Graph>>()>;

/// Chooses the update spec for \p O (O.Train.UpdateAuto, O.RamBudget set);
/// \p Compile compiles a graph with given options to its layout and returns
/// the arena bytes. Fails, naming the arena it needs, when not even the
/// last layer's bias fits.
Expected<AutoUpdate> chooseUpdate(
    const CompileOptions &O, const GraphSource &Import,
    const std::function<Expected<int64_t>(std::unique_ptr<Graph>,
                                          const CompileOptions &)> &Compile);

/// \p Rules as an update file: {"update": [{"params": GLOB, "channels":
/// RATIO}, ...]} (readUpdateFile reads it back).
std::string updateFileJson(const std::vector<UpdateRule> &Rules);

/// \p R as --update takes it: PATTERN, or PATTERN:RATIO below 1.
std::string ruleSpec(const UpdateRule &R);

/// \p Name as a glob that matches it alone (*, ?, [ and \ escaped).
std::string escapeGlob(const std::string &Name);

} // namespace mote

#endif // MOTE_DRIVER_UPDATEAUTO_H
