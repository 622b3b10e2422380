//===- mem.cpp - memcpy/memset/memmove for the MPS3 harness ---------------===//
//
// The portable definitions of the MPS2 board (build with
// -fno-tree-loop-distribute-patterns, as there).
//
//===----------------------------------------------------------------------===//

#include "board/mps2/mem.cpp"
