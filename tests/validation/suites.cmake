# The validation suites: config parsing, verdicts and metrics on constructed adapters.
add_executable(validation_suites_tests ${CMAKE_CURRENT_LIST_DIR}/suites_test.cpp)
target_include_directories(validation_suites_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
target_link_libraries(validation_suites_tests PRIVATE bftgate::validation GTest::gtest_main bftgate_warnings)
gtest_discover_tests(validation_suites_tests DISCOVERY_TIMEOUT 60)

# The suites' verdicts on the real reference adapters: the default model and the adapter suite
# are trained for it (about a minute at -O3, cached in the build directory), so only optimised
# builds run it (make test PRESET=release, which CI runs).
if(CMAKE_BUILD_TYPE STREQUAL "Release")
  add_executable(validation_verdicts_tests ${CMAKE_CURRENT_LIST_DIR}/verdicts_test.cpp)
  target_link_libraries(validation_verdicts_tests PRIVATE bftgate::validation GTest::gtest_main bftgate_warnings)
  target_compile_definitions(validation_verdicts_tests PRIVATE BFTGATE_VERDICTS_CACHE="${CMAKE_BINARY_DIR}/.cache/bftgate")
  gtest_discover_tests(validation_verdicts_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600 RUN_SERIAL TRUE LABELS verdicts)
endif()
