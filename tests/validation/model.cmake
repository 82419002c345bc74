# The tiny LM, its training (backprop, LoRA), scoring, model files and the adapter-suite builders.
add_executable(validation_model_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/model_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/training_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/adapter_suite_test.cpp
)
target_include_directories(validation_model_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
target_link_libraries(validation_model_tests PRIVATE bftgate::validation GTest::gtest_main bftgate_warnings)
gtest_discover_tests(validation_model_tests DISCOVERY_TIMEOUT 60)
