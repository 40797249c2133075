# Target helpers (after Redpanda's v_cc_library): every library is relay_<name> with the alias relay::<name>.
include_guard(GLOBAL)

# Flags every Relay target compiles with: C++20, warnings, and the sanitizer of this build.
add_library(relay_options INTERFACE)
add_library(relay::options ALIAS relay_options)
target_compile_features(relay_options INTERFACE cxx_std_20)
target_compile_options(relay_options INTERFACE -Wall -Wextra -Wpedantic -Wnon-virtual-dtor -Wcast-align
    -Woverloaded-virtual -Wimplicit-fallthrough $<$<BOOL:${RELAY_WERROR}>:-Werror>
    # GCC 12 reports false -Wrestrict positives inside libstdc++'s std::string at -O2 (GCC bug 105329).
    $<$<CXX_COMPILER_ID:GNU>:-Wno-error=restrict>
    # RapidJSON 1.1.0's member iterators predate C++20's rewritten comparisons; clang flags every `!=` on them.
    $<$<CXX_COMPILER_ID:Clang>:-Wno-ambiguous-reversed-operator>)
if(RELAY_SANITIZER STREQUAL "address")
    # clang 14's -fsanitize=function breaks coroutine code generation ("Cannot represent a difference across
    # sections"): every other UBSan check stays on.
    set(_relay_san -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
        $<$<CXX_COMPILER_ID:Clang>:-fno-sanitize=function -fsanitize-ignorelist=${PROJECT_SOURCE_DIR}/cmake/ubsan-ignorelist.txt>)
elseif(RELAY_SANITIZER STREQUAL "thread")
    # -Wno-tsan: GCC warns that TSan does not model the atomic_thread_fence calls inside Asio's headers.
    set(_relay_san -fsanitize=thread -fno-omit-frame-pointer $<$<CXX_COMPILER_ID:GNU>:-Wno-tsan>)
elseif(NOT RELAY_SANITIZER STREQUAL "")
    message(FATAL_ERROR "RELAY_SANITIZER must be '', 'address' or 'thread', not '${RELAY_SANITIZER}'")
endif()
if(_relay_san)
    target_compile_options(relay_options INTERFACE ${_relay_san})
    target_link_options(relay_options INTERFACE ${_relay_san})
    # For the few tests whose bounds (memory, timing) do not hold under a sanitizer: GCC and clang 14 do not
    # agree on a predefined macro.
    target_compile_definitions(relay_options INTERFACE RELAY_SANITIZED=1)
endif()
if(RELAY_SANITIZER STREQUAL "thread")
    # Every executable of a TSan build carries C11-thread definitions that forward to the pthread functions TSan
    # intercepts (librdkafka's threads and locks are invisible to it otherwise): see the source for why.
    add_library(relay_tsan_c11 STATIC ${PROJECT_SOURCE_DIR}/common/src/sanitizer/tsan_c11_threads.cpp)
    target_compile_features(relay_tsan_c11 PRIVATE cxx_std_20)
    target_compile_options(relay_tsan_c11 PRIVATE ${_relay_san})
    target_link_libraries(relay_options INTERFACE
        $<$<STREQUAL:$<TARGET_PROPERTY:TYPE>,EXECUTABLE>:$<LINK_LIBRARY:WHOLE_ARCHIVE,relay_tsan_c11>>)
endif()

# relay_cc_library(NAME <name> SRCS <files...> [INCLUDE <dir>] [DEPS <targets...>] [PRIVATE_DEPS <targets...>])
function(relay_cc_library)
    cmake_parse_arguments(arg "" "NAME;INCLUDE" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
    if(NOT arg_INCLUDE)
        set(arg_INCLUDE ${PROJECT_SOURCE_DIR}/common/include)
    endif()
    add_library(relay_${arg_NAME} ${arg_SRCS})
    add_library(relay::${arg_NAME} ALIAS relay_${arg_NAME})
    target_include_directories(relay_${arg_NAME} PUBLIC ${arg_INCLUDE})
    target_link_libraries(relay_${arg_NAME} PUBLIC relay::options ${arg_DEPS} PRIVATE ${arg_PRIVATE_DEPS})
endfunction()

# relay_test(NAME <name> LABEL <unit|integration|system|...> SRCS <files...> [DEPS <targets...>]
#            [FIXTURES <fixtures...>] [TIMEOUT <seconds>])
# One GoogleTest executable; each TEST becomes its own CTest entry carrying the label.
function(relay_test)
    cmake_parse_arguments(arg "" "NAME;LABEL;TIMEOUT" "SRCS;DEPS;FIXTURES" ${ARGN})
    if(NOT arg_TIMEOUT)
        set(arg_TIMEOUT 120)
    endif()
    add_executable(${arg_NAME} ${arg_SRCS})
    target_link_libraries(${arg_NAME} PRIVATE relay::options ${arg_DEPS} GTest::gmock GTest::gtest_main)
    set(props LABELS ${arg_LABEL} TIMEOUT ${arg_TIMEOUT})
    if(arg_FIXTURES)
        list(APPEND props FIXTURES_REQUIRED "${arg_FIXTURES}")
    endif()
    gtest_discover_tests(${arg_NAME} TEST_PREFIX "${arg_LABEL}." DISCOVERY_TIMEOUT 30 PROPERTIES ${props})
    # gtest_discover_tests splits a list-valued ENVIRONMENT apart, so the variables are set from a CTest include
    # file that runs after discovery, where the list survives in a bracket argument.
    set(env_file ${CMAKE_CURRENT_BINARY_DIR}/${arg_NAME}_environment.cmake)
    file(WRITE ${env_file} "if(${arg_NAME}_TESTS)\n  set_tests_properties(\${${arg_NAME}_TESTS} PROPERTIES ENVIRONMENT "
        "[==[RELAY_TEST_KAFKA_FILE=${CMAKE_BINARY_DIR}/kafka/bootstrap;RELAY_TEST_SOURCE_DIR=${PROJECT_SOURCE_DIR};"
        "RELAY_TEST_BINARY_DIR=${CMAKE_BINARY_DIR}]==])\nendif()\n")
    set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${env_file})
endfunction()
