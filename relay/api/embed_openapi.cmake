# cmake -DINPUT=<openapi.json> -DOUTPUT=<file.cpp> -P embed_openapi.cmake
# Writes a C++ source defining relay::api::detail::openapi_json (the bytes of INPUT, NUL-terminated) and
# openapi_json_size. Bytes are written as hex so that any content survives (no raw-string delimiter clash).
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
# 16 bytes per line keeps the generated file readable (CMake's regex has no {n} repetition).
string(REPEAT "'.x[0-9a-f][0-9a-f]'," 16 line_pattern)
string(REGEX REPLACE "(${line_pattern})" "\\1\n    " bytes "${bytes}")
set(content "// Generated from ${INPUT} by embed_openapi.cmake. Do not edit.
#include <cstddef>

namespace relay::api::detail {
extern const char openapi_json[];
extern const std::size_t openapi_json_size;
const char openapi_json[] = {
    ${bytes}'\\0'};
const std::size_t openapi_json_size = ${size};
} // namespace relay::api::detail
")
# Rewrite only on change, so an unchanged document does not recompile.
if(EXISTS "${OUTPUT}")
    file(READ "${OUTPUT}" old)
    if(old STREQUAL content)
        return()
    endif()
endif()
file(WRITE "${OUTPUT}" "${content}")
