# Every external dependency is found here, once, and exposed as a target named relay::deps::<name>.
# All of them come from Debian 12 packages (scripts/install-deps installs them); nothing is downloaded at build time.
include_guard(GLOBAL)

set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
find_package(Boost 1.81...<1.82 CONFIG REQUIRED COMPONENTS headers)
find_package(OpenSSL 3 REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED COMPONENTS core)
find_package(yaml-cpp CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)

# Debian's librdkafka ships only pkg-config files.
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET GLOBAL rdkafka>=2.0)
add_library(relay::deps::rdkafka ALIAS PkgConfig::RDKAFKA)

# RapidJSON's CMake config defines no target, and its headers live in /usr/include: an interface target that
# also pins the options we rely on (std::string support, SSE4.2 scanning off for portability).
find_package(RapidJSON CONFIG REQUIRED)
add_library(relay_deps_rapidjson INTERFACE)
target_include_directories(relay_deps_rapidjson SYSTEM INTERFACE ${RapidJSON_INCLUDE_DIRS} ${RAPIDJSON_INCLUDE_DIRS})
target_compile_definitions(relay_deps_rapidjson INTERFACE RAPIDJSON_HAS_STDSTRING=1)
add_library(relay::deps::rapidjson ALIAS relay_deps_rapidjson)

add_library(relay::deps::yaml ALIAS yaml-cpp)

if(RELAY_BUILD_TESTS)
    find_package(GTest CONFIG REQUIRED)
endif()
