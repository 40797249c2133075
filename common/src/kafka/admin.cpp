#include "relay/kafka/admin.hpp"

#include "relay/kafka/error.hpp"
#include "relay/log/log.hpp"

#include "client.hpp"

#include <array>
#include <set>
#include <thread>

namespace relay::kafka {
namespace {

using clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds metadata_retry_interval{100};
// Admin results arrive after the request timeout at the latest; this margin covers queueing.
constexpr std::chrono::milliseconds result_margin{5000};

int to_ms(std::chrono::milliseconds d)
{
    return static_cast<int>(std::max<std::int64_t>(d.count(), 1));
}

boost::system::result<metadata_ptr> all_topics_metadata(rd_kafka_t* rk, std::chrono::milliseconds timeout)
{
    // All topics rather than one: a targeted request may auto-create the topic (allow.auto.create.topics).
    const rd_kafka_metadata_t* raw = nullptr;
    if (const auto err = rd_kafka_metadata(rk, 1, nullptr, &raw, to_ms(timeout))) {
        return make_error_code(err);
    }
    return metadata_ptr(raw);
}

const rd_kafka_metadata_topic_t* find_topic(const rd_kafka_metadata_t& md, std::string_view name)
{
    for (int i = 0; i < md.topic_cnt; ++i) {
        if (name == md.topics[i].topic) {
            return &md.topics[i];
        }
    }
    return nullptr;
}

bool exists(const rd_kafka_metadata_topic_t* t)
{
    return t != nullptr && t->err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
}

std::string join_failures(const std::vector<topic_failure>& failures)
{
    std::string out = "cannot create Kafka topics: ";
    for (std::size_t i = 0; i < failures.size(); ++i) {
        if (i != 0) {
            out += "; ";
        }
        out += failures[i].topic + ": " + error_name(failures[i].code) + ": " + failures[i].reason;
    }
    return out;
}

admin_options_ptr
make_options(rd_kafka_t* rk, rd_kafka_admin_op_t op, std::chrono::milliseconds timeout, bool operation)
{
    admin_options_ptr opts(rd_kafka_AdminOptions_new(rk, op));
    std::array<char, 512> errstr{};
    rd_kafka_AdminOptions_set_request_timeout(opts.get(), to_ms(timeout), errstr.data(), errstr.size());
    if (operation) {
        rd_kafka_AdminOptions_set_operation_timeout(opts.get(), to_ms(timeout), errstr.data(), errstr.size());
    }
    return opts;
}

// Creates the topics and sorts the per-topic results into created and failures.
void create_topics(
    rd_kafka_t* rk,
    const std::vector<const topic_spec*>& missing,
    std::chrono::milliseconds timeout,
    std::vector<std::string>& created,
    std::vector<topic_failure>& failures
)
{
    std::vector<new_topic_ptr> owned;
    std::vector<rd_kafka_NewTopic_t*> raw;
    std::vector<std::string> names; // parallel to raw: NewTopic has no name getter in 2.0.2
    std::array<char, 512> errstr{};
    for (const auto* spec : missing) {
        new_topic_ptr nt(rd_kafka_NewTopic_new(
            spec->name.c_str(), spec->partitions, spec->replication_factor, errstr.data(), errstr.size()
        ));
        if (!nt) {
            failures.push_back({spec->name, make_error_code(RD_KAFKA_RESP_ERR__INVALID_ARG), errstr.data()});
            continue;
        }
        bool ok = true;
        for (const auto& [k, v] : spec->configs) {
            if (const auto err = rd_kafka_NewTopic_set_config(nt.get(), k.c_str(), v.c_str())) {
                failures.push_back({spec->name, make_error_code(err), "config " + k + " rejected"});
                ok = false;
                break;
            }
        }
        if (ok) {
            raw.push_back(nt.get());
            names.push_back(spec->name);
            owned.push_back(std::move(nt));
        }
    }
    if (raw.empty()) {
        return;
    }
    const queue_ptr q(rd_kafka_queue_new(rk));
    const auto opts = make_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout, true);
    rd_kafka_CreateTopics(rk, raw.data(), raw.size(), opts.get(), q.get());
    const event_ptr ev(rd_kafka_queue_poll(q.get(), to_ms(timeout + result_margin)));
    auto fail_all = [&](boost::system::error_code ec, const std::string& reason) {
        for (const auto& name : names) {
            failures.push_back({name, ec, reason});
        }
    };
    if (!ev) {
        fail_all(make_error_code(RD_KAFKA_RESP_ERR__TIMED_OUT), "no CreateTopics result in time");
        return;
    }
    if (const auto err = rd_kafka_event_error(ev.get())) {
        fail_all(make_error_code(err), rd_kafka_event_error_string(ev.get()));
        return;
    }
    const auto* result = rd_kafka_event_CreateTopics_result(ev.get());
    std::size_t n = 0;
    const auto** topics = rd_kafka_CreateTopics_result_topics(result, &n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto err = rd_kafka_topic_result_error(topics[i]);
        const char* name = rd_kafka_topic_result_name(topics[i]);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            created.emplace_back(name);
        } else if (err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            const char* msg = rd_kafka_topic_result_error_string(topics[i]);
            failures.push_back({name, make_error_code(err), msg != nullptr ? msg : rd_kafka_err2str(err)});
        }
    }
}

