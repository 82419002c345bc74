# One precompiled header for every C++ target of a GCC build: the third-party headers that most
# translation units parse (nlohmann-json, fmt, spdlog, Boost.Asio's core, cppzmq and the common
# standard headers) are compiled once, by the target bftgate_pch, and every other C++ target
# reuses that (REUSE_FROM); the test targets reuse bftgate_test_pch, the same plus GoogleTest.
# Parsing them took 2-4 CPU-s in each translation unit at -O3; loading the precompiled form takes
# about 1 (make compile-times measures it).
#
# GCC uses a precompiled header only where the macros it was made with are defined the same way,
# so the packages' own compile definitions (read from their CMake targets, not written here)
# apply to every project target. Clang (the fuzz preset) builds without it.
option(BFTGATE_PCH "Precompile the common third-party headers once for every target (GCC only)"
       ON)

# Call before the targets are made (the definitions are per directory).
macro(bftgate_pch_definitions)
  if(BFTGATE_PCH AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    foreach(package IN ITEMS fmt::fmt spdlog::spdlog nlohmann_json::nlohmann_json cppzmq
                             Boost::headers)
      get_target_property(package_definitions ${package} INTERFACE_COMPILE_DEFINITIONS)
      if(package_definitions)
        add_compile_definitions(${package_definitions})
      endif()
    endforeach()
  endif()
endmacro()

# Every C++ target under `directory`, recursively.
function(bftgate_cxx_targets directory out)
  get_property(targets DIRECTORY ${directory} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirectories DIRECTORY ${directory} PROPERTY SUBDIRECTORIES)
  foreach(subdirectory IN LISTS subdirectories)
    bftgate_cxx_targets(${subdirectory} more)
    list(APPEND targets ${more})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

# Call after every target is made.
function(bftgate_pch_everywhere)
  if(NOT BFTGATE_PCH OR NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    message(STATUS "bftgate: no precompiled header (BFTGATE_PCH=${BFTGATE_PCH}, "
                   "${CMAKE_CXX_COMPILER_ID})")
    return()
  endif()
  add_library(bftgate_pch STATIC ${PROJECT_SOURCE_DIR}/cmake/pch.cpp)
  # With the project's warning flags: -Wpedantic changes the predefined macros.
  target_link_libraries(bftgate_pch PRIVATE fmt::fmt spdlog::spdlog nlohmann_json::nlohmann_json
                                            cppzmq Boost::headers bftgate_warnings)
  set(common_headers
    <algorithm> <chrono> <cstdint> <filesystem> <functional> <map> <memory> <optional> <set>
    <string> <string_view> <vector>
    <nlohmann/json.hpp> <fmt/format.h> <spdlog/spdlog.h> <zmq.hpp>
    <boost/asio/io_context.hpp> <boost/asio/steady_timer.hpp>)
  target_precompile_headers(bftgate_pch PRIVATE ${common_headers})
  set_target_properties(bftgate_pch PROPERTIES UNITY_BUILD OFF)
  # The test targets reuse a second one that adds GoogleTest, which every test file includes.
  set(test_donor "")
  if(TARGET GTest::gtest)
    set(test_donor bftgate_test_pch)
    add_library(bftgate_test_pch STATIC ${PROJECT_SOURCE_DIR}/cmake/pch.cpp)
    target_link_libraries(bftgate_test_pch PRIVATE fmt::fmt spdlog::spdlog
                          nlohmann_json::nlohmann_json cppzmq Boost::headers GTest::gtest
                          bftgate_warnings)
    target_precompile_headers(bftgate_test_pch PRIVATE ${common_headers} <gtest/gtest.h>)
    set_target_properties(bftgate_test_pch PROPERTIES UNITY_BUILD OFF)
  endif()
  bftgate_cxx_targets(${PROJECT_SOURCE_DIR} targets)
  set(count 0)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(target MATCHES "^bftgate_(test_)?pch$" OR NOT type MATCHES
                                            "^(EXECUTABLE|STATIC_LIBRARY|SHARED_LIBRARY|OBJECT_LIBRARY)$")
      continue()
    endif()
    get_target_property(sources ${target} SOURCES)
    list(FILTER sources INCLUDE REGEX "\\.(cpp|cc|cxx)$")
    if(NOT sources)
      continue()
    endif()
    get_target_property(links ${target} LINK_LIBRARIES)
    if(test_donor AND links MATCHES "GTest::")
      target_precompile_headers(${target} REUSE_FROM ${test_donor})
    else()
      target_precompile_headers(${target} REUSE_FROM bftgate_pch)
    endif()
    math(EXPR count "${count} + 1")
  endforeach()
  message(STATUS "bftgate: precompiled headers for ${count} C++ targets (the tests' with GoogleTest)")
endfunction()
