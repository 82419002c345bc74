# The instruction set the C and C++ code is compiled for. On x86-64, the x86-64-v3 level (AVX2,
# FMA, BMI2: every x86-64 server CPU since about 2015) lets Eigen multiply with 8-float FMA
# instead of 4-float SSE2: the tiny model's training and the suites' scoring run about 2.4 times
# faster (make run's first use measures it). Every target gets the same level, so that Eigen's
# alignment and inlined code agree between the libraries and the precompiled header.
#
# AUTO (the default) uses it when the compiler accepts it and this machine's CPU has it: the
# binaries run where they were built. Set BFTGATE_X86_64_V3=OFF for binaries that must also run
# on older x86-64 CPUs.
set(BFTGATE_X86_64_V3 AUTO CACHE STRING
    "Compile for x86-64-v3 (AVX2, FMA): AUTO (when this CPU has it), ON or OFF")
set_property(CACHE BFTGATE_X86_64_V3 PROPERTY STRINGS AUTO ON OFF)

set(bftgate_v3 OFF)
set(bftgate_v3_reason "BFTGATE_X86_64_V3=OFF")
if(BFTGATE_X86_64_V3 STREQUAL "ON")
  set(bftgate_v3 ON)
  set(bftgate_v3_reason "BFTGATE_X86_64_V3=ON")
elseif(BFTGATE_X86_64_V3 STREQUAL "AUTO")
  include(CheckCXXCompilerFlag)
  include(CheckCXXSourceRuns)
  if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    set(bftgate_v3_reason "not an x86-64 machine (${CMAKE_SYSTEM_PROCESSOR})")
  else()
    check_cxx_compiler_flag(-march=x86-64-v3 BFTGATE_COMPILER_HAS_X86_64_V3)
    check_cxx_source_runs([[
      int main() {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                       __builtin_cpu_supports("bmi2")
                   ? 0
                   : 1;
      }]] BFTGATE_CPU_HAS_X86_64_V3)
    if(NOT BFTGATE_COMPILER_HAS_X86_64_V3)
      set(bftgate_v3_reason "the compiler does not accept -march=x86-64-v3")
    elseif(NOT BFTGATE_CPU_HAS_X86_64_V3)
      set(bftgate_v3_reason "this CPU lacks AVX2, FMA or BMI2")
    else()
      set(bftgate_v3 ON)
      set(bftgate_v3_reason "this CPU has AVX2, FMA and BMI2 (BFTGATE_X86_64_V3=OFF for older CPUs)")
    endif()
  endif()
elseif(NOT BFTGATE_X86_64_V3 STREQUAL "OFF")
  message(FATAL_ERROR "BFTGATE_X86_64_V3=${BFTGATE_X86_64_V3}: AUTO, ON or OFF")
endif()

if(bftgate_v3)
  add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:-march=x86-64-v3>)
  message(STATUS "bftgate: compiling for x86-64-v3: ${bftgate_v3_reason}")
else()
  message(STATUS "bftgate: compiling for the compiler's default x86-64 level: ${bftgate_v3_reason}")
endif()
