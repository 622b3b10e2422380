//===- io.h - Harness I/O on the MPS2 boards --------------------*- C++ -*-===//
//
// The board I/O interface every harness includes as board/<board>/io.h
// (mote_board::open/read/write/close/print/printInt/exit). On the MPS2
// boards it is Arm semihosting.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_BOARD_MPS2_IO_H
#define MOTE_BOARD_MPS2_IO_H

#include "board/mps2/semihost.h"

#endif // MOTE_BOARD_MPS2_IO_H
