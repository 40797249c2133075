// Hostile receivers against the whole worker (issue 9, scenario 6): a 1 GB response body, an endless chunked
// response, one byte per second, invalid HTTP and a redirect to a blocked address. The worker reads at most
// its cap, times out, follows nothing, keeps its memory flat, and classifies each correctly.
#include "http_client/test_server.hpp"
#include "worker_fixture.hpp"

#include <fstream>

namespace relay::delivery {
namespace {

using namespace std::chrono_literals;
using relay_test::scripted_server;
using relay_test::server_stats;
using relay_test::tcp;
using test_worker::WorkerTest;
namespace asio = boost::asio;

// Resident set size of this process in KiB (the worker runs in it).
long rss_kib()
{
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0)
            return std::stol(line.substr(6));
    }
    return -1;
}

// Reads the request, then sends `head` and streams `chunk` until the peer stops reading (bounded) and counts
// the body bytes written.
scripted_server::session_fn streaming(std::string head, std::string chunk, std::atomic<long>& written)
{
    return [head, chunk, &written](tcp::socket socket, int, server_stats& stats) -> asio::awaitable<void> {
        boost::beast::flat_buffer buffer;
        if (!co_await relay_test::read_request(socket, buffer, stats))
            co_return;
        if (!co_await relay_test::write_raw(socket, head))
            co_return;
        // At most 1 GiB, and the peer stops reading long before.
        for (long sent = 0; sent < (1L << 30); sent += static_cast<long>(chunk.size())) {
            if (!co_await relay_test::write_raw(socket, chunk))
                co_return;
            written.fetch_add(static_cast<long>(chunk.size()));
        }
    };
}

TEST_F(WorkerTest, HostileReceiversAreCappedTimedOutNotFollowedAndClassified)
{
    std::atomic<long> big_written{0}, chunked_written{0};
    scripted_server big(streaming(
        "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n", std::string(64 * 1024, 'x'), big_written
    ));
    std::string chunk(64 * 1024, 'y');
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
    scripted_server endless(streaming(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", size_line + chunk + "\r\n", chunked_written
    ));
    scripted_server drip([](tcp::socket socket, int, server_stats& stats) -> asio::awaitable<void> {
        boost::beast::flat_buffer buffer;
        if (!co_await relay_test::read_request(socket, buffer, stats))
            co_return;
        const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        for (char c : head) {
            if (!co_await relay_test::write_raw(socket, std::string(1, c)))
                co_return;
            asio::steady_timer t(socket.get_executor(), 1s);
            co_await t.async_wait(relay_test::use_tuple);
        }
    });
    scripted_server garbage([](tcp::socket socket, int, server_stats& stats) -> asio::awaitable<void> {
        boost::beast::flat_buffer buffer;
        if (co_await relay_test::read_request(socket, buffer, stats))
            co_await relay_test::write_raw(socket, "SMTP READY\r\n\r\n");
    });
    // The redirect points at a canary on another loopback address: nothing may ever connect to it.
    scripted_server canary([](tcp::socket, int, server_stats&) -> asio::awaitable<void> { co_return; });
    scripted_server redirect(
        [&canary](tcp::socket socket, int, server_stats& stats) -> asio::awaitable<void> {
            boost::beast::flat_buffer buffer;
            if (co_await relay_test::read_request(socket, buffer, stats))
                co_await relay_test::write_raw(
                    socket, relay_test::response(302, "", "Location: " + canary.url() + "\r\n")
                );
        }
    );

    add_subscription("big", big.url(), R"("event_types":["t.big"],"timeout":"5s")");
    add_subscription("endless", endless.url(), R"("event_types":["t.endless"],"timeout":"5s")");
    add_subscription("drip", drip.url(), R"("event_types":["t.drip"],"timeout":"2s")");
    add_subscription("garbage", garbage.url(), R"("event_types":["t.garbage"],"timeout":"2s")");
    add_subscription("redirect", redirect.url(), R"("event_types":["t.redirect"],"timeout":"2s")");
    cfg_.delivery.retry_schedule = {300ms};
    cfg_.delivery.circuit_breaker.consecutive_failures = 1000;
    const long rss_before = rss_kib();
    start_worker();
    std::vector<std::pair<std::string, std::string>> records;
    for (const char* t : {"big", "endless", "drip", "garbage", "redirect"}) {
        for (int i = 0; i < 3; ++i) {
            const auto id = std::string(t) + std::to_string(i);
            records.emplace_back(id, R"({"id":")" + id + R"(","type":"t.)" + t + "\"}");
        }
    }
    produce(records);

    // drip and garbage: retryable (timeout, protocol error), then exhausted after 2 attempts; redirect: 3xx
    // is permanent after 1 attempt. big and endless: a 200 status is a delivery; the body beyond the cap is
    // dropped.
    const auto dlq = read_topic(cfg_.topics.dlq, 9);
    std::map<std::string, std::vector<test::consumed>> by_sub;
    for (const auto& m : dlq)
        by_sub[header(m, header::subscription_id).value_or("?")].push_back(m);
    ASSERT_EQ(by_sub["drip"].size(), 3u);
    ASSERT_EQ(by_sub["garbage"].size(), 3u);
    ASSERT_EQ(by_sub["redirect"].size(), 3u);
    for (const auto& m : by_sub["drip"]) {
        EXPECT_EQ(header(m, header::reason), "exhausted");
        EXPECT_EQ(header(m, header::last_error), "timeout");
    }
    for (const auto& m : by_sub["garbage"]) {
        EXPECT_EQ(header(m, header::reason), "exhausted");
        EXPECT_EQ(header(m, header::last_error), "protocol_error");
    }
    for (const auto& m : by_sub["redirect"]) {
        EXPECT_EQ(header(m, header::reason), "permanent_status");
        EXPECT_EQ(header(m, header::last_status), "302");
        EXPECT_EQ(header(m, header::attempt), "1");
    }
    EXPECT_TRUE(wait_committed(15));
    EXPECT_EQ(worker_->stats().delivered, 6u); // big x3, endless x3
    EXPECT_EQ(canary.stats().connections.load(), 0) << "a redirect was followed";
    EXPECT_EQ(by_sub.count("big") + by_sub.count("endless"), 0u);

    // Reading stopped at the 64 KiB cap: the servers could push no more than the socket buffers hold.
    std::cout << "[ hostile  ] body bytes the servers managed to write: 1 GB response " << big_written.load()
              << ", endless chunked " << chunked_written.load() << "; RSS " << rss_before / 1024 << " MiB -> "
              << rss_kib() / 1024 << " MiB\n";
    EXPECT_LT(big_written.load(), 3 * 16L * 1024 * 1024);
    EXPECT_LT(chunked_written.load(), 3 * 16L * 1024 * 1024);
#ifdef RELAY_SANITIZED
    // Sanitizers keep freed memory in quarantine and add shadow memory: RSS says nothing about the worker
    // here.
#else
    EXPECT_LT(rss_kib() - rss_before, 64L * 1024) << "memory grew with the hostile bodies";
#endif
}

} // namespace
} // namespace relay::delivery
