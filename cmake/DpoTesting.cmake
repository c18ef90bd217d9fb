# dpo_add_test(NAME name LABEL unit|integration|mpi|gpu SOURCES ... [LIBRARIES ...] [NO_TORCH])
# One GoogleTest executable per area. A unit executable is one CTest test (its TESTs take
# milliseconds, while starting a LibTorch process takes ~0.9 s: one process per TEST made up
# most of the suite's time); in the other labels each TEST becomes one CTest test, so that the
# slow ones run in parallel and report alone. Failing TESTs are named in the output either way.
# NO_TORCH: the tested libraries do not use LibTorch (no precompiled LibTorch header).
include(GoogleTest)

function(dpo_add_test)
  cmake_parse_arguments(ARG "NO_TORCH" "NAME;LABEL" "SOURCES;LIBRARIES" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBRARIES} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${ARG_NAME} PRIVATE
    DPO_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    DPO_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures"
    DPO_BINARY_DIR="${CMAKE_BINARY_DIR}/bin")
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/tests")
  dpo_set_warnings(${ARG_NAME})
  if(NOT ARG_NO_TORCH)
    dpo_use_torch_pch(${ARG_NAME})
  endif()
  set(environment "OMP_NUM_THREADS=1;OPENBLAS_NUM_THREADS=1")
  if(ARG_LABEL STREQUAL "unit")
    add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME} --gtest_brief=1)
    set_tests_properties(${ARG_NAME} PROPERTIES LABELS ${ARG_LABEL} ENVIRONMENT "${environment}")
  else()
    gtest_discover_tests(${ARG_NAME}
      DISCOVERY_MODE PRE_TEST
      PROPERTIES LABELS ${ARG_LABEL} ENVIRONMENT "${environment}")
  endif()
endfunction()
