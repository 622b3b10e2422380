//===- startup.cpp - Reset handler and vector table for the MPS2 boards ---===//
//
// Minimal Cortex-M startup for QEMU's mps2-an386 (Cortex-M4) and
// mps2-an500 (Cortex-M7): copy .data from flash, zero .bss, enable the FPU,
// run static initialisers (generated code has none; a harness might), call
// main and exit through semihosting with main's status. Faults also exit
// (status 70) instead of hanging the emulator.
//
//===----------------------------------------------------------------------===//

#include "board/mps2/semihost.h"

#include <stdint.h>

extern "C" {
extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end,
    __stack_top;
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);
int main();

[[noreturn]] void mote_reset_handler() {
  // CPACR: full access to CP10/CP11 (the FPU) before any float instruction.
  volatile uint32_t *CPACR = reinterpret_cast<volatile uint32_t *>(0xE000ED88);
  *CPACR |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
  const uint32_t *Src = &__data_load;
  for (uint32_t *D = &__data_start; D < &__data_end;)
    *D++ = *Src++;
  for (uint32_t *D = &__bss_start; D < &__bss_end;)
    *D++ = 0;
  for (void (**F)(void) = __init_array_start; F < __init_array_end; ++F)
    (*F)();
  mote_board::exit(main());
}

[[noreturn]] void mote_fault_handler() {
  mote_board::print("fault: the program crashed (hard fault)\n");
  mote_board::exit(70);
}

__attribute__((section(".vectors"), used)) void *const mote_vectors[16] = {
    &__stack_top,
    reinterpret_cast<void *>(mote_reset_handler),
    reinterpret_cast<void *>(mote_fault_handler), // NMI
    reinterpret_cast<void *>(mote_fault_handler), // HardFault
    reinterpret_cast<void *>(mote_fault_handler), // MemManage
    reinterpret_cast<void *>(mote_fault_handler), // BusFault
    reinterpret_cast<void *>(mote_fault_handler), // UsageFault
    nullptr, nullptr, nullptr, nullptr,
    reinterpret_cast<void *>(mote_fault_handler), // SVCall
    reinterpret_cast<void *>(mote_fault_handler), // DebugMon
    nullptr,
    reinterpret_cast<void *>(mote_fault_handler), // PendSV
    reinterpret_cast<void *>(mote_fault_handler), // SysTick
};
}
