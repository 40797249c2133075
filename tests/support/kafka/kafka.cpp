#include "support/kafka/kafka.hpp"

#include "relay/kafka/error.hpp"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <future>
#include <stdexcept>
#include <unistd.h>

namespace relay::test {
namespace {

std::string sanitize(std::string s)
{
    for (auto& c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '.' || c == '_' || c == '-';
        if (!ok) {
            c = '_';
        }
    }
    return s;
}

std::string unique_name(std::string_view prefix, std::string_view suffix)
{
    static std::atomic<int> counter{0};
    std::string name(prefix);
    if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
        name += ".";
        name += info->test_suite_name();
        name += ".";
        name += info->name();
    }
    name += "." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
    if (!suffix.empty()) {
        name += ".";
        name += suffix;
    }
    name = sanitize(std::move(name));
    if (name.size() > 240) {
        name.erase(0, name.size() - 240);
    }
    return name;
}

consumed copy_message(const rd_kafka_message_t& m)
{
    consumed c;
    c.topic = relay::kafka::topic_name(m);
    c.partition = m.partition;
    c.offset = m.offset;
    if (auto k = relay::kafka::key(m)) {
        c.key = std::string(*k);
    }
    if (auto v = relay::kafka::value(m)) {
        c.value = std::string(*v);
    }
    for (const auto& [n, v] : relay::kafka::headers(m)) {
        c.headers.emplace_back(n, v);
    }
    return c;
}

} // namespace

std::string real_broker_bootstrap()
{
    const char* file = std::getenv("RELAY_TEST_KAFKA_FILE"); // NOLINT(concurrency-mt-unsafe): read-only
    if (file == nullptr || *file == '\0') {
        throw std::runtime_error(
            "RELAY_TEST_KAFKA_FILE is not set: run this test through ctest (it needs the `kafka` fixture), "
            "or start "
            "a broker with `scripts/kafka-broker start <dir>` and set RELAY_TEST_KAFKA_FILE=<dir>/bootstrap"
        );
    }
    std::ifstream in(file);
    std::string bootstrap;
    if (!in || !std::getline(in, bootstrap) || bootstrap.empty()) {
        throw std::runtime_error(
            std::string("no real Kafka broker: cannot read a bootstrap address from ") + file +
            " (the `kafka` CTest fixture writes it; start one with `scripts/kafka-broker start <dir>`)"
        );
    }
    return bootstrap;
}

std::string unique_topic(std::string_view suffix)
{
    return unique_name("relay-test", suffix);
}

std::string unique_group(std::string_view suffix)
{
    return unique_name("relay-group", suffix);
}

relay::kafka::properties producer_config(const std::string& bootstrap, const relay::kafka::properties& extra)
{
    relay::kafka::properties props{
        {"bootstrap.servers", bootstrap},
        {"linger.ms", "1"},
        {"message.timeout.ms", "20000"},
    };
    for (const auto& [k, v] : extra) {
        props[k] = v;
    }
    return props;
}

relay::kafka::properties
consumer_config(const std::string& bootstrap, const std::string& group, const relay::kafka::properties& extra)
{
    relay::kafka::properties props{
        {"bootstrap.servers", bootstrap},
        {"group.id", group},
        {"auto.offset.reset", "earliest"},
        {"session.timeout.ms", "6000"},
        {"heartbeat.interval.ms", "200"},
        {"topic.metadata.refresh.interval.ms", "1000"},
        {"fetch.wait.max.ms", "100"},
    };
    for (const auto& [k, v] : extra) {
        props[k] = v;
    }
    return props;
}

