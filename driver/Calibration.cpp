//===- Calibration.cpp - The samples of --calibration ---------------------===//
//
// Reads the calibration data of --quantize int8 (Options.h,
// loadCalibration) into one feed map per sample for the quantize pass
// (passes/Quantize.cpp).
//
//===----------------------------------------------------------------------===//

#include "compiler/Graph.h"
#include "driver/Options.h"
#include "frontends/onnx/OnnxImporter.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <system_error>

namespace fs = std::filesystem;

namespace mote {

namespace {

/// The .pb files of \p Path: the file itself, or a directory's, sorted.
Expected<std::vector<std::string>> calibrationFiles(const std::string &Path) {
  std::error_code EC;
  if (!fs::is_directory(Path, EC)) {
    if (!fs::exists(Path, EC))
      return Diag(
          fmt::format("--calibration '{}': no such file or directory", Path));
    return std::vector<std::string>{Path};
  }
  std::vector<std::string> R;
  for (const fs::directory_entry &E : fs::directory_iterator(Path, EC))
    if (E.is_regular_file() && E.path().extension() == ".pb")
      R.push_back(E.path().string());
  if (EC)
    return Diag(fmt::format("--calibration '{}': {}", Path, EC.message()));
  if (R.empty())
    return Diag(fmt::format("--calibration '{}': the directory has no .pb "
                            "files",
                            Path));
  std::sort(R.begin(), R.end());
  return R;
}

/// The samples \p T (read from \p File) holds for input \p In.
Expected<std::vector<Tensor>> samplesOf(const Tensor &T, const Value &In,
                                        const std::string &File) {
  const TensorType &Want = In.type();
  if (T.dtype() != Want.Elem)
    return Diag(fmt::format("{}: {} data for input '{}' ({})", File,
                            T.type().str(), In.name(), Want.str()));
  const Shape &S = T.shape(), &W = Want.Dims;
  if (S == W)
    return std::vector<Tensor>{T};
  // One sample without the batch dim.
  if (!W.empty() && W[0] == 1 && S == Shape(W.begin() + 1, W.end()))
    return std::vector<Tensor>{T.retyped(Want)};
  // A batch of samples.
  if (!W.empty() && S.size() == W.size() && W[0] > 0 && S[0] % W[0] == 0 &&
      std::equal(S.begin() + 1, S.end(), W.begin() + 1)) {
    std::vector<Tensor> R;
    size_t Bytes = size_t(Want.bytes());
    const std::byte *Raw = T.raw();
    for (int64_t K = 0; K < S[0] / W[0]; ++K) {
      Tensor One(Want);
      std::memcpy(One.raw(), Raw + size_t(K) * Bytes, Bytes);
      R.push_back(std::move(One));
    }
    return R;
  }
  return Diag(fmt::format("{}: shape {} is neither input '{}' {} nor a "
                          "batch of it",
                          File, shapeStr(S), In.name(), shapeStr(W)));
}

} // namespace

Expected<std::vector<std::map<std::string, Tensor>>>
loadCalibration(const Graph &G, const std::vector<std::string> &Specs) {
  std::map<std::string, std::vector<Tensor>> ByInput;
  for (const std::string &Spec : Specs) {
    std::string Name, Path = Spec;
    size_t Eq = Spec.find('=');
    if (Eq != std::string::npos && !G.lookup(Spec)) {
      Name = Spec.substr(0, Eq);
      Path = Spec.substr(Eq + 1);
    } else if (G.inputs().size() == 1) {
      Name = G.inputs()[0]->name();
    } else {
      return usageError(fmt::format(
          "--calibration '{}': the model has {} inputs; say which with "
          "NAME=PATH",
          Spec, G.inputs().size()));
    }
    const Value *In = G.lookup(Name);
    if (!In || !In->isInput())
      return usageError(fmt::format("--calibration '{}': '{}' is not an "
                                    "input of the model",
                                    Spec, Name));
    if (ByInput.count(Name))
      return usageError(
          fmt::format("--calibration: input '{}' is given twice", Name));
    Expected<std::vector<std::string>> Files = calibrationFiles(Path);
    if (!Files)
      return Files.takeError();
    std::vector<Tensor> &Samples = ByInput[Name];
    for (const std::string &F : *Files) {
      Expected<Tensor> T = readTensorFile(F);
      if (!T)
        return T.takeError();
      Expected<std::vector<Tensor>> S = samplesOf(*T, *In, F);
      if (!S)
        return S.takeError();
      for (Tensor &One : *S)
        Samples.push_back(std::move(One));
    }
  }
  size_t Count = 0;
  for (const Value *In : G.inputs()) {
    auto It = ByInput.find(In->name());
    if (It == ByInput.end())
      return usageError(fmt::format("--calibration: no samples for input "
                                    "'{}'",
                                    In->name()));
    if (Count && It->second.size() != Count)
      return Diag(fmt::format("--calibration: input '{}' has {} samples "
                              "but another input {}",
                              In->name(), It->second.size(), Count));
    Count = It->second.size();
  }
  std::vector<std::map<std::string, Tensor>> R(Count);
  for (auto &[Name, Samples] : ByInput)
    for (size_t I = 0; I < Samples.size(); ++I)
      R[I][Name] = std::move(Samples[I]);
  return R;
}

} // namespace mote
