# arm-none-eabi.cmake - CMake toolchain file for Arm Cortex-M4 with the FPU
# (hard float, FPv4-SP-D16), using the GNU Arm embedded compilers
# (Debian: gcc-arm-none-eabi).
#
#   cmake -S app -B build-m4 \
#     -DCMAKE_TOOLCHAIN_FILE=<mote prefix>/lib/cmake/Mote/arm-none-eabi.cmake \
#     -DCMAKE_PREFIX_PATH=<mote prefix>
#
# Bare metal (CMAKE_SYSTEM_NAME Generic): nothing is assumed about a C
# library or startup code, so CMake's compiler checks build a static library
# instead of linking a program. The application supplies its startup code,
# linker script and link options (mote's board/mps2 files are one example:
# docs/cmake.md). Sets MOTE_TARGET_CPU to cortex-m4, the default TARGET_CPU
# of mote_add_model().

set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)

# No C library or startup code is assumed: compiler checks do not link.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# The CPU and float ABI, for every compile and link (CMake passes the
# language flags to the link step too, which picks the matching multilib
# libgcc).
set(_mote_m4_flags "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16")
set(CMAKE_C_FLAGS_INIT "${_mote_m4_flags}")
set(CMAKE_CXX_FLAGS_INIT "${_mote_m4_flags}")
set(CMAKE_ASM_FLAGS_INIT "${_mote_m4_flags}")
unset(_mote_m4_flags)

# Programs (motec, python) run on the build machine; libraries and headers
# come from the project or the toolchain's own defaults.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

# What mote_add_model() compiles for when TARGET_CPU is not given.
set(MOTE_TARGET_CPU cortex-m4)
