//===- mem.cpp - memcpy/memset/memmove for freestanding Linux programs ----===//
//
// No C library is linked; compilers may still emit calls to these. The
// portable definitions of the MPS2 board serve unchanged.
//
//===----------------------------------------------------------------------===//

#include "board/mps2/mem.cpp"