bool produce_records(
    relay::kafka::producer& p,
    const std::string& topic,
    int count,
    std::int32_t partition,
    std::chrono::milliseconds timeout
)
{
    struct state
    {
        std::mutex mutex;
        std::condition_variable cv;
        int done = 0;
        boost::system::error_code first_error;
    };
    auto st = std::make_shared<state>();
    for (int i = 0; i < count; ++i) {
        relay::kafka::record rec;
        rec.topic = topic;
        rec.key = "key-" + std::to_string(i);
        rec.value = "value-" + std::to_string(i);
        rec.partition = partition;
        const auto ec = p.produce(rec, [st](boost::system::error_code ec, relay::kafka::delivery_info) {
            std::lock_guard lock(st->mutex);
            if (ec && !st->first_error) {
                st->first_error = ec;
            }
            ++st->done;
            st->cv.notify_all();
        });
        if (ec) {
            ADD_FAILURE() << "enqueueing record " << i << " to " << topic << " failed: " << ec.message();
            return false;
        }
    }
    std::unique_lock lock(st->mutex);
    if (!st->cv.wait_for(lock, timeout, [&] { return st->done == count; })) {
        ADD_FAILURE() << "only " << st->done << " of " << count << " records to " << topic
                      << " acknowledged in time";
        return false;
    }
    if (st->first_error) {
        ADD_FAILURE() << "producing to " << topic << " failed: " << st->first_error.message();
        return false;
    }
    return true;
}

void recording_handler::on_assigned(const std::vector<relay::kafka::topic_partition>& partitions)
{
    std::lock_guard lock(mutex_);
    ++assigns_;
    assigned_.insert(assigned_.end(), partitions.begin(), partitions.end());
    cv_.notify_all();
}

void recording_handler::on_revoked(const std::vector<relay::kafka::topic_partition>& partitions, bool lost)
{
    std::lock_guard lock(mutex_);
    ++revokes_;
    if (lost) {
        ++lost_;
    }
    for (const auto& tp : partitions) {
        std::erase_if(assigned_, [&](const auto& a) {
            return a.topic == tp.topic && a.partition == tp.partition;
        });
    }
    cv_.notify_all();
}

void recording_handler::on_messages(std::vector<relay::kafka::message_ptr> batch)
{
    if (on_batch) {
        on_batch(batch);
    }
    std::vector<consumed> copies;
    for (const auto& m : batch) {
        copies.push_back(copy_message(*m));
        if (store_offsets_ && consumer_ != nullptr) {
            const auto ec = consumer_->store_offset(copies.back().topic, m->partition, m->offset + 1);
            EXPECT_FALSE(ec) << "store_offset: " << ec.message();
        }
    }
    std::lock_guard lock(mutex_);
    messages_.insert(messages_.end(), copies.begin(), copies.end());
    cv_.notify_all();
}

void recording_handler::on_error(boost::system::error_code ec, std::string_view reason)
{
    consumer_handler::on_error(ec, reason);
    std::lock_guard lock(mutex_);
    errors_.push_back(ec);
    cv_.notify_all();
}

bool recording_handler::wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout)
{
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, pred);
}

bool recording_handler::wait_for_messages(std::size_t n, std::chrono::milliseconds timeout)
{
    return wait_for([&] { return messages_.size() >= n; }, timeout);
}

bool recording_handler::wait_for_assignment(std::chrono::milliseconds timeout)
{
    return wait_for([&] { return !assigned_.empty(); }, timeout);
}

std::vector<consumed> recording_handler::messages() const
{
    std::lock_guard lock(mutex_);
    return messages_;
}

std::size_t recording_handler::message_count() const
{
    std::lock_guard lock(mutex_);
    return messages_.size();
}

std::vector<relay::kafka::topic_partition> recording_handler::assigned() const
{
    std::lock_guard lock(mutex_);
    return assigned_;
}

int recording_handler::assign_events() const
{
    std::lock_guard lock(mutex_);
    return assigns_;
}

int recording_handler::revoke_events() const
{
    std::lock_guard lock(mutex_);
    return revokes_;
}

int recording_handler::lost_events() const
{
    std::lock_guard lock(mutex_);
    return lost_;
}

std::vector<boost::system::error_code> recording_handler::errors() const
{
    std::lock_guard lock(mutex_);
    return errors_;
}

std::string mock_kafka_test::make_topic(int partitions, std::string_view suffix)
{
    auto name = unique_topic(suffix);
    const auto ec = cluster_.create_topic(name, partitions);
    EXPECT_FALSE(ec) << "creating mock topic " << name << ": " << ec.message();
    return name;
}

} // namespace relay::test
