#pragma once

// Private to the kafka area: how every client handle is created and wired to relay::log.

#include "relay/kafka/config.hpp"
#include "relay/kafka/handles.hpp"

#include <atomic>
#include <exception>
#include <string_view>

namespace relay::kafka::detail {

/// State shared by librdkafka's callbacks of one client; the conf opaque points here, so it must outlive the
/// handle. Producer and consumer implementations derive from it.
struct client_context
{
    fatal_handler on_fatal;
    statistics_handler on_statistics;
    std::atomic<bool> fatal{false};

    /// Marks the client fatal, logs at crit and calls on_fatal (exceptions from it are logged, not thrown).
    void report_fatal(const rd_kafka_t* rk, boost::system::error_code ec, std::string_view reason) noexcept;
};

/// Routes librdkafka's logs into relay::log (always), and when `ctx` is given sets it as opaque and installs
/// the error callback and (if ctx->on_statistics) the statistics callback.
void install_callbacks(rd_kafka_conf_t* conf, client_context* ctx);

/// rd_kafka_new, taking ownership of `conf` only when it succeeds. Throws config_error with librdkafka's
/// reason.
handle_ptr create_handle(rd_kafka_type_t type, conf_ptr conf);

/// The client name for log fields.
std::string_view client_name(const rd_kafka_t* rk) noexcept;

/// Logs an exception escaping application code called from a librdkafka thread.
void log_escaped_exception(const rd_kafka_t* rk, std::string_view where, std::exception_ptr e) noexcept;

} // namespace relay::kafka::detail
