// The SSRF matrix of design.md section 9 over the real outbound client (relay::http::client): every spelling
// of a blocked address (decimal, octal, hex, short IPv4; IPv4-mapped, -compatible and -translated IPv6;
// NAT64; 6to4), every blocked class (loopback, private, link-local and cloud metadata, CGNAT, multicast,
// unspecified, reserved), names resolving to blocked addresses, and DNS rebinding. Each request must fail
// with relay::net::errc::address_blocked naming the class, and a canary listener on the blocked loopback
// address (the policy disallows loopback) must see no connection at all.

#include "relay/http/client.hpp"
#include "relay/net/address_policy.hpp"
#include "relay/net/url.hpp"

#include "fake_dns.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <poll.h>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
namespace fake_dns = relay_test::fake_dns;

/// A TCP listener that must never be reached: counts accepted connections and the bytes they carried.
class canary
{
public:
    /// Listens on `address`:`port` (0: any free port). Throws boost::system::system_error when it cannot
    /// bind.
    explicit canary(const std::string& address, std::uint16_t port = 0)
        : acceptor_(ioc_, tcp::endpoint(asio::ip::make_address(address), port))
        , fd_(acceptor_.native_handle())
    {
        acceptor_.non_blocking(true);
        thread_ = std::thread([this] { run(); });
    }

    ~canary()
    {
        stop_ = true;
        thread_.join();
    }

    canary(const canary&) = delete;
    canary& operator=(const canary&) = delete;

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

    /// Connections accepted so far, plus any still waiting in the listen backlog.
    std::size_t connections() const
    {
        pollfd p{fd_, POLLIN, 0};
        const bool pending = ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
        return accepted_.load() + (pending ? 1 : 0);
    }

    std::size_t bytes() const { return bytes_.load(); }

private:
    void run()
    {
        while (!stop_) {
            pollfd p{acceptor_.native_handle(), POLLIN, 0};
            if (::poll(&p, 1, 20) != 1)
                continue;
            boost::system::error_code ec;
            tcp::socket s(ioc_);
            acceptor_.accept(s, ec);
            if (ec)
                continue;
            ++accepted_;
            // Count what the client sends before it gives up (it should never get here at all).
            char buf[4096];
            for (auto until = std::chrono::steady_clock::now() + 200ms;
                 std::chrono::steady_clock::now() < until;) {
                pollfd r{s.native_handle(), POLLIN, 0};
                if (::poll(&r, 1, 20) != 1)
                    continue;
                const auto n = s.read_some(asio::buffer(buf), ec);
                if (ec)
                    break;
                bytes_ += n;
            }
        }
    }

    asio::io_context ioc_;
    tcp::acceptor acceptor_;
    int fd_; // the listening socket, for poll() from const members
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> accepted_{0};
    std::atomic<std::size_t> bytes_{0};
    std::thread thread_;
};

/// A minimal allowed HTTP endpoint: answers every request with 200 "ok" and closes the connection.
class allowed_endpoint
{
public:
    allowed_endpoint(const std::string& address, std::uint16_t port)
        : acceptor_(ioc_, tcp::endpoint(asio::ip::make_address(address), port))
    {
        thread_ = std::thread([this] { run(); });
    }

    ~allowed_endpoint()
    {
        stop_ = true;
        thread_.join();
    }

    allowed_endpoint(const allowed_endpoint&) = delete;
    allowed_endpoint& operator=(const allowed_endpoint&) = delete;

    std::size_t requests() const { return requests_.load(); }

private:
    void run()
    {
        acceptor_.non_blocking(true);
        while (!stop_) {
            pollfd p{acceptor_.native_handle(), POLLIN, 0};
            if (::poll(&p, 1, 20) != 1)
                continue;
            boost::system::error_code ec;
            tcp::socket s(ioc_);
            acceptor_.accept(s, ec);
            if (ec)
                continue;
            s.non_blocking(false);
            // Read the head and the small body (Content-Length is all the client sends), then answer.
            std::string in;
            char buf[4096];
            while (in.find("\r\n\r\n") == std::string::npos || !body_complete(in)) {
                const auto n = s.read_some(asio::buffer(buf), ec);
                if (ec)
                    break;
                in.append(buf, n);
            }
            if (ec)
                continue;
            ++requests_;
            const std::string out = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
            asio::write(s, asio::buffer(out), ec);
            s.shutdown(tcp::socket::shutdown_both, ec);
        }
    }