// Created topics may take a moment to appear in every broker's metadata; clients need them there.
void wait_visible(rd_kafka_t* rk, const std::vector<std::string>& names, std::chrono::milliseconds timeout)
{
    const auto deadline = clock::now() + timeout;
    while (true) {
        auto md = all_topics_metadata(rk, timeout);
        bool all = md.has_value();
        for (std::size_t i = 0; all && i < names.size(); ++i) {
            const auto* t = find_topic(**md, names[i]);
            all = t != nullptr && t->err == RD_KAFKA_RESP_ERR_NO_ERROR && t->partition_cnt > 0;
        }
        if (all) {
            return;
        }
        if (clock::now() + metadata_retry_interval >= deadline) {
            relay::log::warn(
                "created Kafka topics are not in metadata yet", {{"client", detail::client_name(rk)}}
            );
            return;
        }
        std::this_thread::sleep_for(metadata_retry_interval);
    }
}

} // namespace

topic_error::topic_error(std::vector<topic_failure> failures)
    : std::runtime_error(join_failures(failures))
    , failures_(std::move(failures))
{}

std::vector<std::string>
ensure_topics(rd_kafka_t* rk, const std::vector<topic_spec>& specs, std::chrono::milliseconds timeout)
{
    auto md = all_topics_metadata(rk, timeout);
    if (!md) {
        std::vector<topic_failure> failures;
        failures.reserve(specs.size());
        for (const auto& spec : specs) {
            failures.push_back(
                {spec.name, md.error(), "cannot read cluster metadata: " + md.error().message()}
            );
        }
        throw topic_error(std::move(failures));
    }
    std::vector<const topic_spec*> missing;
    missing.reserve(specs.size());
    std::set<std::string_view> seen;
    for (const auto& spec : specs) {
        if (seen.insert(spec.name).second && !exists(find_topic(**md, spec.name))) {
            missing.push_back(&spec);
        }
    }
    std::vector<std::string> created;
    if (missing.empty()) {
        return created;
    }
    std::vector<topic_failure> failures;
    create_topics(rk, missing, timeout, created, failures);
    if (!created.empty()) {
        wait_visible(rk, created, timeout);
        for (const auto& name : created) {
            relay::log::notice("created Kafka topic", {{"client", detail::client_name(rk)}, {"topic", name}});
        }
    }
    if (!failures.empty()) {
        throw topic_error(std::move(failures));
    }
    return created;
}

boost::system::result<int>
partition_count(rd_kafka_t* rk, std::string_view topic, std::chrono::milliseconds timeout)
{
    auto md = all_topics_metadata(rk, timeout);
    if (!md) {
        return md.error();
    }
    const auto* t = find_topic(**md, topic);
    if (t == nullptr) {
        return make_error_code(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    }
    if (t->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return make_error_code(t->err);
    }
    return t->partition_cnt;
}

boost::system::result<std::map<std::string, std::string>>
describe_topic_configs(rd_kafka_t* rk, std::string_view topic, std::chrono::milliseconds timeout)
{
    config_resource_ptr resource(
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, std::string(topic).c_str())
    );
    const queue_ptr q(rd_kafka_queue_new(rk));
    const auto opts = make_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout, false);
    auto* raw = resource.get();
    rd_kafka_DescribeConfigs(rk, &raw, 1, opts.get(), q.get());
    const event_ptr ev(rd_kafka_queue_poll(q.get(), to_ms(timeout + result_margin)));
    if (!ev) {
        return make_error_code(RD_KAFKA_RESP_ERR__TIMED_OUT);
    }
    if (const auto err = rd_kafka_event_error(ev.get())) {
        return make_error_code(err);
    }
    const auto* result = rd_kafka_event_DescribeConfigs_result(ev.get());
    std::size_t n = 0;
    const auto** resources = rd_kafka_DescribeConfigs_result_resources(result, &n);
    if (n == 0) {
        return make_error_code(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    }
    if (const auto err = rd_kafka_ConfigResource_error(resources[0])) {
        return make_error_code(err);
    }
    std::map<std::string, std::string> out;
    std::size_t cnt = 0;
    const auto** entries = rd_kafka_ConfigResource_configs(resources[0], &cnt);
    for (std::size_t i = 0; i < cnt; ++i) {
        const char* value = rd_kafka_ConfigEntry_value(entries[i]);
        if (value != nullptr) {
            out.emplace(rd_kafka_ConfigEntry_name(entries[i]), value);
        }
    }
    return out;
}

admin::admin(const client_options& options)
{
    auto conf = make_conf(options.config);
    // No error callback: without one librdkafka logs client errors itself instead of queueing them for a
    // poll this object never does.
    detail::install_callbacks(conf.get(), nullptr);
    handle_ = detail::create_handle(RD_KAFKA_PRODUCER, std::move(conf));
}

std::vector<std::string>
admin::ensure_topics(const std::vector<topic_spec>& specs, std::chrono::milliseconds timeout)
{
    return kafka::ensure_topics(handle_.get(), specs, timeout);
}

boost::system::result<int> admin::partition_count(std::string_view topic, std::chrono::milliseconds timeout)
{
    return kafka::partition_count(handle_.get(), topic, timeout);
}

boost::system::result<std::map<std::string, std::string>>
admin::describe_topic_configs(std::string_view topic, std::chrono::milliseconds timeout)
{
    return kafka::describe_topic_configs(handle_.get(), topic, timeout);
}

} // namespace relay::kafka
