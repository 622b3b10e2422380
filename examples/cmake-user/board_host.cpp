//===- board_host.cpp - The example's console on a hosted system ----------===//

#include "board.h"

#include <cstdio>

void boardPrint(const char *S) { std::fputs(S, stdout); }