    static bool body_complete(const std::string& in)
    {
        const auto head_end = in.find("\r\n\r\n") + 4;
        const auto at = in.find("\r\ncontent-length: ");
        const auto at_title = in.find("\r\nContent-Length: ");
        const auto pos = at != std::string::npos ? at : at_title;
        if (pos == std::string::npos || pos > head_end)
            return true;
        const auto length = std::stoul(in.substr(pos + 18));
        return in.size() >= head_end + length;
    }

    asio::io_context ioc_;
    tcp::acceptor acceptor_;
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> requests_{0};
    std::thread thread_;
};

struct result
{
    bool done = false;
    boost::system::error_code ec;
    relay::http::client_response resp;
};

/// Sends one POST through the real client on a private io_context, bounded in time.
class driver
{
public:
    explicit driver(relay::net::address_policy policy)
    {
        relay::http::client_params params;
        params.address_policy = std::move(policy);
        params.connect_timeout = 2s;
        client_.emplace(ioc_.get_executor(), std::move(params));
    }

    ~driver()
    {
        client_->close();
        client_.reset();
        ioc_.run_for(1s);
    }

    driver(const driver&) = delete;
    driver& operator=(const driver&) = delete;

    result send(const std::string& url)
    {
        auto parsed = relay::net::parse_url(url);
        EXPECT_TRUE(parsed) << url << ": " << (parsed ? "" : parsed.error().message());
        result out;
        if (!parsed)
            return out;
        relay::http::client_request req;
        req.url = *parsed;
        req.headers = {{"content-type", "application/json"}};
        req.body = R"({"probe":true})";
        req.timeout = 5s;
        client_->async_send(req, [&out](boost::system::error_code ec, relay::http::client_response resp) {
            out.done = true;
            out.ec = ec;
            out.resp = std::move(resp);
        });
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!out.done && std::chrono::steady_clock::now() < deadline)
            ioc_.run_one_for(100ms);
        EXPECT_TRUE(out.done) << url << ": no completion within 10 s";
        return out;
    }

private:
    asio::io_context ioc_;
    std::optional<relay::http::client> client_;
};

/// The policy of a production worker: public unicast only (loopback, private and the rest refused).
relay::net::address_policy default_policy()
{
    return {};
}

std::string replace_port(std::string url, std::uint16_t port)
{
    const auto at = url.find("{port}");
    if (at != std::string::npos)
        url.replace(at, 6, std::to_string(port));
    return url;
}

/// One row of the matrix: a URL ("{port}" is the canary's port) and a word its refusal must name.
struct blocked_case
{
    const char* name;
    const char* url;
    const char* expect; ///< substring of the error message: the class, or "cloud metadata"
};

void PrintTo(const blocked_case& c, std::ostream* os)
{
    *os << c.url;
}

