//===- check.h - Arena bounds checking for generated code -------*- C++ -*-===//
//
// Generated code compiled by `motec compile --check-bounds` wraps every
// kernel call in an ArenaGuard: before the call, the whole arena is made
// unaddressable with AddressSanitizer's manual poisoning, except the planned
// byte range of each operand of the call; after it, the arena is addressable
// again. A kernel that touches arena bytes outside its own operands (an
// out-of-bounds index, a wrong stride, a planner overlap the kernel
// overruns) stops with an ASan "use-after-poison" report naming the address.
// The model's read-only data (NAME.weights, one block) gets a DataGuard the
// same way: during a call only the arrays it reads (its operands and its
// parameters' tables) are addressable, so reading past a weight array stops
// too; writing one faults, since it is in a read-only section.
//
// A debugging mode for hosts with AddressSanitizer only: firmware never
// includes this header.
//
//===----------------------------------------------------------------------===//

#ifndef MOTE_RT_CHECK_H
#define MOTE_RT_CHECK_H

#include "mote_rt/core.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MOTE_RT_HAS_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MOTE_RT_HAS_ASAN 1
#endif
#if !defined(MOTE_RT_HAS_ASAN)
#error "code generated with --check-bounds must be built with -fsanitize=address"
#endif

extern "C" void __asan_poison_memory_region(void const volatile *Addr,
                                            size_t Size);
extern "C" void __asan_unpoison_memory_region(void const volatile *Addr,
                                              size_t Size);

namespace mote_rt {

/// The planned bytes [Offset, Offset + Bytes) of one operand in the arena.
struct ArenaRange {
  int32_t Offset;
  int32_t Bytes;
};

/// Poisons the arena except \p Ranges for the lifetime of the guard.
/// Offsets are multiples of the arena alignment (16), which ASan's 8-byte
/// shadow granules need; a range's end may fall inside a granule.
class ArenaGuard {
public:
  template <int N>
  ArenaGuard(unsigned char *Arena, int32_t ArenaBytes,
             const ArenaRange (&Ranges)[N])
      : Arena(Arena), ArenaBytes(ArenaBytes) {
    __asan_poison_memory_region(Arena, size_t(ArenaBytes));
    for (int I = 0; I < N; ++I)
      if (Ranges[I].Bytes > 0)
        __asan_unpoison_memory_region(Arena + Ranges[I].Offset,
                                      size_t(Ranges[I].Bytes));
  }
  ~ArenaGuard() { __asan_unpoison_memory_region(Arena, size_t(ArenaBytes)); }
  ArenaGuard(const ArenaGuard &) = delete;
  ArenaGuard &operator=(const ArenaGuard &) = delete;

private:
  unsigned char *Arena;
  int32_t ArenaBytes;
};

/// The bytes [Begin, Begin + Bytes) of one read-only array a call reads.
struct DataRange {
  const void *Begin;
  int32_t Bytes;
};

/// Poisons the read-only data [Begin, End) except \p Ranges for the
/// lifetime of the guard. Arrays start 16-byte aligned.
class DataGuard {
public:
  template <int N>
  DataGuard(const unsigned char *Begin, const unsigned char *End,
            const DataRange (&Ranges)[N])
      : Begin(Begin), Bytes(size_t(End - Begin)) {
    __asan_poison_memory_region(Begin, Bytes);
    for (int I = 0; I < N; ++I)
      if (Ranges[I].Bytes > 0)
        __asan_unpoison_memory_region(Ranges[I].Begin, size_t(Ranges[I].Bytes));
  }
  ~DataGuard() { __asan_unpoison_memory_region(Begin, Bytes); }
  DataGuard(const DataGuard &) = delete;
  DataGuard &operator=(const DataGuard &) = delete;

private:
  const unsigned char *Begin;
  size_t Bytes;
};

} // namespace mote_rt

#endif // MOTE_RT_CHECK_H
