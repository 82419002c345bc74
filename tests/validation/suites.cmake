# The validation suites: config parsing, verdicts and metrics on constructed adapters.
add_executable(validation_suites_tests ${CMAKE_CURRENT_LIST_DIR}/suites_test.cpp)
target_include_directories(validation_suites_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
target_link_libraries(validation_suites_tests PRIVATE bftgate::validation GTest::gtest_main bftgate_warnings)
gtest_discover_tests(validation_suites_tests DISCOVERY_TIMEOUT 60)