// The canary listens on 127.0.0.1; every form below that denotes 127.0.0.1 (or 0.0.0.0, which Linux connects
// to the local host) would reach it if the check were missing or fooled.
const blocked_case literal_cases[] = {
    // IPv4 spellings the system resolver accepts (inet_aton).
    {"dotted_loopback", "http://127.0.0.1:{port}/", "loopback"},
    {"short_loopback", "http://127.1:{port}/", "loopback"},
    {"decimal_loopback", "http://2130706433:{port}/", "loopback"},
    {"octal_loopback", "http://0177.0.0.1:{port}/", "loopback"},
    {"hex_loopback", "http://0x7f.0.0.1:{port}/", "loopback"},
    {"hex_whole_loopback", "http://0x7f000001:{port}/", "loopback"},
    {"loopback_other", "http://127.255.255.254:{port}/", "loopback"},
    {"decimal_metadata", "http://2852039166/", "cloud metadata"},
    {"octal_metadata", "http://0251.0376.0251.0376/", "cloud metadata"},
    {"hex_metadata", "http://0xa9.0xfe.0xa9.0xfe/", "cloud metadata"},
    {"short_metadata", "http://169.16689662/", "cloud metadata"},
    {"unspecified", "http://0.0.0.0:{port}/", "unspecified"},
    {"unspecified_decimal", "http://0:{port}/", "unspecified"},
    // IPv6 loopback and IPv4 embedded in IPv6.
    {"v6_loopback", "http://[::1]:{port}/", "loopback"},
    {"v6_unspecified", "http://[::]:{port}/", "unspecified"},
    {"mapped_loopback", "http://[::ffff:127.0.0.1]:{port}/", "loopback"},
    {"mapped_loopback_hex", "http://[::ffff:7f00:1]:{port}/", "loopback"},
    {"mapped_metadata", "http://[::ffff:169.254.169.254]/", "cloud metadata"},
    {"mapped_private", "http://[::ffff:10.0.0.1]/", "private"},
    {"compatible_loopback", "http://[::127.0.0.1]:{port}/", "loopback"},
    {"translated_loopback", "http://[::ffff:0:127.0.0.1]:{port}/", "loopback"},
    {"nat64_private", "http://[64:ff9b::10.0.0.1]/", "private"},
    {"nat64_private_hex", "http://[64:ff9b::c0a8:101]/", "private"},
    {"nat64_loopback", "http://[64:ff9b::7f00:1]:{port}/", "loopback"},
    {"nat64_metadata", "http://[64:ff9b::a9fe:a9fe]/", "cloud metadata"},
    {"nat64_local_use", "http://[64:ff9b:1::a00:1]/", "private"},
    {"sixtofour_private", "http://[2002:c0a8:101::1]/", "private"},
    {"sixtofour_private_10", "http://[2002:a00:1::]/", "private"},
    {"sixtofour_loopback", "http://[2002:7f00:1::1]:{port}/", "loopback"},
    {"sixtofour_metadata", "http://[2002:a9fe:a9fe::]/", "cloud metadata"},
    // Private, link-local and cloud metadata.
    {"private_10", "http://10.0.0.1/", "private"},
    {"private_172", "http://172.16.0.1/", "private"},
    {"private_172_top", "http://172.31.255.255/", "private"},
    {"private_192", "http://192.168.1.1/", "private"},
    {"private_v6", "http://[fd12:3456::1]/", "private"},
    {"link_local", "http://169.254.1.1/", "link-local"},
    {"link_local_v6", "http://[fe80::1]/", "link-local"},
    {"metadata", "http://169.254.169.254/latest/meta-data/", "cloud metadata"},
    {"metadata_ecs", "http://169.254.170.2/v2/credentials", "cloud metadata"},
    {"metadata_aws_v6", "http://[fd00:ec2::254]/", "cloud metadata"},
    {"metadata_alibaba", "http://100.100.100.200/", "cloud metadata"},
    {"metadata_azure_wireserver", "http://168.63.129.16/", "cloud metadata"},
    {"metadata_oracle", "http://192.0.0.192/", "cloud metadata"},
    // CGNAT, multicast, reserved.
    {"cgnat", "http://100.64.0.1/", "carrier-grade NAT"},
    {"cgnat_top", "http://100.127.255.254/", "carrier-grade NAT"},
    {"multicast", "http://224.0.0.1/", "multicast"},
    {"multicast_ssdp", "http://239.255.255.250/", "multicast"},
    {"multicast_v6", "http://[ff02::1]/", "multicast"},
    {"mapped_multicast", "http://[::ffff:224.0.0.1]/", "multicast"},
    {"reserved_class_e", "http://240.0.0.1/", "reserved"},
    {"broadcast", "http://255.255.255.255/", "reserved"},
    {"test_net_1", "http://192.0.2.1/", "reserved"},
    {"benchmarking", "http://198.18.0.1/", "reserved"},
    {"ietf_protocol", "http://192.0.0.8/", "reserved"},
    {"documentation_v6", "http://[2001:db8::1]/", "reserved"},
    {"discard_only_v6", "http://[100::1]/", "reserved"},
    {"teredo", "http://[2001::1]/", "reserved"},
};

class ssrf_literal : public ::testing::TestWithParam<blocked_case>
{};

TEST_P(ssrf_literal, is_refused_at_connect_time_and_the_canary_sees_nothing)
{
    const auto& c = GetParam();
    canary trap("127.0.0.1");
    driver d(default_policy());

    const auto url = replace_port(c.url, trap.port());
    const auto out = d.send(url);
    ASSERT_TRUE(out.done);
    EXPECT_EQ(out.ec, relay::net::errc::address_blocked) << url << ": " << out.ec.message();
    EXPECT_NE(out.ec.message().find(c.expect), std::string::npos) << url << ": " << out.ec.message();
    EXPECT_EQ(out.resp.status, 0u);
    EXPECT_NE(out.resp.error_detail.find("not allowed by the address policy"), std::string::npos)
        << out.resp.error_detail;
    EXPECT_EQ(trap.connections(), 0u) << url;
    EXPECT_EQ(trap.bytes(), 0u) << url;
}

