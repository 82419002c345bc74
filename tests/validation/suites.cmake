# The validation suites: config parsing, verdicts and metrics on constructed adapters.
add_executable(validation_suites_tests ${CMAKE_CURRENT_LIST_DIR}/suites_test.cpp)
target_include_directories(validation_suites_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
target_link_libraries(validation_suites_tests PRIVATE bftgate::validation GTest::gtest_main bftgate_warnings)
gtest_discover_tests(validation_suites_tests DISCOVERY_TIMEOUT 60)

# The suites' verdicts on the real reference adapters: the default model and the adapter suite
# are trained for it (tens of seconds at -O3, cached in the build directory), so only optimised
# builds run it (make test PRESET=release, which CI runs). One test fills the cache (a fixture:
# it runs before the others, beside unrelated tests); the verdict tests then run in parallel.
if(CMAKE_BUILD_TYPE STREQUAL "Release")
  add_executable(validation_verdicts_tests ${CMAKE_CURRENT_LIST_DIR}/verdicts_test.cpp)
  target_link_libraries(validation_verdicts_tests PRIVATE bftgate::validation GTest::gtest_main bftgate_warnings)
  target_compile_definitions(validation_verdicts_tests PRIVATE BFTGATE_VERDICTS_CACHE="${CMAKE_BINARY_DIR}/.cache/bftgate")
  add_test(NAME VerdictsCache.TheModelAndTheAdapterSuiteAreTrainedOrFoundCached
           COMMAND validation_verdicts_tests --gtest_filter=VerdictsCache.*)
  set_tests_properties(VerdictsCache.TheModelAndTheAdapterSuiteAreTrainedOrFoundCached PROPERTIES
                       TIMEOUT 600 LABELS verdicts FIXTURES_SETUP verdicts_cache
                       COST 1000)  # started first, while the short tests fill the other cores
  gtest_discover_tests(validation_verdicts_tests DISCOVERY_TIMEOUT 60 TEST_FILTER VerdictsTest.*
                       PROPERTIES TIMEOUT 300 LABELS verdicts FIXTURES_REQUIRED verdicts_cache)
endif()
