# The safetensors reader/writer and the PEFT adapter format; fixtures/ holds files written by an
# independent Python script (make_fixture.py), so the reader is checked against bytes it did not write.
add_executable(validation_io_tests
  ${CMAKE_CURRENT_LIST_DIR}/safetensors_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/safetensors_malformed_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/half_float_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/peft_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/peft_refusal_test.cpp
)
target_include_directories(validation_io_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
target_link_libraries(validation_io_tests PRIVATE bftgate::validation GTest::gtest_main bftgate_warnings)
target_compile_definitions(validation_io_tests
  PRIVATE BFTGATE_IO_FIXTURES="${CMAKE_CURRENT_LIST_DIR}/fixtures")
gtest_discover_tests(validation_io_tests DISCOVERY_TIMEOUT 60)

# The external validation command (validation/external_command.hpp): output, exit codes,
# timeouts and cancellation of whole process groups.
add_executable(validation_command_tests ${CMAKE_CURRENT_LIST_DIR}/external_command_test.cpp)
target_include_directories(validation_command_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
target_link_libraries(validation_command_tests
  PRIVATE bftgate::validation GTest::gtest_main bftgate_warnings)
gtest_discover_tests(validation_command_tests DISCOVERY_TIMEOUT 60)
