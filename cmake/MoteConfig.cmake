# MoteConfig.cmake - the mote CMake package: build mote models inside your
# own CMake project.
#
#   find_package(Mote REQUIRED)          # -DCMAKE_PREFIX_PATH=<mote prefix>
#
# Provides:
#
#   Mote::motec               imported executable: the mote compiler driver
#   Mote::runtime_stub        INTERFACE target whose include path is the
#                             runtime-stub root (mote_rt/*.h kernels and the
#                             board/<board>/ glue of the emulated test boards)
#   Mote_MOTEC                path of motec
#   Mote_RUNTIME_STUB_DIR     the runtime-stub root (contains mote_rt/, board/)
#   Mote_TOOLCHAIN_DIR        directory of the toolchain files shipped with mote
#                             (arm-none-eabi.cmake: Cortex-M4, hard float)
#
#   mote_add_model(<target> MODEL <file.onnx>
#                  [NAME <c-identifier>]
#                  [TRAIN]
#                  [UPDATE <rule>...]
#                  [OPTIMIZER sgd|momentum|adam]
#                  [LR <number>]
#                  [TARGET_CPU host|cortex-m4|cortex-m7|cortex-m55|aarch64|hexagon]
#                  [EMIT cpp|obj]
#                  [INPUT_SHAPE <NAME=1x3x96x96>...]
#                  [OUTPUT_DIR <dir>]
#                  [DEPENDS <file>...]
#                  [EXTRA_ARGS <motec argument>...])
#
# Runs `motec compile` at build time and creates the STATIC library <target>
# holding the model's code, with the generated directory (NAME.h and, for
# EMIT cpp, the mote_rt/ headers) on its PUBLIC include path: link it and
# `#include "NAME.h"` (the API: docs/generated-api.md).
#
#   MODEL        the ONNX file (relative paths: to the current source dir).
#                Required.
#   NAME         prefix of the generated symbols and files (NAME.h, NAME_init,
#                NAME_ARENA_BYTES, ...). Default: <target>, which must then
#                be a C identifier.
#   TRAIN        compile a training step (motec --train); default: inference.
#   UPDATE       the sparse update spec, one motec --update per rule
#                ("*.bias", "classifier.*", "features.16.*:0.25"); a list,
#                so UPDATE "*.bias;classifier.*" and UPDATE "*.bias"
#                "classifier.*" are the same. Needs TRAIN. Default: every
#                float parameter trains.
#   OPTIMIZER    sgd (default), momentum or adam. Needs TRAIN.
#   LR           learning rate (default 0.01). Needs TRAIN.
#   TARGET_CPU   the device (motec --target). Decides the object's
#                architecture for EMIT obj; the C++ is the same for every
#                target. Default: ${MOTE_TARGET_CPU} if set (mote's toolchain
#                files set it), else host.
#   EMIT         cpp (default): NAME.cpp is compiled by this project's C++
#                compiler (C++20). obj: mote's LLVM backend writes NAME.o for
#                TARGET_CPU, linked as an external object.
#   INPUT_SHAPE  static shapes for inputs with dynamic dims (--input-shape).
#   OUTPUT_DIR   where motec writes (default ${CMAKE_CURRENT_BINARY_DIR}/mote/<target>).
#   DEPENDS      further files the compile depends on (e.g. external data or
#                an --update-file named in EXTRA_ARGS).
#   EXTRA_ARGS   more motec compile arguments, passed as given (--loss mse,
#                --batch 8, --momentum 0.8, --ram-budget 65536, ...).
#
# The compile re-runs when the model, motec or any option changes. The
# target gets the properties MOTE_OUTPUT_DIR and MOTE_NAME; the memory
# report is MOTE_OUTPUT_DIR/report.json (and report.html).
#
# Example:
#   find_package(Mote REQUIRED)
#   mote_add_model(kws MODEL kws.onnx TRAIN UPDATE "*.bias;classifier.*"
#                  OPTIMIZER sgd LR 0.05)
#   add_executable(app main.cpp)
#   target_link_libraries(app PRIVATE kws)
#
# docs/cmake.md has the full guide (host and Cortex-M4 builds).

if(CMAKE_VERSION VERSION_LESS 3.20)
  message(FATAL_ERROR "the Mote package needs CMake 3.20 or newer")
endif()
# This file's policies (IN_LIST, ...), whatever the including project asks
# for; the functions below keep them.
cmake_policy(PUSH)
cmake_policy(VERSION 3.20...3.25)