INSTANTIATE_TEST_SUITE_P(
    design_section_9,
    ssrf_literal,
    ::testing::ValuesIn(literal_cases),
    [](const ::testing::TestParamInfo<blocked_case>& info) { return std::string(info.param.name); }
);

// Names whose DNS answer is a blocked address: cloud metadata names, and names an attacker points anywhere.
struct name_case
{
    const char* name;
    const char* host;
    std::vector<std::string> addresses; ///< "{canary}" is the canary's address
    const char* expect;
};

void PrintTo(const name_case& c, std::ostream* os)
{
    *os << c.host;
}

const name_case name_cases[] = {
    {"gcp_metadata", "metadata.google.internal", {"169.254.169.254"}, "cloud metadata"},
    {"gcp_metadata_short", "metadata", {"169.254.169.254"}, "cloud metadata"},
    {"aws_metadata", "instance-data.ec2.internal", {"169.254.169.254", "fd00:ec2::254"}, "cloud metadata"},
    {"azure_wireserver", "wireserver.ssrf.test", {"168.63.129.16"}, "cloud metadata"},
    {"to_loopback", "loopback.ssrf.test", {"127.0.0.1"}, "loopback"},
    {"to_private", "private.ssrf.test", {"10.20.30.40"}, "private"},
    {"to_private_v6", "private6.ssrf.test", {"fd00::1"}, "private"},
    {"to_mapped_loopback", "mapped.ssrf.test", {"::ffff:127.0.0.1"}, "loopback"},
    {"to_nat64_private", "nat64.ssrf.test", {"64:ff9b::a00:1"}, "private"},
    {"to_6to4_private", "sixtofour.ssrf.test", {"2002:c0a8:101::1"}, "private"},
    {"to_cgnat", "cgnat.ssrf.test", {"100.64.1.1"}, "carrier-grade NAT"},
    {"to_multicast", "multicast.ssrf.test", {"239.1.2.3"}, "multicast"},
    {"to_reserved", "reserved.ssrf.test", {"240.1.2.3"}, "reserved"},
    {"to_unspecified", "zero.ssrf.test", {"0.0.0.0"}, "unspecified"},
    // Every address of the answer is checked, not only the first.
    {"all_blocked", "mixed.ssrf.test", {"10.0.0.1", "127.0.0.1", "169.254.169.254"}, "private"},
};

class ssrf_name : public ::testing::TestWithParam<name_case>
{
protected:
    void TearDown() override { fake_dns::clear(); }
};

TEST_P(ssrf_name, resolving_to_a_blocked_address_is_refused_and_the_canary_sees_nothing)
{
    const auto& c = GetParam();
    canary trap("127.0.0.1");
    fake_dns::set(c.host, {c.addresses});
    driver d(default_policy());

    const auto url = "http://" + std::string(c.host) + ":" + std::to_string(trap.port()) + "/hook";
    const auto out = d.send(url);
    ASSERT_TRUE(out.done);
    EXPECT_EQ(fake_dns::lookups(c.host), 1u);
    EXPECT_EQ(out.ec, relay::net::errc::address_blocked) << url << ": " << out.ec.message();
    EXPECT_NE(out.ec.message().find(c.expect), std::string::npos) << url << ": " << out.ec.message();
    EXPECT_EQ(out.resp.status, 0u);
    EXPECT_EQ(trap.connections(), 0u) << url;
    EXPECT_EQ(trap.bytes(), 0u) << url;
}

INSTANTIATE_TEST_SUITE_P(
    design_section_9,
    ssrf_name,
    ::testing::ValuesIn(name_cases),
    [](const ::testing::TestParamInfo<name_case>& info) { return std::string(info.param.name); }
);

// "localhost" through the system resolver (/etc/hosts), no fake involved.
TEST(ssrf, localhost_via_the_system_resolver_is_refused)
{
    canary trap("127.0.0.1");
    driver d(default_policy());
    const auto out = d.send("http://localhost:" + std::to_string(trap.port()) + "/");
    ASSERT_TRUE(out.done);
    EXPECT_EQ(out.ec, relay::net::errc::address_blocked) << out.ec.message() << " " << out.resp.error_detail;
    EXPECT_NE(out.ec.message().find("loopback"), std::string::npos) << out.ec.message();
    EXPECT_EQ(trap.connections(), 0u);
}

