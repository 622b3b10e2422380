//===- HtmlReport.cpp - The memory report as a self-contained page --------===//

#include "driver/HtmlReport.h"
#include "compiler/Graph.h"
#include "driver/Report.h"
#include "memory/Layout.h"

#include <algorithm>
#include <fmt/format.h>

namespace mote {

namespace {

std::string escape(const std::string &S) {
  std::string R;
  for (char C : S) {
    switch (C) {
    case '<': R += "&lt;"; break;
    case '>': R += "&gt;"; break;
    case '&': R += "&amp;"; break;
    case '"': R += "&quot;"; break;
    default: R += C;
    }
  }
  return R;
}

const char *colorOf(BufferKind K) {
  switch (K) {
  case BufferKind::Activation: return "#4e79a7";
  case BufferKind::Gradient: return "#e15759";
  case BufferKind::Param: return "#59a14f";
  case BufferKind::OptimizerState: return "#b07aa1";
  case BufferKind::Input: return "#f28e2b";
  }
  return "#999";
}

} // namespace

std::string memoryReportHtml(const Graph &G, const MemoryLayout &L,
                             const std::string &Title,
                             const std::string &Notes) {
  const int W = 1100, H = 560, Left = 90, Top = 20, Bottom = 40;
  int32_t Steps = std::max<int32_t>(L.NumSteps, 1);
  int64_t Arena = std::max<int64_t>(L.Plan.ArenaBytes, 1);
  double XS = double(W - Left - 10) / Steps;
  double YS = double(H - Top - Bottom) / double(Arena);
  std::vector<int64_t> Live = liveBytesPerStep(L);
  int32_t Peak = peakStep(L);

  std::string Svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "role=\"img\" aria-label=\"arena over time\">\n"
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#f7f7f7\" "
      "stroke=\"#333\"/>\n",
      W, H, Left, Top, W - Left - 10, H - Top - Bottom);
  for (const BufferInfo &B : L.Buffers) {
    if (!B.InArena || B.InplaceWith || B.Bytes == 0)
      continue;
    double X = Left + B.First * XS;
    double Wd = std::max(1.0, (B.Last - B.First + 1) * XS);
    double Y = Top + double(B.Offset) * YS;
    double Hd = std::max(1.0, double(B.Bytes) * YS);
    const Node *P = B.V->producer();
    Svg += fmt::format(
        "<rect class=\"buf\" x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" "
        "height=\"{:.2f}\" fill=\"{}\"><title>{} ({}) {}, {} bytes at offset "
        "{}, steps {}-{}{}</title></rect>\n",
        X, Y, Wd, Hd, colorOf(B.Kind), escape(B.V->name()),
        bufferKindName(B.Kind), escape(briefType(B.V->type())), B.Bytes,
        B.Offset, B.First, B.Last,
        P ? ", from " + escape(P->name()) : std::string());
  }
  double PX = Left + (Peak + 0.5) * XS;
  Svg += fmt::format("<line x1=\"{:.2f}\" y1=\"{}\" x2=\"{:.2f}\" y2=\"{}\" "
                     "stroke=\"#000\" stroke-dasharray=\"4 3\"/>\n"
                     "<text x=\"{:.2f}\" y=\"{}\" font-size=\"12\" "
                     "text-anchor=\"middle\">peak: step {}, {} bytes live"
                     "</text>\n",
                     PX, Top, PX, H - Bottom, PX, H - Bottom + 16, Peak,
                     Live[size_t(Peak)]);
  Svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\" "
                     "text-anchor=\"end\">0</text>\n<text x=\"{}\" y=\"{}\" "
                     "font-size=\"12\" text-anchor=\"end\">{} B</text>\n"
                     "<text x=\"{}\" y=\"{}\" font-size=\"12\">step 0</text>\n"
                     "<text x=\"{}\" y=\"{}\" font-size=\"12\" "
                     "text-anchor=\"end\">step {}</text>\n</svg>\n",
                     Left - 4, Top + 10, Left - 4, H - Bottom, Arena, Left,
                     H - Bottom + 32, W - 10, H - Bottom + 32, Steps - 1);

  std::string Legend;
  for (BufferKind K : {BufferKind::Activation,
                       BufferKind::Gradient, BufferKind::Param,
                       BufferKind::OptimizerState})
    Legend += fmt::format("<span><i style=\"background:{}\"></i>{}</span>",
                          colorOf(K), bufferKindName(K));
  double Eff = L.Plan.efficiency();
  std::string Rows;
  std::vector<const BufferInfo *> At = buffersLiveAt(L, Peak);
  for (size_t I = 0; I < At.size() && I < 10; ++I)
    Rows += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                        "<td>{}-{}</td></tr>\n",
                        escape(At[I]->V->name()), bufferKindName(At[I]->Kind),
                        escape(briefType(At[I]->V->type())), At[I]->Bytes,
                        At[I]->First, At[I]->Last);
  return fmt::format(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
      "<title>mote memory report: {0}</title>\n<style>\n"
      "body{{font-family:sans-serif;margin:20px;color:#222}}\n"
      ".legend span{{margin-right:16px}}.legend i{{display:inline-block;"
      "width:12px;height:12px;margin-right:4px;vertical-align:middle}}\n"
      "rect.buf{{stroke:#fff;stroke-width:0.3}}rect.buf:hover{{stroke:#000;"
      "stroke-width:1}}\n"
      "table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;"
      "padding:2px 8px;text-align:left}}\n</style></head><body>\n"
      "<h1>mote memory report: {0}</h1>\n<p>graph '{11}': arena <b>{1}</b> bytes, liveness "
      "lower bound {2} bytes, efficiency {3:.3f} (strategy {4}); flash {5} "
      "bytes of weights and {12} of kernel tables; the graph inputs ({13} bytes) are read from the caller's buffers; {6} schedule steps. x: schedule step, y: arena address; hover "
      "a rectangle for its tensor.</p>\n{14}<p class=\"legend\">{7}</p>\n{8}"
      "<h2>largest buffers live at the peak (step {9})</h2>\n<table><tr>"
      "<th>tensor</th><th>kind</th><th>type</th><th>bytes</th><th>steps</th>"
      "</tr>\n{10}"
      "</table>\n</body></html>\n",
      escape(Title), L.Plan.ArenaBytes, L.Plan.LowerBoundBytes, Eff,
      escape(L.Plan.Strategy), L.FlashBytes, L.NumSteps, Legend, Svg, Peak,
      Rows, escape(G.name()), kernelTableBytes(G), L.CallerBytes,
      Notes.empty() ? std::string() : "<p>" + escape(Notes) + "</p>\n");
}

} // namespace mote