# Where things are: from this file's place in an installed prefix
# (<prefix>/lib/cmake/Mote/), unless the build tree's MoteConfig.cmake set
# them before including this file.
if(NOT DEFINED _Mote_MOTEC)
  get_filename_component(_Mote_PREFIX "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
  set(_Mote_MOTEC "${_Mote_PREFIX}/bin/motec")
  set(_Mote_RUNTIME_STUB "${_Mote_PREFIX}/share/mote/runtime-stub")
  set(_Mote_TOOLCHAINS "${CMAKE_CURRENT_LIST_DIR}")
  unset(_Mote_PREFIX)
endif()

if(NOT EXISTS "${_Mote_MOTEC}")
  set(Mote_FOUND FALSE)
  set(Mote_NOT_FOUND_MESSAGE "motec is missing: expected at ${_Mote_MOTEC}")
  cmake_policy(POP)
  return()
endif()

set(Mote_MOTEC "${_Mote_MOTEC}")
set(Mote_RUNTIME_STUB_DIR "${_Mote_RUNTIME_STUB}")
set(Mote_TOOLCHAIN_DIR "${_Mote_TOOLCHAINS}")

if(NOT TARGET Mote::motec)
  add_executable(Mote::motec IMPORTED GLOBAL)
  set_target_properties(Mote::motec PROPERTIES IMPORTED_LOCATION "${Mote_MOTEC}")
endif()
if(NOT TARGET Mote::runtime_stub)
  add_library(Mote::runtime_stub INTERFACE IMPORTED GLOBAL)
  set_target_properties(Mote::runtime_stub PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${Mote_RUNTIME_STUB_DIR}")
endif()

# Writes CONTENT to FILE only when it differs, so the file's time stamp
# changes exactly when the options do (any generator re-runs the compile).
function(_mote_write_if_changed file content)
  if(EXISTS "${file}")
    file(READ "${file}" old)
    if(old STREQUAL content)
      return()
    endif()
  endif()
  file(WRITE "${file}" "${content}")
endfunction()

function(mote_add_model target)
  set(flags TRAIN)
  set(single MODEL NAME OPTIMIZER LR TARGET_CPU EMIT OUTPUT_DIR)
  set(multi UPDATE INPUT_SHAPE EXTRA_ARGS DEPENDS)
  # Not the PARSE_ARGV form: it would keep "a;b" as one UPDATE rule.
  cmake_parse_arguments(arg "${flags}" "${single}" "${multi}" ${ARGN})
  set(where "mote_add_model(${target})")

  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "${where}: unexpected arguments '${arg_UNPARSED_ARGUMENTS}' "
      "(keywords: MODEL NAME TRAIN UPDATE OPTIMIZER LR TARGET_CPU EMIT "
      "INPUT_SHAPE OUTPUT_DIR DEPENDS EXTRA_ARGS)")
  endif()
  foreach(kw IN LISTS arg_KEYWORDS_MISSING_VALUES)
    message(FATAL_ERROR "${where}: ${kw} needs a value")
  endforeach()
  if(TARGET "${target}")
    message(FATAL_ERROR "${where}: a target named '${target}' already exists")
  endif()

  # MODEL: required; an existing file unless a rule of this project makes it.
  if(NOT arg_MODEL)
    message(FATAL_ERROR "${where}: MODEL <file.onnx> is required")
  endif()
  get_filename_component(model "${arg_MODEL}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  get_source_file_property(model_generated "${model}" GENERATED)
  if(NOT EXISTS "${model}" AND NOT model_generated)
    message(FATAL_ERROR "${where}: MODEL file '${model}' does not exist")
  endif()

  # NAME: a C identifier (it prefixes every generated symbol).
  set(name "${target}")
  if(DEFINED arg_NAME)
    set(name "${arg_NAME}")
  endif()
  if(NOT name MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    if(DEFINED arg_NAME)
      message(FATAL_ERROR "${where}: NAME '${name}' is not a C identifier")
    endif()
    message(FATAL_ERROR "${where}: the target name is not a C identifier; "
      "give NAME <c-identifier> for the generated symbols")
  endif()

  # EMIT: cpp or obj.
  set(emit cpp)
  if(DEFINED arg_EMIT)
    set(emit "${arg_EMIT}")
  endif()
  if(NOT emit MATCHES "^(cpp|obj)$")
    message(FATAL_ERROR "${where}: EMIT must be cpp or obj, not '${emit}'")
  endif()
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if(emit STREQUAL "cpp" AND NOT "CXX" IN_LIST languages)
    message(FATAL_ERROR "${where}: EMIT cpp needs the CXX language "
      "(project(... LANGUAGES CXX)); or use EMIT obj")
  endif()

  # TARGET_CPU: a motec target; a cross build needs it for an object.
  set(known_cpus host cortex-m4 cortex-m7 cortex-m55 aarch64 hexagon)
  if(DEFINED arg_TARGET_CPU)
    set(cpu "${arg_TARGET_CPU}")
  elseif(DEFINED MOTE_TARGET_CPU)
    set(cpu "${MOTE_TARGET_CPU}")
  else()
    set(cpu host)
    if(emit STREQUAL "obj" AND CMAKE_CROSSCOMPILING)
      message(FATAL_ERROR "${where}: EMIT obj in a cross build needs "
        "TARGET_CPU (one of: ${known_cpus}); the default, host, is this machine")
    endif()
  endif()
  if(NOT cpu IN_LIST known_cpus)
    string(REPLACE ";" ", " known "${known_cpus}")
    message(FATAL_ERROR "${where}: TARGET_CPU '${cpu}' is not one of: ${known}")
  endif()

  # Training options need TRAIN.
  foreach(kw UPDATE OPTIMIZER LR)
    if(DEFINED arg_${kw} AND NOT arg_TRAIN)
      message(FATAL_ERROR "${where}: ${kw} needs TRAIN (it only applies to a "
        "training step)")
    endif()
  endforeach()
  if(DEFINED arg_OPTIMIZER AND NOT arg_OPTIMIZER MATCHES "^(sgd|momentum|adam)$")
    message(FATAL_ERROR "${where}: OPTIMIZER must be sgd, momentum or adam, "
      "not '${arg_OPTIMIZER}'")
  endif()
  if(DEFINED arg_LR AND NOT arg_LR MATCHES "^([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?$")
    message(FATAL_ERROR "${where}: LR must be a positive number, not '${arg_LR}'")
  endif()
  foreach(rule IN LISTS arg_UPDATE)
    if(rule STREQUAL "")
      message(FATAL_ERROR "${where}: empty UPDATE rule")
    endif()
  endforeach()

  if(DEFINED arg_OUTPUT_DIR)
    get_filename_component(dir "${arg_OUTPUT_DIR}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  else()
    set(dir "${CMAKE_CURRENT_BINARY_DIR}/mote/${target}")
  endif()
  file(MAKE_DIRECTORY "${dir}")

  # The motec command line.
  set(args compile "${model}" -o "${dir}" --name "${name}" --emit "${emit}"
      --target "${cpu}")
  if(arg_TRAIN)
    list(APPEND args --train)
  endif()
  foreach(rule IN LISTS arg_UPDATE)
    list(APPEND args --update "${rule}")
  endforeach()
  if(DEFINED arg_OPTIMIZER)
    list(APPEND args --optimizer "${arg_OPTIMIZER}")
  endif()
  if(DEFINED arg_LR)
    list(APPEND args --lr "${arg_LR}")
  endif()
  foreach(shape IN LISTS arg_INPUT_SHAPE)
    list(APPEND args --input-shape "${shape}")
  endforeach()
  list(APPEND args ${arg_EXTRA_ARGS})

  # The options as a file (rewritten only when they change) that the compile
  # depends on: Ninja re-runs a rule whose command changed by itself, the
  # other generators only see time stamps. (Under Ninja the dependency is
  # left out: projects with old policies would warn about it, CMP0058.)
  set(args_file "${dir}/motec-args.txt")
  string(REPLACE ";" "\n" args_text "${args}")
  _mote_write_if_changed("${args_file}" "${args_text}\n")
  set(args_dep "${args_file}")
  if(CMAKE_GENERATOR MATCHES "Ninja")
    set(args_dep "")
  endif()

  set(header "${dir}/${name}.h")
  if(emit STREQUAL "cpp")
    # NAME.cpp includes its read-only data, NAME.weights, with the
    # assembler's .incbin (found through the include directory below).
    set(code "${dir}/${name}.cpp")
    set(data "${dir}/${name}.weights")
  else()
    set(code "${dir}/${name}.o")
    set(data "")
  endif()
  add_custom_command(
    OUTPUT "${header}" "${code}" ${data}
    BYPRODUCTS "${dir}/report.json" "${dir}/report.html"
    COMMAND Mote::motec ${args}
    DEPENDS "${model}" ${args_dep} "$<TARGET_FILE:Mote::motec>"
            ${arg_DEPENDS}
    COMMENT "mote: compiling ${arg_MODEL} (${name}, ${emit}, ${cpu})"
    VERBATIM)

  if(emit STREQUAL "cpp")
    add_library(${target} STATIC "${code}" "${header}")
    target_compile_features(${target} PRIVATE cxx_std_20)
  else()
    set_source_files_properties("${code}" PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)
    add_library(${target} STATIC "${code}" "${header}")
    if("CXX" IN_LIST languages)
      set_target_properties(${target} PROPERTIES LINKER_LANGUAGE CXX)
    else()
      set_target_properties(${target} PROPERTIES LINKER_LANGUAGE C)
    endif()
  endif()
  target_include_directories(${target} PUBLIC "${dir}")
  set_target_properties(${target} PROPERTIES MOTE_OUTPUT_DIR "${dir}" MOTE_NAME "${name}")
endfunction()

cmake_policy(POP)
