//===- io.h - Harness I/O on the MPS3 AN547 board ---------------*- C++ -*-===//
//
// The same Arm semihosting interface as the MPS2 boards (QEMU implements it
// identically for every M-profile core).
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_BOARD_MPS3_IO_H
#define MOTE_BOARD_MPS3_IO_H

#include "board/mps2/semihost.h"

#endif // MOTE_BOARD_MPS3_IO_H
