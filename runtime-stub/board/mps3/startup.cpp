//===- startup.cpp - Reset handler and vectors for the MPS3 AN547 board ---===//
//
// The Cortex-M55 starts like the MPS2 cores (Secure state, vector table at
// address 0, FPU and MVE enabled through CPACR): the MPS2 startup serves
// unchanged; only the memory map (link.ld) differs.
//
//===----------------------------------------------------------------------===//

#include "board/mps2/startup.cpp"