/// A canary on 127.0.0.1 and an allowed endpoint on 127.0.0.2, both on the same port, so that a name can move
/// from one to the other between lookups as a rebinding attacker's DNS would. The policy allows only
/// 127.0.0.2/32 (standing in for a public address: loopback itself stays disallowed).
struct rebinding_setup
{
    std::unique_ptr<canary> trap;
    std::unique_ptr<allowed_endpoint> allowed;
    relay::net::address_policy policy;

    rebinding_setup()
    {
        for (int attempt = 0; attempt < 20 && !allowed; ++attempt) {
            trap = std::make_unique<canary>("127.0.0.1");
            try {
                allowed = std::make_unique<allowed_endpoint>("127.0.0.2", trap->port());
            } catch (const boost::system::system_error&) {
                // the port is taken on 127.0.0.2: try another one
            }
        }
        if (!allowed)
            throw std::runtime_error("no port free on both 127.0.0.1 and 127.0.0.2");
        policy.allow.push_back(relay::net::parse_cidr("127.0.0.2/32").value());
    }

    std::uint16_t port() const { return trap->port(); }
};

class ssrf_rebinding : public ::testing::Test
{
protected:
    void TearDown() override { fake_dns::clear(); }
};

TEST_F(ssrf_rebinding, a_name_that_moves_to_a_blocked_address_is_checked_again_at_the_next_connect)
{
    rebinding_setup env;
    // First lookup: the allowed address; every later one: the canary's blocked loopback address.
    fake_dns::set("rebind.ssrf.test", {{"127.0.0.2"}, {"127.0.0.1"}});
    driver d(env.policy);
    const auto url = "http://rebind.ssrf.test:" + std::to_string(env.port()) + "/hook";

    const auto first = d.send(url);
    ASSERT_TRUE(first.done);
    ASSERT_FALSE(first.ec) << first.ec.message() << " " << first.resp.error_detail;
    EXPECT_EQ(first.resp.status, 200u);
    EXPECT_EQ(env.allowed->requests(), 1u);

    // The endpoint closed its connection, so the next request connects again: the new answer is checked.
    const auto second = d.send(url);
    ASSERT_TRUE(second.done);
    EXPECT_EQ(second.ec, relay::net::errc::address_blocked) << second.ec.message();
    EXPECT_NE(second.ec.message().find("loopback"), std::string::npos) << second.ec.message();
    EXPECT_EQ(fake_dns::lookups("rebind.ssrf.test"), 2u);
    EXPECT_EQ(env.allowed->requests(), 1u);
    EXPECT_EQ(env.trap->connections(), 0u);
    EXPECT_EQ(env.trap->bytes(), 0u);
}

TEST_F(ssrf_rebinding, a_mixed_answer_connects_only_to_the_allowed_address)
{
    rebinding_setup env;
    // The blocked address first: a client that checked only one address, or connected to all, would hit it.
    fake_dns::set("mixed-rebind.ssrf.test", {{"127.0.0.1", "127.0.0.2"}});
    driver d(env.policy);
    const auto out = d.send("http://mixed-rebind.ssrf.test:" + std::to_string(env.port()) + "/hook");
    ASSERT_TRUE(out.done);
    ASSERT_FALSE(out.ec) << out.ec.message() << " " << out.resp.error_detail;
    EXPECT_EQ(out.resp.status, 200u);
    EXPECT_EQ(env.allowed->requests(), 1u);
    EXPECT_EQ(env.trap->connections(), 0u);
    EXPECT_EQ(env.trap->bytes(), 0u);
}

// Control: the canary and the check are live. With loopback allowed the same URL reaches the canary, so a
// zero count above means "refused", not "the canary cannot be reached".
TEST(ssrf, control_the_canary_counts_a_connection_when_loopback_is_allowed)
{
    canary trap("127.0.0.1");
    relay::net::address_policy open;
    open.allow_loopback = true;
    driver d(open);
    // The canary never answers and closes after 200 ms: the request fails after connecting and sending.
    const auto out = d.send("http://127.1:" + std::to_string(trap.port()) + "/");
    ASSERT_TRUE(out.done);
    EXPECT_NE(out.ec, relay::net::errc::address_blocked);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (trap.bytes() == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    EXPECT_EQ(trap.connections(), 1u);
    EXPECT_GT(trap.bytes(), 0u);
}

} // namespace
