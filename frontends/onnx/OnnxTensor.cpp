//===- OnnxTensor.cpp - TensorProto <-> Tensor ----------------------------===//
//
// Conversion of ONNX TensorProto (initializers, Constant values, .pb test
// data) to mote tensors and back. Every size is checked before anything is
// allocated or copied: a hostile file gets an error, never a crash.
//
//===----------------------------------------------------------------------===//

#include "frontends/onnx/OnnxImporter.h"
#include "frontends/onnx/OnnxUtil.h"

#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <onnx/onnx_pb.h>

namespace fs = std::filesystem;

namespace mote {

std::optional<DType> dtypeFromOnnx(int T) {
  switch (T) {
  case onnx::TensorProto::FLOAT: return DType::F32;
  case onnx::TensorProto::DOUBLE: return DType::F64;
  case onnx::TensorProto::INT8: return DType::I8;
  case onnx::TensorProto::UINT8: return DType::U8;
  case onnx::TensorProto::INT32: return DType::I32;
  case onnx::TensorProto::INT64: return DType::I64;
  case onnx::TensorProto::BOOL: return DType::Bool;
  default: return std::nullopt;
  }
}

int dtypeToOnnx(DType T) {
  switch (T) {
  case DType::F32: return onnx::TensorProto::FLOAT;
  case DType::F64: return onnx::TensorProto::DOUBLE;
  case DType::I8: return onnx::TensorProto::INT8;
  case DType::U8: return onnx::TensorProto::UINT8;
  case DType::I32: return onnx::TensorProto::INT32;
  case DType::I64: return onnx::TensorProto::INT64;
  case DType::Bool: return onnx::TensorProto::BOOL;
  }
  return onnx::TensorProto::UNDEFINED;
}

std::string onnxDTypeName(int T) {
  if (onnx::TensorProto_DataType_IsValid(T))
    return onnx::TensorProto_DataType_Name(
        static_cast<onnx::TensorProto_DataType>(T));
  return fmt::format("type {}", T);
}

namespace {

/// Reads the external data of \p P from a file inside \p BaseDir.
Expected<std::string> readExternal(const onnx::TensorProto &P,
                                   const std::string &BaseDir) {
  std::string Location;
  int64_t Offset = 0, Length = -1;
  for (const auto &KV : P.external_data()) {
    try {
      if (KV.key() == "location")
        Location = KV.value();
      else if (KV.key() == "offset")
        Offset = std::stoll(KV.value());
      else if (KV.key() == "length")
        Length = std::stoll(KV.value());
    } catch (const std::exception &) {
      return Diag(fmt::format("tensor '{}': external data {} '{}' is not a "
                              "number",
                              P.name(), KV.key(), KV.value()));
    }
  }
  if (Location.empty())
    return Diag(fmt::format("tensor '{}': external data has no location",
                            P.name()));
  fs::path Rel(Location);
  if (Rel.is_absolute() || Location.find("..") != std::string::npos)
    return Diag(fmt::format("tensor '{}': external data location '{}' points "
                            "outside the model directory; refusing to read it",
                            P.name(), Location));
  std::error_code EC;
  fs::path Base = fs::weakly_canonical(BaseDir.empty() ? "." : BaseDir, EC);
  fs::path Full = fs::weakly_canonical(Base / Rel, EC);
  if (EC)
    return Diag(fmt::format("tensor '{}': cannot resolve external data '{}'",
                            P.name(), Location));
  auto [BEnd, FIt] = std::mismatch(Base.begin(), Base.end(), Full.begin(),
                                   Full.end());
  if (BEnd != Base.end())
    return Diag(fmt::format("tensor '{}': external data location '{}' points "
                            "outside the model directory; refusing to read it",
                            P.name(), Location));
  std::ifstream In(Full, std::ios::binary);
  if (!In)
    return Diag(fmt::format("tensor '{}': cannot open external data file "
                            "'{}'",
                            P.name(), Full.string()));
  In.seekg(0, std::ios::end);
  int64_t Size = In.tellg();
  if (Offset < 0 || Offset > Size)
    return Diag(fmt::format("tensor '{}': external data offset {} is outside "
                            "'{}' ({} bytes)",
                            P.name(), Offset, Location, Size));
  if (Length < 0)
    Length = Size - Offset;
  if (Length > Size - Offset)
    return Diag(fmt::format("tensor '{}': external data needs {} bytes at "
                            "offset {} but '{}' has {}",
                            P.name(), Length, Offset, Location, Size));
  std::string Buf(size_t(Length), '\0');
  In.seekg(Offset);
  In.read(Buf.data(), Length);
  return Buf;
}

template <class Src>
void copyTyped(Tensor &T, const Src &Field) {
  for (int64_t I = 0; I < T.numElements(); ++I)
    T.setFromDouble(I, double(Field.Get(int(I))));
}

} // namespace

Expected<Tensor> tensorFromProto(const onnx::TensorProto &P,
                                 const std::string &BaseDir) {
  std::optional<DType> DT = dtypeFromOnnx(P.data_type());
  if (!DT)
    return Diag(fmt::format("tensor '{}' has element type {}, which mote does "
                            "not support",
                            P.name(), onnxDTypeName(P.data_type())));
  if (P.has_segment())
    return Diag(fmt::format("tensor '{}' is segmented; segmented tensors are "
                            "not supported",
                            P.name()));
  Shape Dims(P.dims().begin(), P.dims().end());
  TensorType Type(*DT, Dims);
  if (!Type.isValid())
    return Diag(fmt::format("tensor '{}' has invalid dims {} (negative or too "
                            "large)",
                            P.name(), shapeStr(Dims)));
  int64_t N = Type.numElements();
  int64_t Bytes = Type.bytes();
  std::string External;
  const std::string *Raw = nullptr;
  if (P.data_location() == onnx::TensorProto::EXTERNAL) {
    Expected<std::string> E = readExternal(P, BaseDir);
    if (!E)
      return E.takeError();
    External = std::move(*E);
    Raw = &External;
  } else if (P.has_raw_data()) {
    Raw = &P.raw_data();
  }
  if (Raw) {
    if (int64_t(Raw->size()) != Bytes)
      return Diag(fmt::format("tensor '{}' has {} bytes of data but {} needs "
                              "{}",
                              P.name(), Raw->size(), Type.str(), Bytes));
    Tensor T(Type);
    if (*DT == DType::Bool) {
      // Any non-zero byte is true; never copy bytes into a bool directly.
      for (int64_t I = 0; I < N; ++I)
        T.data<bool>()[size_t(I)] = (*Raw)[size_t(I)] != 0;
    } else {
      std::memcpy(T.raw(), Raw->data(), size_t(Bytes));
    }
    return T;
  }
  auto Mismatch = [&](int64_t Got) {
    return Diag(fmt::format("tensor '{}' has {} values but {} needs {}",
                            P.name(), Got, Type.str(), N));
  };
  Tensor T(Type);
  switch (*DT) {
  case DType::F32:
    if (P.float_data_size() != N)
      return Mismatch(P.float_data_size());
    copyTyped(T, P.float_data());
    break;
  case DType::F64:
    if (P.double_data_size() != N)
      return Mismatch(P.double_data_size());
    copyTyped(T, P.double_data());
    break;
  case DType::I64:
    if (P.int64_data_size() != N)
      return Mismatch(P.int64_data_size());
    for (int64_t I = 0; I < N; ++I)
      T.data<int64_t>()[size_t(I)] = P.int64_data(int(I));
    break;
  case DType::I8:
  case DType::U8:
  case DType::I32:
  case DType::Bool:
    if (P.int32_data_size() != N)
      return Mismatch(P.int32_data_size());
    copyTyped(T, P.int32_data());
    break;
  }
  return T;
}

Expected<Tensor> readTensorFile(const std::string &Path) {
  std::ifstream In(Path, std::ios::binary);
  if (!In)
    return Diag(fmt::format("{}: cannot open file", Path));
  std::string Bytes((std::istreambuf_iterator<char>(In)),
                    std::istreambuf_iterator<char>());
  onnx::TensorProto P;
  if (!P.ParseFromString(Bytes))
    return Diag(fmt::format("{}: not a serialized ONNX TensorProto", Path));
  Expected<Tensor> T = tensorFromProto(P, fs::path(Path).parent_path());
  if (!T)
    T.error().inFile(Path);
  return T;
}

Status writeTensorFile(const std::string &Path, const Tensor &T,
                       const std::string &Name) {
  onnx::TensorProto P;
  P.set_name(Name);
  P.set_data_type(dtypeToOnnx(T.dtype()));
  for (int64_t D : T.shape())
    P.add_dims(D);
  P.set_raw_data(std::string(reinterpret_cast<const char *>(T.raw()),
                             T.byteSize()));
  std::ofstream Out(Path, std::ios::binary);
  if (!Out || !P.SerializeToOstream(&Out))
    return Diag(fmt::format("{}: cannot write file", Path));
  return ok();
}

} // namespace mote
