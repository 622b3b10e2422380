//===- LlvmEmitter.cpp - Object code from a lowered program via LLVM ------===//
//
// Builds one LLVM module per lowered program (codegen/Program.h): its
// read-only arrays as internal constants, the arena as the functions' first
// argument, and per call
//
//   mote_k_<kernel>_<types>(&params, operands)
//
// with params an internal constant of the kernel's parameter struct (its
// fields in declaration order as i32, float, [N x i32], nested structs and
// pointers to table arrays: the C layout, checked against the library's
// sizeof) and operands an array of arena (or flash) pointers, null for an
// absent optional operand. The kernel library of the target is then linked in
// (only what is called), every kernel entry is marked always-inline so each
// call is specialised on its constant parameters, all but the public API is
// internalised, and the module runs the O2/O3 pipeline and the code
// generator of the target's TargetMachine.
//
//===----------------------------------------------------------------------===//

#include "codegen/llvm/LlvmEmitter.h"
#include "codegen/ApiHeader.h"
#include "codegen/Program.h"
#include "codegen/Targets.h"

#include "llvm-c/Target.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Linker/Linker.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/Transforms/IPO/Internalize.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <mutex>
#include <set>

namespace mote {

std::string kernelEntryName(std::string_view Kernel,
                            std::span<const DType> Types) {
  std::string R = fmt::format("mote_k_{}", Kernel);
  for (DType T : Types) {
    switch (T) {
    case DType::F32: R += "_f32"; break;
    case DType::F64: R += "_f64"; break;
    case DType::I8: R += "_i8"; break;
    case DType::U8: R += "_u8"; break;
    case DType::I32: R += "_i32"; break;
    case DType::I64: R += "_i64"; break;
    case DType::Bool: R += "_b8"; break;
    }
  }
  return R;
}

namespace {

void initializeTargets() {
  static std::once_flag Once;
  std::call_once(Once, [] {
    LLVMInitializeX86TargetInfo();
    LLVMInitializeX86Target();
    LLVMInitializeX86TargetMC();
    LLVMInitializeX86AsmPrinter();
    LLVMInitializeARMTargetInfo();
    LLVMInitializeARMTarget();
    LLVMInitializeARMTargetMC();
    LLVMInitializeARMAsmPrinter();
    LLVMInitializeAArch64TargetInfo();
    LLVMInitializeAArch64Target();
    LLVMInitializeAArch64TargetMC();
    LLVMInitializeAArch64AsmPrinter();
    LLVMInitializeHexagonTargetInfo();
    LLVMInitializeHexagonTarget();
    LLVMInitializeHexagonTargetMC();
    LLVMInitializeHexagonAsmPrinter();
    // Hexagon's code generator puts data and constant-pool entries of up
    // to 8 bytes in a small-data section addressed relative to GP, and
    // ld.lld does not resolve the relocation of 8-byte entries
    // (R_HEX_GPREL16_3, first met with the int64 constants of
    // mote_rt/qlinear.h): no small data, as -G0 gives the C++ path
    // (codegen/Targets.cpp).
    const char *Args[] = {"mote", "-hexagon-small-data-threshold=0"};
    llvm::cl::ParseCommandLineOptions(2, Args);
  });
}

class ObjEmitter {
public:
  ObjEmitter(const LoweredProgram &P, const ObjectEmitOptions &O)
      : P(P), O(O), Name(P.Name) {}

