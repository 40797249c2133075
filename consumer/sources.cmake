# relay::delivery: the delivery worker's pure logic (consumer/include/relay/delivery, consumer/src): outcome
# classification, Retry-After, retry schedule, offset tracking, retry/DLQ record format, admission gate,
# circuit breaker.
relay_cc_library(NAME delivery
    SRCS
        ${CMAKE_CURRENT_SOURCE_DIR}/src/outcome.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/src/retry_after.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/src/retry_schedule.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/src/offset_tracker.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/src/parking.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/src/circuit_breaker.cpp
    INCLUDE ${PROJECT_SOURCE_DIR}/consumer/include
    DEPS relay::event relay::log relay::asio relay::kafka relay::config)

# relay::worker: `relay deliver`'s engine, wiring Kafka, the routing table and the HTTP client.
relay_cc_library(NAME worker
    SRCS ${CMAKE_CURRENT_SOURCE_DIR}/src/worker.cpp
    INCLUDE ${PROJECT_SOURCE_DIR}/consumer/include
    DEPS relay::delivery relay::config relay::kafka relay::http relay::subscription relay::webhook relay::event
        relay::version prometheus-cpp::core)

# relay::dlq: reading the dead-letter topic and redriving it (`relay dlq list|redrive`, the API's DLQ endpoints).
relay_cc_library(NAME dlq
    SRCS ${CMAKE_CURRENT_SOURCE_DIR}/src/dlq.cpp
    INCLUDE ${PROJECT_SOURCE_DIR}/consumer/include
    DEPS relay::delivery relay::config relay::kafka relay::event relay::log)
