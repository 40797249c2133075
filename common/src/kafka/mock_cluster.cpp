#include "relay/kafka/mock_cluster.hpp"

#include "relay/kafka/error.hpp"

#include "client.hpp"

#include <stdexcept>

namespace relay::kafka {

mock_cluster::mock_cluster(int brokers)
{
    // The handle only hosts the mock brokers; it connects nowhere, so its "no bootstrap.servers" notice is
    // noise.
    auto conf = make_conf({{"log_level", "4"}});
    detail::install_callbacks(conf.get(), nullptr);
    handle_ = detail::create_handle(RD_KAFKA_PRODUCER, std::move(conf));
    cluster_.reset(rd_kafka_mock_cluster_new(handle_.get(), brokers));
    if (!cluster_) {
        throw std::runtime_error("cannot start the Kafka mock cluster");
    }
}

std::string mock_cluster::bootstrap_servers() const
{
    return rd_kafka_mock_cluster_bootstraps(cluster_.get());
}

boost::system::error_code
mock_cluster::create_topic(std::string_view name, int partitions, int replication_factor)
{
    return make_error_code(
        rd_kafka_mock_topic_create(cluster_.get(), std::string(name).c_str(), partitions, replication_factor)
    );
}

void mock_cluster::create_topics(const std::vector<topic_spec>& specs)
{
    std::vector<topic_failure> failures;
    for (const auto& spec : specs) {
        const auto ec = create_topic(
            spec.name,
            spec.partitions > 0 ? spec.partitions : 1,
            spec.replication_factor > 0 ? spec.replication_factor : 1
        );
        // Like ensure_topics: a topic that exists already is fine.
        if (ec && ec != make_error_code(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)) {
            failures.push_back({spec.name, ec, ec.message()});
        }
    }
    if (!failures.empty()) {
        throw topic_error(std::move(failures));
    }
}

void mock_cluster::push_request_errors(api_key api, const std::vector<rd_kafka_resp_err_t>& errors)
{
    rd_kafka_mock_push_request_errors_array(
        cluster_.get(), static_cast<std::int16_t>(api), errors.size(), errors.data()
    );
}

boost::system::error_code mock_cluster::set_broker_down(std::int32_t broker_id)
{
    return make_error_code(rd_kafka_mock_broker_set_down(cluster_.get(), broker_id));
}

boost::system::error_code mock_cluster::set_broker_up(std::int32_t broker_id)
{
    return make_error_code(rd_kafka_mock_broker_set_up(cluster_.get(), broker_id));
}

} // namespace relay::kafka
