//===- start.cpp - Entry point of static freestanding Linux programs ------===//
//
// The kernel (QEMU user mode) enters _start with an aligned stack, .bss
// already zeroed and no C library to initialise: run static initialisers
// (generated code has none; a harness might), call main, exit with its
// status.
//
//===----------------------------------------------------------------------===//

#include "board/linux/io.h"

// Declared outside extern "C": with -ffreestanding clang treats main as an
// ordinary (mangled) function, g++ never mangles it; this declaration
// matches the harness's definition either way.
int main();

extern "C" {
extern void (*__init_array_start[])(void) __attribute__((weak));
extern void (*__init_array_end[])(void) __attribute__((weak));

[[noreturn]] __attribute__((used)) void _start() {
  for (void (**F)(void) = __init_array_start; F < __init_array_end; ++F)
    (*F)();
  mote_board::exit(main());
}
}
