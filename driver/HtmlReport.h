//===- HtmlReport.h - The memory report as a self-contained page -*- C++ -*-===//
//
// Draws the arena as rectangles over time (schedule step, x) and address
// (y): one rectangle per buffer, colored by kind, a tooltip naming it, the
// peak step marked. One HTML file with inline SVG and CSS: no scripts from
// elsewhere, no network.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_DRIVER_HTMLREPORT_H
#define MOTE_DRIVER_HTMLREPORT_H

#include <string>

namespace mote {
class Graph;
struct MemoryLayout;

/// \p Notes: sentences on what the passes did to the memory (the 1-bit
/// masks, the streamed chains and the MACs they recompute), printed under
/// the header; may be empty.
std::string memoryReportHtml(const Graph &G, const MemoryLayout &L,
                             const std::string &Title,
                             const std::string &Notes = {});
} // namespace mote

#endif // MOTE_DRIVER_HTMLREPORT_H
