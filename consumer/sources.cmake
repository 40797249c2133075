# relay::delivery: the delivery worker's library (consumer/include/relay/delivery, consumer/src).
# Pure delivery logic: outcome classification, Retry-After, retry schedule, offset tracking.
relay_cc_library(NAME delivery
    SRCS
        ${CMAKE_CURRENT_SOURCE_DIR}/src/outcome.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/src/retry_after.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/src/retry_schedule.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/src/offset_tracker.cpp
    INCLUDE ${PROJECT_SOURCE_DIR}/consumer/include
    DEPS relay::event relay::log relay::asio)
