# pilotlight_add_tests(<library> [LIBS extra...])
#
# Turns every *_test.cc beside the calling CMakeLists.txt into its own test
# executable linked against <library>, the test toolkit (src/testing: pl_testing)
# and GoogleTest, registered as one ctest named <folder>.<file> (e.g.
# core.status_test). One helper for the whole tree, so a new test is just a new file.
function(pilotlight_add_tests library)
  cmake_parse_arguments(ARG "" "" "LIBS;LABELS" ${ARGN})
  file(GLOB test_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cc)
  get_filename_component(folder ${CMAKE_CURRENT_SOURCE_DIR} NAME)
  foreach(src ${test_sources})
    get_filename_component(name ${src} NAME_WE)
    set(target ${folder}_${name})
    add_executable(${target} ${src})
    target_link_libraries(${target} PRIVATE ${library} ${ARG_LIBS} pl_testing GTest::gtest
                          GTest::gtest_main)
    add_test(NAME ${folder}.${name} COMMAND ${target})
    if(ARG_LABELS)
      set_tests_properties(${folder}.${name} PROPERTIES LABELS "${ARG_LABELS}")
    endif()
  endforeach()
endfunction()

# pilotlight_add_integration_test(<name> SOURCES a.cc... [LIBS ...] [SERIAL])
#
# An end-to-end test: it runs the real pilotlight binary (PILOTLIGHT_BIN) and real
# servers. Registered as ctest "integration.<name>" with label "integration".
# SERIAL for tests that start a lab (two labs would fight over two cores).
function(pilotlight_add_integration_test name)
  cmake_parse_arguments(ARG "SERIAL" "TIMEOUT" "SOURCES;LIBS;CASES" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(integration_${name} ${ARG_SOURCES})
  target_include_directories(integration_${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/integration)
  target_link_libraries(integration_${name} PRIVATE pl_core pl_testing ${ARG_LIBS}
                        nlohmann_json::nlohmann_json GTest::gtest GTest::gtest_main)
  target_compile_definitions(integration_${name} PRIVATE
                             PILOTLIGHT_BIN="$<TARGET_FILE:pilotlight>"
                             PILOTLIGHT_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_dependencies(integration_${name} pilotlight)
  # CASES: one ctest per gtest filter (each with its own timeout), e.g. one per
  # drill scenario; without it, one ctest runs the whole binary.
  set(tests)
  if(ARG_CASES)
    foreach(case ${ARG_CASES})
      add_test(NAME integration.${name}.${case} COMMAND integration_${name}
               --gtest_filter=*.${case})
      list(APPEND tests integration.${name}.${case})
    endforeach()
  else()
    add_test(NAME integration.${name} COMMAND integration_${name})
    set(tests integration.${name})
  endif()
  set_tests_properties(${tests} PROPERTIES LABELS integration TIMEOUT ${ARG_TIMEOUT})
  if(ARG_SERIAL)
    set_tests_properties(${tests} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()
