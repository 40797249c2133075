#include "client.hpp"

#include "relay/kafka/error.hpp"
#include "relay/log/log.hpp"

#include <algorithm>
#include <array>
#include <string>

namespace relay::kafka::detail {
namespace {

void on_log(const rd_kafka_t* rk, int level, const char* facility, const char* message)
{
    // librdkafka levels are syslog numbers, as relay::log's are.
    const auto l = static_cast<relay::log::level>(std::clamp(level, 0, 7));
    relay::log::write(
        l, message != nullptr ? message : "", {{"client", client_name(rk)}, {"facility", facility}}
    );
}

bool is_connectivity(rd_kafka_resp_err_t err)
{
    return err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
           err == RD_KAFKA_RESP_ERR__RESOLVE;
}

void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque)
{
    auto* ctx = static_cast<client_context*>(opaque);
    const auto code = static_cast<rd_kafka_resp_err_t>(err);
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
        std::array<char, 512> buf{};
        const auto original = rd_kafka_fatal_error(rk, buf.data(), buf.size());
        ctx->report_fatal(rk, make_error_code(original), buf.data());
        return;
    }
    // librdkafka already logs connection failures itself at err level; repeating them adds only noise.
    const auto level = is_connectivity(code) ? relay::log::level::debug : relay::log::level::warning;
    relay::log::write(
        level,
        "kafka client error",
        {{"client", client_name(rk)}, {"error", rd_kafka_err2name(code)}, {"reason", reason}}
    );
}

int on_statistics(rd_kafka_t* rk, char* json, std::size_t len, void* opaque)
{
    auto* ctx = static_cast<client_context*>(opaque);
    try {
        ctx->on_statistics(std::string_view(json, len));
    } catch (...) {
        log_escaped_exception(rk, "statistics handler", std::current_exception());
    }
    return 0; // librdkafka frees the JSON
}

} // namespace

void client_context::report_fatal(
    const rd_kafka_t* rk, boost::system::error_code ec, std::string_view reason
) noexcept
{
    if (fatal.exchange(true)) {
        return;
    }
    relay::log::crit(
        "kafka client fatal error",
        {{"client", client_name(rk)}, {"error", error_name(ec)}, {"reason", reason}}
    );
    if (on_fatal) {
        try {
            on_fatal(ec, reason);
        } catch (...) {
            log_escaped_exception(rk, "fatal handler", std::current_exception());
        }
    }
}

void install_callbacks(rd_kafka_conf_t* conf, client_context* ctx)
{
    rd_kafka_conf_set_log_cb(conf, &on_log);
    if (ctx == nullptr) {
        return;
    }
    rd_kafka_conf_set_opaque(conf, ctx);
    rd_kafka_conf_set_error_cb(conf, &on_error);
    if (ctx->on_statistics) {
        rd_kafka_conf_set_stats_cb(conf, &on_statistics);
    }
}

handle_ptr create_handle(rd_kafka_type_t type, conf_ptr conf)
{
    std::array<char, 512> errstr{};
    handle_ptr handle(rd_kafka_new(type, conf.get(), errstr.data(), errstr.size()));
    if (!handle) {
        throw config_error({errstr.data()});
    }
    // librdkafka frees conf only on success
    static_cast<void>(conf.release());
    return handle;
}

std::string_view client_name(const rd_kafka_t* rk) noexcept
{
    if (rk == nullptr) {
        return {};
    }
    const char* name = rd_kafka_name(rk);
    return name != nullptr ? std::string_view(name) : std::string_view();
}

void log_escaped_exception(const rd_kafka_t* rk, std::string_view where, std::exception_ptr e) noexcept
{
    std::string what = "unknown exception";
    try {
        std::rethrow_exception(std::move(e));
    } catch (const std::exception& ex) {
        what = ex.what();
    } catch (...) {
    }
    relay::log::error(
        "exception escaped a kafka callback", {{"client", client_name(rk)}, {"where", where}, {"what", what}}
    );
}

} // namespace relay::kafka::detail