  Expected<std::vector<EmittedFile>> run();

private:
  Diag internal(std::string Msg) const {
    return Diag(fmt::format("--emit obj: target '{}': {}", O.Target->Name, Msg));
  }
  llvm::Type *elemType(DType T);
  /// Alignment of a block copy or fill. Hexagon's code generator turns
  /// aligned copies of 32+ bytes into calls of a compiler-rt helper
  /// (__hexagon_memcpy_likely_aligned_min32bytes_mult8bytes); with
  /// alignment 1 they stay plain memcpy, like on the other targets.
  llvm::MaybeAlign memAlign(uint64_t A) const {
    return llvm::MaybeAlign(Hexagon ? 1 : A);
  }
  llvm::Value *arena(llvm::IRBuilder<> &B, int64_t Offset);
  /// Address of \p R: arena + offset, its read-only array, or null.
  llvm::Value *ptr(llvm::IRBuilder<> &B, const ProgramRef &R);
  void emitConstants();
  llvm::Function *define(std::string_view Suffix, llvm::Type *Ret,
                         std::vector<llvm::Type *> Args);
  /// The constant of a parameter struct with fields \p Fields (its C
  /// layout: i32, float, [N x i32], nested structs).
  llvm::Constant *paramConstant(const std::vector<ParamField> &Fields);
  Status emitNode(llvm::IRBuilder<> &B, const ProgramCall &C);
  /// Emits a call of call \p I's function at \p B, defining the function
  /// (internal, never inlined) the first time. The kernel is inlined into
  /// that function and specialised on its constants there. One step
  /// function holding every kernel inline made the optimizer superlinear in
  /// the model's size (dominator-tree updates: mobilenet_v2's training step
  /// took 49 s to compile, 10 s outlined).
  Status emitNodeCall(llvm::IRBuilder<> &B, int32_t I);
  /// The array of the caller's input pointers in graph-input order, from
  /// the entry's array \p Ptrs of its \p Inputs.
  llvm::Value *inputPointers(llvm::IRBuilder<> &B, llvm::Value *Ptrs,
                             const std::vector<ProgramIo> &Inputs);
  /// Copies \p R to the \p I-th pointer of the array \p Ptrs.
  void copyOut(llvm::IRBuilder<> &B, llvm::Value *Ptrs, size_t I,
               const ProgramRef &R);
  void emitInit();
  Status emitTrainStep();
  Status emitInfer();
  void emitCheckpoint();
  Expected<std::string> optimizeAndEmit(llvm::TargetMachine &TM);

  const LoweredProgram &P;
  const ObjectEmitOptions &O;
  std::string Name;
  bool Hexagon = false;

