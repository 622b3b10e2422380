//===- board_mps2.cpp - The example's console on the MPS2 boards ----------===//
//
// Arm semihosting (QEMU: -semihosting-config enable=on,target=native), from
// mote's board glue; the board's startup code exits with main's status.
//
//===----------------------------------------------------------------------===//

#include "board.h"

#include "board/mps2/io.h"

void boardPrint(const char *S) { mote_board::print(S); }
