#pragma once

#include <boost/system/error_category.hpp>
#include <boost/system/error_code.hpp>
#include <librdkafka/rdkafka.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace relay::kafka {

/// The error category of librdkafka's rd_kafka_resp_err_t codes (broker errors and the negative local ones).
/// name() is "kafka"; message() is rd_kafka_err2str(). Thread-safe (a constant object).
const boost::system::error_category& kafka_category() noexcept;

/// Wraps a librdkafka error code; RD_KAFKA_RESP_ERR_NO_ERROR gives a code that is not failed().
inline boost::system::error_code make_error_code(rd_kafka_resp_err_t e) noexcept
{
    return {static_cast<int>(e), kafka_category()};
}

/// The symbolic name of a kafka_category code ("_QUEUE_FULL", "TOPIC_ALREADY_EXISTS"), for logs and metrics
/// labels; "unknown" for codes of other categories.
std::string error_name(const boost::system::error_code& ec);

/// Thrown at start-up when librdkafka rejects a configuration: what() names every rejected key with
/// librdkafka's reason, one problem per line after the first.
class config_error : public std::runtime_error
{
public:
    explicit config_error(std::vector<std::string> problems);

    /// One message per rejected key (or one for a rejected combination), as in what().
    const std::vector<std::string>& problems() const noexcept { return problems_; }

private:
    std::vector<std::string> problems_;
};

} // namespace relay::kafka
