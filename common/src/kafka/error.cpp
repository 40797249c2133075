#include "relay/kafka/error.hpp"

#include <utility>

namespace relay::kafka {
namespace {

// boost::system::error_category's destructor is protected and non-virtual by design (categories are statics).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class kafka_category_impl final : public boost::system::error_category
{
public:
    const char* name() const noexcept override { return "kafka"; }
    std::string message(int ev) const override
    {
        return rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(ev));
    }
};
#pragma GCC diagnostic pop

std::string join_problems(const std::vector<std::string>& problems)
{
    std::string out = "invalid Kafka configuration: ";
    for (std::size_t i = 0; i < problems.size(); ++i) {
        if (i != 0) {
            out += "; ";
        }
        out += problems[i];
    }
    return out;
}

} // namespace

const boost::system::error_category& kafka_category() noexcept
{
    static const kafka_category_impl instance;
    return instance;
}

std::string error_name(const boost::system::error_code& ec)
{
    if (ec.category() != kafka_category()) {
        return "unknown";
    }
    return rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(ec.value()));
}

config_error::config_error(std::vector<std::string> problems)
    : std::runtime_error(join_problems(problems))
    , problems_(std::move(problems))
{}

} // namespace relay::kafka
