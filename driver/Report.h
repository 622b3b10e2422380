//===- Report.h - What tools print and write about a compile ---*- C++ -*-===//
//
// The reports of a compiled model: report.json (the format the project's
// contracts fix: arena, lower bound, efficiency, flash (weights; the
// kernels' tables as flash_tables_bytes), every tensor's
// region, offset and interval, the ops and their MACs, the update spec, the
// passes, the fusion counts), the HTML drawing of the arena
// (HtmlReport.h), the error of a plan over --ram-budget, and the node and
// saved-activation counts of a training graph.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_DRIVER_REPORT_H
#define MOTE_DRIVER_REPORT_H

#include "compiler/Diagnostic.h"

#include <cstdint>
#include <string>

namespace mote {

class Graph;
struct CompiledModel;
struct MemoryLayout;
struct TensorType;

/// report.json of \p M (compiled to Stage::Layout at least).
std::string reportJson(const CompiledModel &M);

/// The memory report of \p M as a self-contained page.
std::string reportHtml(const CompiledModel &M);

/// The error for an arena over \p Budget bytes: the peak step and the
/// largest buffers live there, with their producer and why they are alive.
Diag ramBudgetError(const Graph &G, const MemoryLayout &L, int64_t Budget);

/// A type as tools print it: in full (TensorType::str), except that a
/// per-axis quantization shows its axis, scale count and ranges instead of
/// every pair: "i8[96,16,1,1]<axis 0: 96 scales 0.0012..0.031, zero points
/// 0>".
std::string briefType(const TensorType &T);

/// Bytes of the constant tables the kernels' parameters point to (flash,
/// beside the weights flash_bytes counts): the per-channel scales, zero
/// points, requantization multipliers and shifts of the quantized ops.
int64_t kernelTableBytes(const Graph &G);

/// Node counts by phase and bytes of forward values the backward reads.
struct TrainingStats {
  int64_t ForwardNodes = 0, BackwardNodes = 0, UpdateNodes = 0;
  int64_t SavedActivations = 0, SavedActivationBytes = 0;
  int64_t TrainableParams = 0, TrainableElements = 0;
};
TrainingStats trainingStats(const Graph &G);

} // namespace mote

#endif // MOTE_DRIVER_REPORT_H
