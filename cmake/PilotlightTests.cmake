# pilotlight_add_tests(<library> [LIBS extra...])
#
# Turns every *_test.cc beside the calling CMakeLists.txt into its own test
# executable linked against <library> and GoogleTest, registered as one ctest
# named <folder>.<file> (e.g. core.status_test). One helper for the whole tree,
# so a new test is just a new file.
function(pilotlight_add_tests library)
  cmake_parse_arguments(ARG "" "" "LIBS;LABELS" ${ARGN})
  file(GLOB test_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cc)
  get_filename_component(folder ${CMAKE_CURRENT_SOURCE_DIR} NAME)
  foreach(src ${test_sources})
    get_filename_component(name ${src} NAME_WE)
    set(target ${folder}_${name})
    add_executable(${target} ${src})
    target_link_libraries(${target} PRIVATE ${library} ${ARG_LIBS} GTest::gtest GTest::gtest_main)
    add_test(NAME ${folder}.${name} COMMAND ${target})
    if(ARG_LABELS)
      set_tests_properties(${folder}.${name} PROPERTIES LABELS "${ARG_LABELS}")
    endif()
  endforeach()
endfunction()