  llvm::LLVMContext Ctx;
  std::unique_ptr<llvm::Module> Lib, M;
  /// Function attributes of the library (target CPU and features) that the
  /// generated functions share, so the kernels inline into them.
  llvm::AttrBuilder *FnAttrs = nullptr;
  std::unique_ptr<llvm::AttrBuilder> FnAttrsStorage;
  /// The global of each read-only array of the program.
  std::vector<llvm::GlobalVariable *> Flash;
  std::set<std::string> Public;
  /// Per function being emitted: the arena argument, and the array of the
  /// caller's input pointers in graph-input order (ProgramRef::Input).
  llvm::Value *Arena = nullptr;
  llvm::Value *Ins = nullptr;
  int ParamIndex = 0;
  /// Each call's function; the inference entry calls the training step's.
  std::vector<llvm::Function *> NodeFns;
  int NumNodeFns = 0;
};

llvm::Type *ObjEmitter::elemType(DType T) {
  switch (T) {
  case DType::F32: return llvm::Type::getFloatTy(Ctx);
  case DType::F64: return llvm::Type::getDoubleTy(Ctx);
  case DType::I8:
  case DType::U8:
  case DType::Bool: return llvm::Type::getInt8Ty(Ctx);
  case DType::I32: return llvm::Type::getInt32Ty(Ctx);
  case DType::I64: return llvm::Type::getInt64Ty(Ctx);
  }
  return llvm::Type::getInt8Ty(Ctx);
}

llvm::Value *ObjEmitter::arena(llvm::IRBuilder<> &B, int64_t Offset) {
  if (Offset == 0)
    return Arena;
  return B.CreateInBoundsGEP(B.getInt8Ty(), Arena, B.getInt64(uint64_t(Offset)));
}

llvm::Value *ObjEmitter::ptr(llvm::IRBuilder<> &B, const ProgramRef &R) {
  switch (R.K) {
  case ProgramRef::Kind::Arena: return arena(B, R.Offset);
  case ProgramRef::Kind::Constant: return Flash[size_t(R.Constant)];
  case ProgramRef::Kind::Input: {
    llvm::Value *Slot =
        B.CreateConstInBoundsGEP1_64(B.getPtrTy(), Ins, uint64_t(R.Input));
    return B.CreateLoad(B.getPtrTy(), Slot);
  }
  case ProgramRef::Kind::Null: break;
  }
  return llvm::ConstantPointerNull::get(B.getPtrTy());
}

void ObjEmitter::emitConstants() {
  for (const ProgramConstant &C : P.Constants) {
    int64_t N = std::max<int64_t>(C.Elements, 1);
    llvm::Type *E = elemType(C.Elem);
    std::string Bytes(C.bytes());
    Bytes.resize(size_t(N) * dtypeSize(C.Elem), '\0');
    // All targets are little-endian, as the host is: the program's bytes
    // are the target's representation.
    llvm::Constant *Init = llvm::ConstantDataArray::getRaw(Bytes, uint64_t(N), E);
    auto *GV = new llvm::GlobalVariable(
        *M, Init->getType(), /*isConstant=*/true,
        llvm::GlobalValue::InternalLinkage, Init,
        fmt::format("{}_{}", Name, C.Symbol));
    GV->setAlignment(llvm::Align(16));
    Flash.push_back(GV);
  }
}

llvm::Function *ObjEmitter::define(std::string_view Suffix, llvm::Type *Ret,
                                   std::vector<llvm::Type *> Args) {
  std::string FName = fmt::format("{}_{}", Name, Suffix);
  auto *FT = llvm::FunctionType::get(Ret, Args, false);
  auto *F = llvm::Function::Create(FT, llvm::GlobalValue::ExternalLinkage,
                                   FName, *M);
  F->addFnAttrs(*FnAttrs);
  F->addFnAttr(llvm::Attribute::NoUnwind);
  Public.insert(FName);
  llvm::BasicBlock::Create(Ctx, "entry", F);
  return F;
}

Status ObjEmitter::emitNodeCall(llvm::IRBuilder<> &B, int32_t I) {
  llvm::Function *&F = NodeFns[size_t(I)];
  const bool ReadsInputs = P.Calls[size_t(I)].readsInputs();
  if (!F) {
    llvm::Type *PtrTy = llvm::PointerType::get(Ctx, 0);
    std::vector<llvm::Type *> Args = {PtrTy};
    if (ReadsInputs)
      Args.push_back(PtrTy);
    auto *FT = llvm::FunctionType::get(llvm::Type::getVoidTy(Ctx), Args, false);
    F = llvm::Function::Create(FT, llvm::GlobalValue::InternalLinkage,
                               fmt::format("{}_node{}", Name, NumNodeFns++),
                               *M);
    F->addFnAttrs(*FnAttrs);
    F->addFnAttr(llvm::Attribute::NoUnwind);
    F->addFnAttr(llvm::Attribute::NoInline);
    llvm::IRBuilder<> FB(llvm::BasicBlock::Create(Ctx, "entry", F));
    llvm::Value *Outer = Arena, *OuterIns = Ins;
    Arena = F->getArg(0);
    Ins = ReadsInputs ? F->getArg(1) : nullptr;
    Status S = emitNode(FB, P.Calls[size_t(I)]);
    Arena = Outer;
    Ins = OuterIns;
    if (!S)
      return S;
    FB.CreateRetVoid();
  }
  if (ReadsInputs)
    B.CreateCall(F, {Arena, Ins});
  else
    B.CreateCall(F, {Arena});
  return ok();
}

llvm::Value *ObjEmitter::inputPointers(llvm::IRBuilder<> &B,
                                       llvm::Value *Ptrs,
                                       const std::vector<ProgramIo> &Inputs) {
  // The entry's own array when its inputs are the graph's in order (as the
  // C++ emitter decides), else a copy of the pointers in graph order. An
  // input the program places in the arena is copied there.
  bool Same = int32_t(Inputs.size()) == P.GraphInputs;
  for (size_t I = 0; I < Inputs.size(); ++I) {
    const ProgramRef &R = Inputs[I].Ref;
    Same = Same && R.Input == int32_t(I);
    if (R.isInput())
      continue;
    llvm::Value *Src = B.CreateLoad(
        B.getPtrTy(), B.CreateConstInBoundsGEP1_64(B.getPtrTy(), Ptrs, I));
    uint64_t Align = dtypeSize(R.Elem);
    B.CreateMemCpy(ptr(B, R), memAlign(Align), Src, memAlign(Align),
                   uint64_t(R.Bytes));
  }
  if (Same)
    return Ptrs;
  uint64_t N = uint64_t(std::max(P.GraphInputs, 1));
  auto *ArrTy = llvm::ArrayType::get(B.getPtrTy(), N);
  llvm::AllocaInst *Arr = B.CreateAlloca(ArrTy);
  for (uint64_t G = 0; G < N; ++G)
    B.CreateStore(llvm::ConstantPointerNull::get(B.getPtrTy()),
                  B.CreateConstInBoundsGEP2_64(ArrTy, Arr, 0, G));
  for (size_t I = 0; I < Inputs.size(); ++I) {
    if (!Inputs[I].Ref.isInput())
      continue;
    llvm::Value *Src = B.CreateLoad(
        B.getPtrTy(), B.CreateConstInBoundsGEP1_64(B.getPtrTy(), Ptrs, I));
    B.CreateStore(Src, B.CreateConstInBoundsGEP2_64(
                           ArrTy, Arr, 0, uint64_t(Inputs[I].Ref.Input)));
  }
  return Arr;
}

void ObjEmitter::copyOut(llvm::IRBuilder<> &B, llvm::Value *Ptrs, size_t I,
                         const ProgramRef &R) {
  llvm::Value *Slot = B.CreateConstInBoundsGEP1_64(B.getPtrTy(), Ptrs, I);
  llvm::Value *Dst = B.CreateLoad(B.getPtrTy(), Slot);
  uint64_t Align = dtypeSize(R.Elem);
  B.CreateMemCpy(Dst, memAlign(Align), ptr(B, R), memAlign(Align),
                 uint64_t(R.Bytes));
}

llvm::Constant *
ObjEmitter::paramConstant(const std::vector<ParamField> &Fields) {
  std::vector<llvm::Constant *> Cs;
  llvm::Type *I32 = llvm::Type::getInt32Ty(Ctx);
  for (const ParamField &F : Fields) {
    switch (F.K) {
    case ParamField::Kind::I32:
      Cs.push_back(llvm::ConstantInt::get(I32, uint32_t(int32_t(F.I))));
      break;
    case ParamField::Kind::F32:
      Cs.push_back(llvm::ConstantFP::get(llvm::Type::getFloatTy(Ctx),
                                         double(float(F.F))));
      break;
    case ParamField::Kind::I32Array: {
      std::vector<uint32_t> V(size_t(F.Length), 0);
      for (size_t I = 0; I < F.Ints.size() && I < V.size(); ++I)
        V[I] = uint32_t(int32_t(F.Ints[I]));
      Cs.push_back(llvm::ConstantDataArray::get(Ctx, V));
      break;
    }
    case ParamField::Kind::Struct:
      Cs.push_back(paramConstant(F.Fields));
      break;
    case ParamField::Kind::Table:
      Cs.push_back(Flash[size_t(F.Constant)]);
      break;
    }
  }
  return llvm::ConstantStruct::getAnon(Ctx, Cs);
}

Status ObjEmitter::emitNode(llvm::IRBuilder<> &B, const ProgramCall &C) {
  auto Fail = [&](std::string Why) {
    Diag E(std::move(Why));
    E.NodeName = C.NodeName;
    E.OpType = C.OpName;
    return Status(std::move(E));
  };
  std::string Entry = kernelEntryName(C.Kernel, C.TypeArgs);
  std::string MetaName = "mote_m_" + Entry.substr(std::strlen("mote_k_"));
  llvm::GlobalVariable *Meta = Lib->getGlobalVariable(MetaName);
  auto *MetaInit = Meta ? llvm::dyn_cast_or_null<llvm::ConstantDataArray>(
                              Meta->getInitializer())
                        : nullptr;
  bool Known = Lib->getFunction(Entry) && MetaInit;
  if (!Known && !O.EmitIr) {
    std::vector<std::string> TNames;
    for (DType T : C.TypeArgs)
      TNames.emplace_back(dtypeName(T));
    return Fail(fmt::format(
        "--emit obj: the kernel library for target '{}' has no instance "
        "{}<{}> ({}); add it to codegen/llvm/Kernels.def or use --emit cpp",
        O.Target->Name, C.Kernel, fmt::join(TNames, ", "), Entry));
  }
  // The module alone (EmitIr) may call a kernel the library lacks: its
  // arity and struct are then the call's own, unchecked.
  uint64_t Arity = Known ? MetaInit->getElementAsInteger(0) : C.Operands.size();

  // The parameter struct, as an internal constant.
  llvm::Constant *Init = paramConstant(C.Params.Fields);
  auto *ST = llvm::cast<llvm::StructType>(Init->getType());
  uint64_t Bytes = M->getDataLayout().getTypeAllocSize(ST);
  uint64_t ParamBytes = Known ? MetaInit->getElementAsInteger(1) : Bytes;
  if (Bytes != ParamBytes)
    return Fail(fmt::format("internal error: the lowering gives {} bytes of "
                            "parameters, mote_rt::{} takes {} ({})",
                            Bytes, C.Params.Type, ParamBytes, Entry));
  auto *Params = new llvm::GlobalVariable(
      *M, ST, /*isConstant=*/true, llvm::GlobalValue::InternalLinkage,
      Init, fmt::format("{}_p{}", Name, ParamIndex++));
  Params->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
  Params->setAlignment(llvm::Align(4));

  // The operands.
  if (C.Operands.size() > Arity)
    return Fail(fmt::format("internal error: {} operands for {}, which takes {}",
                            C.Operands.size(), Entry, Arity));
  llvm::IRBuilder<> EntryB(&B.GetInsertBlock()->getParent()->getEntryBlock(),
                           B.GetInsertBlock()->getParent()->getEntryBlock().begin());
  auto *ArrTy = llvm::ArrayType::get(B.getPtrTy(), Arity);
  llvm::AllocaInst *Array = EntryB.CreateAlloca(ArrTy);
  for (uint64_t I = 0; I < Arity; ++I) {
    llvm::Value *V = I < C.Operands.size()
                         ? ptr(B, C.Operands[I])
                         : llvm::ConstantPointerNull::get(B.getPtrTy());
    B.CreateStore(V, B.CreateConstInBoundsGEP2_64(ArrTy, Array, 0, I));
  }
  llvm::FunctionCallee Callee = M->getOrInsertFunction(
      Entry, llvm::FunctionType::get(B.getVoidTy(), {B.getPtrTy(), B.getPtrTy()},
                                     false));
  B.CreateCall(Callee, {Params, Array});
  return ok();
}

void ObjEmitter::emitInit() {
  llvm::Function *F = define("init", llvm::Type::getVoidTy(Ctx),
                             {llvm::PointerType::get(Ctx, 0)});
  llvm::IRBuilder<> B(&F->getEntryBlock());
  Arena = F->getArg(0);
  for (const InitStep &S : P.Init) {
    llvm::Value *Dst = ptr(B, S.Dst);
    uint64_t Bytes = uint64_t(S.Dst.Bytes);
    if (S.Constant < 0)
      B.CreateMemSet(Dst, B.getInt8(0), Bytes, memAlign(dtypeSize(S.Dst.Elem)));
    else
      B.CreateMemCpy(Dst, memAlign(dtypeSize(S.Dst.Elem)),
                     Flash[size_t(S.Constant)], memAlign(16), Bytes);
  }
  B.CreateRetVoid();
}

Status ObjEmitter::emitTrainStep() {
  const ProgramEntry &E = *P.Train;
  llvm::Type *PtrTy = llvm::PointerType::get(Ctx, 0);
  llvm::Function *F = define("train_step_v", llvm::Type::getFloatTy(Ctx),
                             {PtrTy, PtrTy});
  llvm::IRBuilder<> B(&F->getEntryBlock());
  Arena = F->getArg(0);
  Ins = inputPointers(B, F->getArg(1), E.Inputs);
  for (const EntryStep &S : E.Steps)
    if (Status St = emitNodeCall(B, S.Index); !St)
      return St;
  const ProgramRef &Loss = E.Outputs[0].Ref;
  DType LT = Loss.Elem;
  llvm::Value *LV = B.CreateLoad(elemType(LT), ptr(B, Loss));
  if (LT == DType::F64)
    LV = B.CreateFPTrunc(LV, B.getFloatTy());
  else if (LT == DType::U8 || LT == DType::Bool)
    LV = B.CreateUIToFP(LV, B.getFloatTy());
  else if (LT != DType::F32)
    LV = B.CreateSIToFP(LV, B.getFloatTy());
  B.CreateRet(LV);

  if (P.TrainTwoArgForm) {
    llvm::Function *F2 = define("train_step", llvm::Type::getFloatTy(Ctx),
                                {PtrTy, PtrTy, PtrTy});
    llvm::IRBuilder<> B2(&F2->getEntryBlock());
    auto *ArrTy = llvm::ArrayType::get(PtrTy, 2);
    llvm::AllocaInst *Ins = B2.CreateAlloca(ArrTy);
    B2.CreateStore(F2->getArg(1), B2.CreateConstInBoundsGEP2_64(ArrTy, Ins, 0, 0));
    B2.CreateStore(F2->getArg(2), B2.CreateConstInBoundsGEP2_64(ArrTy, Ins, 0, 1));
    B2.CreateRet(B2.CreateCall(F, {F2->getArg(0), Ins}));
  }
  return ok();
}

Status ObjEmitter::emitInfer() {
  const ProgramEntry &E = *P.Infer;
  llvm::Type *PtrTy = llvm::PointerType::get(Ctx, 0);
  llvm::Function *F = define("infer_v", llvm::Type::getVoidTy(Ctx),
                             {PtrTy, PtrTy, PtrTy});
  llvm::IRBuilder<> B(&F->getEntryBlock());
  Arena = F->getArg(0);
  Ins = inputPointers(B, F->getArg(1), E.Inputs);
  for (const EntryStep &S : E.Steps) {
    if (S.K == EntryStep::Kind::CopyOut) {
      copyOut(B, F->getArg(2), size_t(S.Index), E.Outputs[size_t(S.Index)].Ref);
      continue;
    }
    if (Status St = emitNodeCall(B, S.Index); !St)
      return St;
  }
  B.CreateRetVoid();

  if (P.InferOneToOneForm) {
    llvm::Function *F2 = define("infer", llvm::Type::getVoidTy(Ctx),
                                {PtrTy, PtrTy, PtrTy});
    llvm::IRBuilder<> B2(&F2->getEntryBlock());
    llvm::AllocaInst *In = B2.CreateAlloca(PtrTy);
    llvm::AllocaInst *Out = B2.CreateAlloca(PtrTy);
    B2.CreateStore(F2->getArg(1), In);
    B2.CreateStore(F2->getArg(2), Out);
    B2.CreateCall(F, {F2->getArg(0), In, Out});
    B2.CreateRetVoid();
  }
  return ok();
}

void ObjEmitter::emitCheckpoint() {
  llvm::Type *PtrTy = llvm::PointerType::get(Ctx, 0);
  for (bool Save : {true, false}) {
    llvm::Function *F = define(Save ? "save" : "load", llvm::Type::getVoidTy(Ctx),
                               {PtrTy, PtrTy});
    llvm::IRBuilder<> B(&F->getEntryBlock());
    Arena = F->getArg(0);
    llvm::Value *Ckpt = F->getArg(1);
    for (const CheckpointEntry &E : P.Checkpoint) {
      llvm::Value *A = arena(B, E.ArenaOffset);
      llvm::Value *C = E.Offset ? B.CreateInBoundsGEP(B.getInt8Ty(), Ckpt,
                                                      B.getInt64(uint64_t(E.Offset)))
                                : Ckpt;
      if (Save)
        B.CreateMemCpy(C, memAlign(1), A, memAlign(1),
                       uint64_t(E.Bytes));
      else
        B.CreateMemCpy(A, memAlign(1), C, memAlign(1),
                       uint64_t(E.Bytes));
    }
    B.CreateRetVoid();
  }
}

Expected<std::string> ObjEmitter::optimizeAndEmit(llvm::TargetMachine &TM) {
  // Link in the kernels the model calls; they become internal and are
  // inlined into every call site (each call specialised on its constants).
  std::unique_ptr<llvm::Module> LibM = std::move(Lib);
  if (llvm::Linker::linkModules(*M, std::move(LibM),
                                llvm::Linker::Flags::LinkOnlyNeeded))
    return internal("linking the kernel library failed");
  for (llvm::Function &F : *M)
    if (!F.isDeclaration() && F.getName().starts_with("mote_k_")) {
      F.removeFnAttr(llvm::Attribute::NoInline);
      F.addFnAttr(llvm::Attribute::AlwaysInline);
    }
  llvm::internalizeModule(*M, [&](const llvm::GlobalValue &GV) {
    return Public.count(GV.getName().str()) != 0;
  });
  std::string VerifyErr;
  llvm::raw_string_ostream VOS(VerifyErr);
  if (llvm::verifyModule(*M, &VOS))
    return internal("the generated module is invalid: " + VOS.str());

  llvm::LoopAnalysisManager LAM;
  llvm::FunctionAnalysisManager FAM;
  llvm::CGSCCAnalysisManager CGAM;
  llvm::ModuleAnalysisManager MAM;
  llvm::PipelineTuningOptions PTO;
  PTO.LoopVectorization = true;
  PTO.SLPVectorization = true;
  PTO.LoopUnrolling = true;
  llvm::PassBuilder PB(&TM, PTO);
  PB.registerModuleAnalyses(MAM);
  PB.registerCGSCCAnalyses(CGAM);
  PB.registerFunctionAnalyses(FAM);
  PB.registerLoopAnalyses(LAM);
  PB.crossRegisterProxies(LAM, FAM, CGAM, MAM);
  llvm::OptimizationLevel Level = O.OptLevel <= 0   ? llvm::OptimizationLevel::O0
                                  : O.OptLevel == 1 ? llvm::OptimizationLevel::O1
                                  : O.OptLevel == 2 ? llvm::OptimizationLevel::O2
                                                    : llvm::OptimizationLevel::O3;
  llvm::ModulePassManager MPM = Level == llvm::OptimizationLevel::O0
                                    ? PB.buildO0DefaultPipeline(Level)
                                    : PB.buildPerModuleDefaultPipeline(Level);
  MPM.run(*M, MAM);

  llvm::SmallVector<char, 0> Obj;
  llvm::raw_svector_ostream OS(Obj);
  llvm::legacy::PassManager CodeGen;
  if (TM.addPassesToEmitFile(CodeGen, OS, nullptr,
                             llvm::CodeGenFileType::ObjectFile))
    return internal("the target cannot emit an object file");
  CodeGen.run(*M);
  return std::string(Obj.begin(), Obj.end());
}

Expected<std::vector<EmittedFile>> ObjEmitter::run() {
  assert(O.Target && "no target");

  const KernelBitcode *KB = nullptr;
  for (const KernelBitcode &K : kernelBitcodes())
    if (K.Target == O.Target->Name)
      KB = &K;
  if (!KB)
    return Diag(fmt::format("--emit obj: target '{}' has no kernel library in "
                            "this build (codegen/llvm/CMakeLists.txt lists "
                            "the targets)",
                            O.Target->Name));
  if (KB->Triple != O.Target->Triple)
    return internal(fmt::format("the kernel library was compiled for {}, the "
                                "target is {}",
                                KB->Triple, O.Target->Triple));
  initializeTargets();
  std::string Err;
  const llvm::Target *T = llvm::TargetRegistry::lookupTarget(
      std::string(O.Target->Triple), Err);
  if (!T)
    return internal(Err);
  llvm::TargetOptions TO;
  if (O.Target->FloatAbi == "hard")
    TO.FloatABIType = llvm::FloatABI::Hard;
  else if (O.Target->FloatAbi == "soft")
    TO.FloatABIType = llvm::FloatABI::Soft;
  llvm::Triple Tr(O.Target->Triple);
  // Hosted (Linux) targets link into position-independent executables.
  std::optional<llvm::Reloc::Model> RM =
      Tr.isOSLinux() ? llvm::Reloc::PIC_ : llvm::Reloc::Static;
  std::unique_ptr<llvm::TargetMachine> TM(T->createTargetMachine(
      Tr.str(), std::string(O.Target->Cpu), std::string(O.Target->Features), TO,
      RM, std::nullopt,
      O.OptLevel >= 3   ? llvm::CodeGenOptLevel::Aggressive
      : O.OptLevel <= 0 ? llvm::CodeGenOptLevel::None
                        : llvm::CodeGenOptLevel::Default));
  if (!TM)
    return internal("LLVM cannot create a target machine");

  llvm::StringRef Bytes(reinterpret_cast<const char *>(KB->Begin),
                        size_t(KB->End - KB->Begin));
  llvm::Expected<std::unique_ptr<llvm::Module>> LibOr = llvm::parseBitcodeFile(
      llvm::MemoryBufferRef(Bytes, fmt::format("kernels-{}.bc", KB->Target)), Ctx);
  if (!LibOr)
    return internal("cannot read the kernel library: " +
                    llvm::toString(LibOr.takeError()));
  Lib = std::move(*LibOr);
  if (!Lib->getDataLayout().isLittleEndian())
    return internal("big-endian targets are not supported");

  Hexagon = Tr.getArch() == llvm::Triple::hexagon;
  M = std::make_unique<llvm::Module>(Name, Ctx);
  M->setTargetTriple(Lib->getTargetTriple());
  M->setDataLayout(Lib->getDataLayout());
  // The generated functions get the library's target attributes.
  FnAttrsStorage = std::make_unique<llvm::AttrBuilder>(Ctx);
  FnAttrs = FnAttrsStorage.get();
  for (llvm::Function &F : *Lib)
    if (!F.isDeclaration() && F.getName().starts_with("mote_k_")) {
      for (const char *A : {"target-cpu", "target-features", "tune-cpu",
                            "no-builtins", "frame-pointer"})
        if (F.hasFnAttribute(A))
          FnAttrs->addAttribute(F.getFnAttribute(A));
      break;
    }

  NodeFns.assign(P.Calls.size(), nullptr);
  emitConstants();
  emitInit();
  if (P.Train)
    if (Status S = emitTrainStep(); !S)
      return S.takeError();
  if (P.Infer)
    if (Status S = emitInfer(); !S)
      return S.takeError();
  emitCheckpoint();
  if (O.EmitIr) {
    // The module as mote builds it, before the kernel library is linked in
    // and anything is optimised: what the golden tests check.
    std::string Text;
    llvm::raw_string_ostream OS(Text);
    M->print(OS, nullptr);
    return std::vector<EmittedFile>{{Name + ".h", emitApiHeader(P)},
                                    {Name + ".ll", std::move(Text)}};
  }

  Expected<std::string> Obj = optimizeAndEmit(*TM);
  if (!Obj)
    return Obj.takeError();
  return std::vector<EmittedFile>{{Name + ".h", emitApiHeader(P)},
                                  {Name + ".o", std::move(*Obj)}};
}

} // namespace

Expected<std::vector<EmittedFile>> emitObject(const LoweredProgram &P,
                                              const ObjectEmitOptions &O) {
  return ObjEmitter(P, O).run();
}

} // namespace mote
