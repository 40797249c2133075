// Chaos scenario 5 (issue 9): network trouble between a `relay deliver` worker and its receiver. Each test
// builds its own network namespace and veth pair (private /30 addresses), runs the loopback receiver inside
// the namespace behind a small TCP forwarder listening on the namespace's veth address, and lets a real
// worker in the root namespace deliver there (`delivery.allowed_networks` opens the /30). The faults are made
// with what the machine has, probed at start and named in the output:
// - delay and loss: `tc netem` on both veth ends when the kernel has it, else the forwarder (every chunk held
//   for the delay; "loss" as TCP sees it: retransmission waits of 200 ms, doubling, and connections whose
//   packets stop crossing altogether);
// - black hole: both neighbour entries pinned to an unused MAC address, so every frame on the veth is
//   discarded in silence (no ICMP, no RST: connects and requests time out); needs nothing but netns.
// Checked against what Kafka acknowledged to the producer: nothing lost, timeouts and retries as configured.
// Skipped with the reason when namespaces cannot be made (no root, no `ip`). The namespace and the veth pair
// are always removed (RAII; leftovers of a killed run are removed by the next one). Host interfaces are
// never touched.
#include "relay/kafka/admin.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/webhook/secret.hpp"

#include "harness.hpp"
#include "support/http/connection.hpp"
#include "support/http/receiver.hpp"
#include "support/kafka/kafka.hpp"
#include "support/process/process.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <sched.h>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using asio::ip::tcp;
using steady = std::chrono::steady_clock;

constexpr int partitions = 3; // write_worker_config's kafka.partitions

// Offsets are committed every 200 ms, as in the other chaos tests.
constexpr std::string_view fast_commit = R"("auto.commit.interval.ms": "200")";

// The delivery timeout of every scenario (request and connect); the retry schedule is 1s, 2s, 4s.
constexpr auto delivery_timeout = 2s;

// ---- commands ----

// The first executable `name` in PATH, /usr/sbin or /sbin; empty when there is none.
fs::path find_tool(const std::string& name)
{
    const char* path = std::getenv("PATH"); // NOLINT(concurrency-mt-unsafe): read-only
    std::stringstream dirs(std::string(path != nullptr ? path : "") + ":/usr/sbin:/sbin:/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        if (dir.empty())
            continue;
        const auto candidate = fs::path(dir) / name;
        if (::access(candidate.c_str(), X_OK) == 0)
            return candidate;
    }
    return {};
}

// What a command printed and whether it exited 0.
struct command_result
{
    bool ok = false;
    std::string output;
};

// Runs commands (no shell), appending each command line and its output to a transcript file.
class command_runner
{
public:
    explicit command_runner(fs::path transcript)
        : transcript_(std::move(transcript))
    {}

    command_result run(const std::vector<std::string>& argv) const
    {
        {
            std::ofstream out(transcript_, std::ios::app);
            out << "$";
            for (const auto& a : argv)
                out << " " << a;
            out << "\n";
        }
        const auto from = relay::test::file_size_or_zero(transcript_);
        relay::test::process_options o;
        o.argv = argv;
        o.log_file = transcript_;
        relay::test::process p(o);
        const auto st = p.wait_for_exit(20s);
        command_result r;
        r.output = relay::test::read_text_file(transcript_).substr(from);
        while (!r.output.empty() && (r.output.back() == '\n' || r.output.back() == ' '))
            r.output.pop_back();
        r.ok = st && st->exited_with(0);
        if (!st)
            r.output += " (did not finish within 20 s)";
        else if (!r.ok)
            r.output += " (" + st->describe() + ")";
        return r;
    }

    const fs::path& transcript() const noexcept { return transcript_; }

private:
    fs::path transcript_;
};

// ---- the namespace ----

constexpr std::string_view netns_prefix = "relaynf-";

// Removes namespaces "relaynf-<pid>-<n>" left by test processes that no longer exist (killed by a timeout
// before their guard ran). Deleting the namespace deletes its veth pair.
void remove_stale_namespaces(const command_runner& cmd, const fs::path& ip)
{
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/run/netns", ec)) {
        const auto name = entry.path().filename().string();
        if (!name.starts_with(netns_prefix))
            continue;
        const auto rest = name.substr(netns_prefix.size());
        const auto dash = rest.find('-');
        if (dash == std::string::npos || dash == 0 || rest.find_first_not_of("0123456789") != dash)
            continue;
        const auto pid = static_cast<pid_t>(std::stol(rest.substr(0, dash)));
        if (::kill(pid, 0) != 0 && errno == ESRCH) {
            std::cout << "[ netfault ] removing namespace " << name << " left by process " << pid << "\n";
            cmd.run({ip.string(), "netns", "del", name});
        }
    }
}

// A network namespace "relaynf-<pid>-<n>" joined to the root namespace by a veth pair: host side
// 10.213.A.B+1/30, namespace side +2. Everything it created is removed by the destructor (or when creation
// fails half-way). Thread-safety: none, but enter() may be called from any thread.
class network_namespace
{
public:
    network_namespace(const command_runner& cmd, fs::path ip_path, fs::path tc_path, int n)
        : cmd_(cmd)
        , ip_(std::move(ip_path))
        , tc_(std::move(tc_path))
    {
        const auto pid = std::to_string(::getpid());
        name_ = std::string(netns_prefix) + pid + "-" + std::to_string(n);
        host_if_ = "nfh" + pid + "x" + std::to_string(n);
        ns_if_ = "nfn" + pid + "x" + std::to_string(n);
        pick_subnet(n);
        auto r = ip({"netns", "add", name_});
        if (!r.ok)
            throw unavailable("`ip netns add " + name_ + "` failed: " + r.output);
        created_ = true;
        for (const auto& argv : std::vector<std::vector<std::string>>{
                 {"link", "add", host_if_, "type", "veth", "peer", "name", ns_if_, "netns", name_},
                 {"addr", "add", host_address_ + "/30", "dev", host_if_},
                 {"link", "set", host_if_, "up"},
                 {"-n", name_, "addr", "add", ns_address_ + "/30", "dev", ns_if_},
                 {"-n", name_, "link", "set", ns_if_, "up"},
                 {"-n", name_, "link", "set", "lo", "up"}}) {
            r = ip(argv);
            if (!r.ok) {
                remove();
                std::string line;
                for (const auto& a : argv)
                    line += " " + a;
                throw unavailable("`ip" + line + "` failed: " + r.output);
            }
        }
    }

    ~network_namespace() { remove(); }

    network_namespace(const network_namespace&) = delete;
    network_namespace& operator=(const network_namespace&) = delete;

    // Thrown when the machine cannot make what is needed (the test is then skipped).
    struct unavailable : std::runtime_error
    {
        using std::runtime_error::runtime_error;
    };

    const std::string& name() const noexcept { return name_; }
    const std::string& host_address() const noexcept { return host_address_; }
    const std::string& ns_address() const noexcept { return ns_address_; }
    std::string subnet() const { return network_ + "/30"; }
    std::string describe() const
    {
        return "namespace " + name_ + ", veth " + host_if_ + " (" + host_address_ + ") <-> " + ns_if_ + " (" +
               ns_address_ + ")";
    }

    // Moves the calling thread into the namespace (sockets it creates afterwards live there). Throws
    // std::system_error.
    void enter() const
    {
        const auto path = "/run/netns/" + name_;
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            throw std::system_error(errno, std::generic_category(), "open " + path);
        const int rc = ::setns(fd, CLONE_NEWNET);
        const int err = errno;
        ::close(fd);
        if (rc != 0)
            throw std::system_error(err, std::generic_category(), "setns " + path);
    }

    // Runs `fn` on a thread inside the namespace and waits for it; rethrows what it threw.
    void run_inside(const std::function<void()>& fn) const
    {
        std::exception_ptr error;
        std::thread t([&] {
            try {
                enter();
                fn();
            } catch (...) {
                error = std::current_exception();
            }
        });
        t.join();
        if (error)
            std::rethrow_exception(error);
    }

    // Whether the kernel has the netem qdisc (tried on the namespace's veth end, then removed), and what tc
    // said.
    std::pair<bool, std::string> probe_netem() const
    {
        if (tc_.empty())
            return {false, "tc not found"};
        const auto r = tc({"-n", name_, "qdisc", "add", "dev", ns_if_, "root", "netem", "delay", "1ms"});
        if (r.ok)
            tc({"-n", name_, "qdisc", "del", "dev", ns_if_, "root"});
        return {r.ok, r.output};
    }

    // `tc qdisc replace ... root netem <args>` on both veth ends (so each direction gets it). Fails the test.
    bool set_netem(const std::vector<std::string>& args) const
    {
        for (const bool inside : {false, true}) {
            std::vector<std::string> argv;
            if (inside)
                argv = {"-n", name_};
            for (const auto& a : {"qdisc", "replace", "dev"})
                argv.emplace_back(a);
            argv.push_back(inside ? ns_if_ : host_if_);
            argv.emplace_back("root");
            argv.emplace_back("netem");
            argv.insert(argv.end(), args.begin(), args.end());
            const auto r = tc(argv);
            if (!r.ok) {
                ADD_FAILURE() << "tc netem on " << (inside ? ns_if_ : host_if_) << ": " << r.output;
                return false;
            }
        }
        return true;
    }

    // Black hole on or off: both neighbour entries pinned to an unused, locally administered MAC address, so
    // the peer discards every frame (not for its address) without a sound; off deletes them (ARP resolves
    // again).
    bool set_black_hole(bool on) const
    {
        using argv_list = std::vector<std::vector<std::string>>;
        argv_list cmds;
        if (on) {
            cmds.push_back({"neigh", "replace", ns_address_, "lladdr", unused_mac, "dev", host_if_});
            cmds.push_back(
                {"-n", name_, "neigh", "replace", host_address_, "lladdr", unused_mac, "dev", ns_if_}
            );
            for (auto& argv : cmds) {
                argv.emplace_back("nud");
                argv.emplace_back("permanent");
            }
        } else {
            cmds.push_back({"neigh", "del", ns_address_, "dev", host_if_});
            cmds.push_back({"-n", name_, "neigh", "del", host_address_, "dev", ns_if_});
        }
        bool ok = true;
        for (const auto& argv : cmds) {
            const auto r = ip(argv);
            if (!r.ok) {
                ADD_FAILURE() << "black hole " << (on ? "on" : "off") << ": " << r.output;
                ok = false;
            }
        }
        return ok;
    }

private:
    static constexpr const char* unused_mac = "02:00:5e:ee:ee:ee";

    command_result ip(const std::vector<std::string>& args) const
    {
        std::vector<std::string> argv{ip_.string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return cmd_.run(argv);
    }

    command_result tc(const std::vector<std::string>& args) const
    {
        std::vector<std::string> argv{tc_.string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return cmd_.run(argv);
    }

    // A /30 of 10.213.0.0/16 from the pid (parallel tests differ) that no root interface already uses.
    void pick_subnet(int n)
    {
        const auto used = ip({"-o", "-4", "addr", "show"}).output;
        const auto first = static_cast<unsigned>(::getpid()) * 8U + static_cast<unsigned>(n);
        for (unsigned i = 0; i < 16384; ++i) {
            const unsigned idx = (first + i * 8U) % 16384U;
            const auto base = "10.213." + std::to_string(idx / 64) + ".";
            const unsigned host = (idx % 64) * 4;
            network_ = base + std::to_string(host);
            host_address_ = base + std::to_string(host + 1);
            ns_address_ = base + std::to_string(host + 2);
            if (used.find(" " + host_address_ + "/") == std::string::npos &&
                used.find(" " + ns_address_ + "/") == std::string::npos)
                return;
        }
        throw unavailable("no free /30 in 10.213.0.0/16");
    }

    void remove() noexcept
    {
        if (!created_)
            return;
        created_ = false;
        try {
            ip({"link", "del", host_if_}); // both ends; fails harmlessly when it was never made
            const auto r = ip({"netns", "del", name_});
            if (!r.ok)
                std::cout << "[ netfault ] could not delete namespace " << name_ << ": " << r.output << "\n";
        } catch (const std::exception& e) {
            std::cout << "[ netfault ] cleaning up " << name_ << ": " << e.what() << "\n";
        }
    }

    const command_runner& cmd_;
    fs::path ip_;
    fs::path tc_;
    std::string name_;
    std::string host_if_;
    std::string ns_if_;
    std::string network_;
    std::string host_address_;
    std::string ns_address_;
    bool created_ = false;
};

// ---- the forwarder ----

// What the forwarder does to the bytes crossing it.
struct path_faults
{
    std::chrono::milliseconds delay{0}; // every chunk, each direction
    double retransmit_probability = 0;  // per chunk and try: the chunk waits one more RTO (200 ms, doubling)
    double stall_probability = 0;       // per chunk: nothing crosses that connection any more (either way)
};

// What the forwarder saw.
struct forwarder_stats
{
    std::size_t connections = 0;
    std::size_t chunks = 0;
    std::size_t retransmits = 0; // RTO waits added
    std::size_t stalled = 0;     // connections black-holed
    std::size_t errors = 0;      // exceptions escaping a session (should stay 0)
};

// A TCP forwarder inside the namespace: listens on `listen_address`:0 and forwards every connection to
// 127.0.0.1:`upstream_port` (the namespace's loopback, where the receiver listens), applying `faults`. Runs
// one io_context thread that entered the namespace first, so every socket it makes lives there. Chunks of one
// direction keep their order, as TCP would. Thread-safety: the public members may be called from any thread.
class path_forwarder
{
public:
    path_forwarder(
        const network_namespace& ns,
        const std::string& listen_address,
        std::uint16_t upstream_port,
        path_faults faults,
        std::uint32_t seed
    )
        : faults_(faults)
        , upstream_port_(upstream_port)
        , rng_(seed)
        , acceptor_(ioc_)
    {
        std::promise<std::uint16_t> bound;
        auto port = bound.get_future();
        thread_ = std::thread([this, &ns, &bound, listen_address] {
            try {
                ns.enter();
                const tcp::endpoint ep(asio::ip::make_address(listen_address), 0);
                acceptor_.open(ep.protocol());
                acceptor_.set_option(tcp::acceptor::reuse_address(true));
                acceptor_.bind(ep);
                acceptor_.listen();
                bound.set_value(acceptor_.local_endpoint().port());
            } catch (...) {
                bound.set_exception(std::current_exception());
                return;
            }
            asio::co_spawn(ioc_, accept_loop(), [this](const std::exception_ptr& e) { note(e); });
            ioc_.run();
        });
        try {
            port_ = port.get();
        } catch (...) {
            thread_.join();
            throw;
        }
    }

    ~path_forwarder()
    {
        asio::post(ioc_, [this] {
            boost::system::error_code ec;
            acceptor_.close(ec);
            for (auto& w : live_) {
                if (auto c = w.lock())
                    c->close();
            }
        });
        asio::post(ioc_, [this] { ioc_.stop(); });
        thread_.join();
    }

    path_forwarder(const path_forwarder&) = delete;
    path_forwarder& operator=(const path_forwarder&) = delete;

    std::uint16_t port() const noexcept { return port_; }

    forwarder_stats stats() const
    {
        std::lock_guard lock(mutex_);
        return stats_;
    }

private:
    struct chunk
    {
        steady::time_point due;
        std::string bytes;
    };

    // One direction: chunks waiting for their time, and the writer's wake-up timer.
    struct pipe
    {
        explicit pipe(const asio::any_io_executor& ex)
            : wake(ex)
        {}
        std::deque<chunk> queue;
        asio::steady_timer wake;
        steady::time_point last_due{};
        bool reader_done = false;
    };

    struct connection
    {
        explicit connection(tcp::socket s)
            : down(std::move(s))
            , up(down.get_executor())
        {}
        // Closes both sockets and wakes both writers, which then end.
        void close()
        {
            closed = true;
            boost::system::error_code ec;
            down.close(ec);
            up.close(ec);
            for (auto& p : pipes) {
                if (p)
                    p->wake.cancel();
            }
        }
        tcp::socket down; // from the worker
        tcp::socket up;   // to the receiver
        std::array<std::shared_ptr<pipe>, 2> pipes;
        bool stalled = false;
        bool closed = false;
        int writers_done = 0;
    };

    using conn_ptr = std::shared_ptr<connection>;

    void note(const std::exception_ptr& e)
    {
        if (!e)
            return;
        std::lock_guard lock(mutex_);
        ++stats_.errors;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::cout << "[ netfault ] forwarder session failed: " << x.what() << "\n";
        } catch (...) {
        }
    }

    bool roll(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

    asio::awaitable<void> accept_loop()
    {
        for (;;) {
            auto [ec, s] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec == asio::error::operation_aborted || !acceptor_.is_open())
                co_return;
            if (ec)
                continue;
            {
                std::lock_guard lock(mutex_);
                ++stats_.connections;
            }
            asio::co_spawn(ioc_, session(std::make_shared<connection>(std::move(s))), [this](auto e) {
                note(e);
            });
        }
    }

    asio::awaitable<void> session(conn_ptr c)
    {
        std::erase_if(live_, [](const auto& w) { return w.expired(); });
        live_.push_back(c);
        const tcp::endpoint upstream(asio::ip::make_address("127.0.0.1"), upstream_port_);
        auto [ec] = co_await c->up.async_connect(upstream, asio::as_tuple(asio::use_awaitable));
        if (ec) {
            c->close();
            co_return;
        }
        auto ex = co_await asio::this_coro::executor;
        for (const bool to_receiver : {true, false}) {
            auto p = std::make_shared<pipe>(ex);
            c->pipes[to_receiver ? 0 : 1] = p;
            auto& from = to_receiver ? c->down : c->up;
            auto& to = to_receiver ? c->up : c->down;
            asio::co_spawn(ex, writer(c, p, to), [this](auto e) { note(e); });
            asio::co_spawn(ex, reader(c, p, from), [this](auto e) { note(e); });
        }
    }

    asio::awaitable<void> reader(conn_ptr c, std::shared_ptr<pipe> p, tcp::socket& from)
    {
        std::array<char, 16384> buf{};
        for (;;) {
            auto [ec, n] =
                co_await from.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
            if (c->closed)
                co_return;
            if (ec) {
                // A graceful end crosses like the data (after it); anything else, or the end of a stalled
                // connection (the worker gave up on it), closes both sides at once.
                if (ec != asio::error::eof || c->stalled) {
                    c->close();
                } else {
                    p->reader_done = true;
                }
                p->wake.cancel();
                co_return;
            }
            auto due = steady::now() + faults_.delay;
            {
                std::lock_guard lock(mutex_);
                ++stats_.chunks;
                if (!c->stalled && roll(faults_.stall_probability)) {
                    c->stalled = true;
                    ++stats_.stalled;
                }
                if (c->stalled)
                    continue; // lost: this and everything after it, both ways
                auto rto = std::chrono::milliseconds(200);
                for (int tries = 0; tries < 6 && roll(faults_.retransmit_probability); ++tries) {
                    due += rto;
                    rto *= 2;
                    ++stats_.retransmits;
                }
            }
            due = std::max(due, p->last_due); // in order, as TCP delivers
            p->last_due = due;
            p->queue.push_back({due, std::string(buf.data(), n)});
            p->wake.cancel();
        }
    }

    asio::awaitable<void> writer(conn_ptr c, std::shared_ptr<pipe> p, tcp::socket& to)
    {
        for (;;) {
            if (c->closed)
                co_return;
            if (c->stalled)
                p->queue.clear();
            if (p->queue.empty()) {
                if (p->reader_done) {
                    boost::system::error_code ec;
                    to.shutdown(tcp::socket::shutdown_send, ec);
                    if (++c->writers_done == 2)
                        c->close();
                    co_return;
                }
                p->wake.expires_at(steady::time_point::max());
                co_await p->wake.async_wait(asio::as_tuple(asio::use_awaitable));
                continue;
            }
            if (steady::now() < p->queue.front().due) {
                p->wake.expires_at(p->queue.front().due);
                co_await p->wake.async_wait(asio::as_tuple(asio::use_awaitable));
                continue;
            }
            const auto bytes = std::move(p->queue.front().bytes);
            p->queue.pop_front();
            auto [ec, n] =
                co_await asio::async_write(to, asio::buffer(bytes), asio::as_tuple(asio::use_awaitable));
            if (ec) {
                c->close();
                co_return;
            }
        }
    }

    const path_faults faults_;
    const std::uint16_t upstream_port_;
    std::mt19937 rng_; // io thread only
    asio::io_context ioc_;
    tcp::acceptor acceptor_;
    std::vector<std::weak_ptr<connection>> live_; // io thread only
    std::uint16_t port_ = 0;
    mutable std::mutex mutex_;
    forwarder_stats stats_;
    std::thread thread_;
};

// ---- the worker's figures ----

// What the worker's debug log says about its attempts.
struct attempt_log
{
    std::map<std::string, std::size_t> failures_by_reason; // "delivery attempt failed" lines
    std::vector<long> delivered_ms;                        // duration_ms of every "delivered" line

    std::size_t failures() const
    {
        std::size_t n = 0;
        for (const auto& [reason, count] : failures_by_reason)
            n += count;
        return n;
    }
    // Attempts that ended by the request or the connect timeout.
    std::size_t timeouts() const
    {
        std::size_t n = 0;
        for (const auto* r : {"timeout", "connect_timeout"}) {
            if (const auto it = failures_by_reason.find(r); it != failures_by_reason.end())
                n += it->second;
        }
        return n;
    }
    std::string reasons() const
    {
        std::string out;
        for (const auto& [reason, count] : failures_by_reason)
            out += (out.empty() ? "" : ", ") + reason + " " + std::to_string(count);
        return out.empty() ? "none" : out;
    }
    long percentile(double q) const
    {
        if (delivered_ms.empty())
            return -1;
        auto v = delivered_ms;
        std::sort(v.begin(), v.end());
        return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
    }
};

attempt_log read_attempt_log(const fs::path& log)
{
    attempt_log a;
    std::ifstream in(log);
    std::string line;
    const std::regex reason("\"reason\":\"([a-z_]+)\"");
    const std::regex duration("\"duration_ms\":([0-9]+)");
    std::smatch m;
    while (std::getline(in, line)) {
        if (line.find(R"("msg":"delivery attempt failed")") != std::string::npos) {
            ++a.failures_by_reason[std::regex_search(line, m, reason) ? m[1].str() : "unknown"];
        } else if (line.find(R"("msg":"delivered")") != std::string::npos) {
            if (std::regex_search(line, m, duration))
                a.delivered_ms.push_back(std::stol(m[1].str()));
        }
    }
    return a;
}

// The sum of every sample of `name` in a Prometheus text exposition (optionally only those whose labels
// contain `label`).
double metric_sum(const std::string& text, const std::string& name, const std::string& label = {})
{
    double sum = 0;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.starts_with(name) || line.size() <= name.size() ||
            (line[name.size()] != '{' && line[name.size()] != ' '))
            continue;
        if (!label.empty() && line.find(label) == std::string::npos)
            continue;
        sum += std::stod(line.substr(line.rfind(' ') + 1));
    }
    return sum;
}

// ---- the fixture ----

class netfault : public ::testing::Test
{
protected:
    void SetUp() override
    {
        dir_ = relay::test::deliver::fresh_log_dir();
        cmd_ = std::make_unique<command_runner>(dir_ / "network.log");
        const auto ip = find_tool("ip");
        if (ip.empty())
            GTEST_SKIP(
            ) << "network faults need iproute2's `ip`, which is not installed (apt-get install iproute2)";
        remove_stale_namespaces(*cmd_, ip);
        try {
            ns_ = std::make_unique<network_namespace>(*cmd_, ip, find_tool("tc"), counter_++);
        } catch (const network_namespace::unavailable& e) {
            GTEST_SKIP(
            ) << "this machine forbids network namespaces or veth pairs (needs root or CAP_SYS_ADMIN "
                 "and CAP_NET_ADMIN): "
              << e.what();
        }
        const auto [netem, why] = ns_->probe_netem();
        netem_ = netem;
        std::cout << "[ netfault ] " << ns_->describe()
                  << "; tc netem: " << (netem_ ? "available" : "not available (" + why + ")") << "\n";
        tag_ = "nf" + std::to_string(::getpid()) + "x" + std::to_string(counter_);
        d_ = relay::test::deliver::make_deployment();
        relay::kafka::admin adm({.config = {{"bootstrap.servers", d_.bootstrap}}});
        adm.ensure_topics({{.name = d_.events_topic, .partitions = partitions}}, 30s);
    }

    void TearDown() override
    {
        stop_.store(true);
        if (producer_.joinable())
            producer_.join();
        if (worker_) {
            worker_->send_signal(SIGTERM);
            worker_->wait_for_exit(30s);
            worker_.reset();
        }
        // Everything holding the namespace goes before it.
        forwarder_.reset();
        subs_.clear();
        ns_.reset();
    }

    // The receiver inside the namespace (on its loopback) and the forwarder exposing it on the namespace's
    // veth address with `faults`.
    void start_path(path_faults faults)
    {
        subs_.resize(1);
        subs_[0].id = "sub_netfault";
        subs_[0].secret = relay::webhook::generate_secret().text;
        subs_[0].extra_json = R"(,"event_types":["*"],"max_in_flight":64,"timeout":")" +
                              std::to_string(delivery_timeout.count()) + R"(s")";
        ns_->run_inside([&] {
            relay::test::receiver_options ro;
            ro.threads = 2;
            subs_[0].rx = std::make_unique<relay::test::receiver>(ro);
        });
        forwarder_ = std::make_unique<path_forwarder>(
            *ns_, ns_->ns_address(), subs_[0].rx->port(), faults, static_cast<std::uint32_t>(::getpid())
        );
    }

    // The worker's config (delivering to http://<namespace address>:<forwarder port>/) and the worker, with
    // debug logs (one line per attempt), ready.
    bool start_worker()
    {
        const auto timeout = std::to_string(delivery_timeout.count()) + "s";
        const auto cfg = relay::test::deliver::write_worker_config(
            dir_ / "worker.yaml",
            d_,
            subs_,
            {},
            R"("retry_schedule": ["1s", "2s", "4s"], "connect_timeout": ")" + timeout +
                R"(", "default_timeout": ")" + timeout + R"(", "allowed_networks": [")" + ns_->subnet() +
                R"("], "circuit_breaker": {"consecutive_failures": 5, "open_duration": "2s"})",
            std::string(fast_commit)
        );
        // write_worker_config points at the receiver's loopback URL; the worker must go through the veth.
        auto text = relay::test::read_text_file(cfg);
        const auto loopback = subs_[0].rx->url("/");
        const auto pos = text.find(loopback);
        if (pos == std::string::npos) {
            ADD_FAILURE() << "no " << loopback << " in " << cfg;
            return false;
        }
        text.replace(
            pos,
            loopback.size(),
            "http://" + ns_->ns_address() + ":" + std::to_string(forwarder_->port()) + "/"
        );
        std::ofstream(cfg, std::ios::trunc) << text;
        relay::test::process_options o;
        o.argv = {relay::test::relay_binary().string(), "deliver", "-c", cfg.string()};
        o.env = {{"RELAY_LOG_LEVEL", "debug"}};
        o.unset_env = {"RELAY_CONFIG"};
        o.log_file = dir_ / "worker.log";
        worker_ = std::make_unique<relay::test::process>(o);
        return relay::test::deliver::wait_ready(*worker_);
    }

    std::string event_id(int i) const { return "evt_" + tag_ + "_" + std::to_string(i); }

    // Produces `count` events at `rate` per second on a thread, recording the acknowledged ones: the ground
    // truth of what must arrive.
    void start_producer(int count, int rate)
    {
        producer_ = std::thread([this, count, rate] {
            relay::kafka::producer p(
                {.config = relay::test::producer_config(
                     d_.bootstrap, {{"enable.idempotence", "true"}, {"acks", "all"}}
                 )}
            );
            const auto start = steady::now();
            for (int i = 0; i < count && !stop_.load(); ++i) {
                std::this_thread::sleep_until(start + std::chrono::microseconds(1'000'000LL * i / rate));
                relay::kafka::record r;
                r.topic = d_.events_topic;
                r.key = "key-" + std::to_string(i % 20);
                r.value = R"({"id":")" + event_id(i) + R"(","type":"netfault.tick","data":{"i":)" +
                          std::to_string(i) + "}}";
                const auto ec =
                    p.produce(r, [this, i](boost::system::error_code ec, relay::kafka::delivery_info) {
                        if (!ec) {
                            std::lock_guard lock(mutex_);
                            acked_.insert(event_id(i));
                        }
                    });
                if (ec)
                    ADD_FAILURE() << "produce " << i << ": " << ec.message();
            }
            EXPECT_FALSE(p.flush(60s));
        });
    }

    void join_producer()
    {
        if (producer_.joinable())
            producer_.join();
    }

    // Acknowledged events, those of them that reached the receiver, and the requests for them.
    struct tally
    {
        std::size_t acked = 0;
        std::size_t delivered = 0;
        std::size_t requests = 0;
        std::size_t lost() const { return acked - delivered; }
        std::size_t duplicates() const { return requests - delivered; }
    };

    tally count() const
    {
        std::set<std::string> acked;
        {
            std::lock_guard lock(mutex_);
            acked = acked_;
        }
        std::map<std::string, std::size_t> requests;
        for (const auto& q : subs_[0].rx->requests())
            ++requests[q.header("webhook-id")];
        tally t;
        t.acked = acked.size();
        for (const auto& [id, n] : requests) {
            if (acked.contains(id)) {
                ++t.delivered;
                t.requests += n;
            }
        }
        return t;
    }

    // Waits until `expected` events were acknowledged and all of them arrived, or the deadline.
    tally wait_all_delivered(std::size_t expected, steady::time_point deadline)
    {
        tally t = count();
        while ((t.acked < expected || t.delivered < t.acked) && steady::now() < deadline) {
            subs_[0].rx->wait_for_requests(subs_[0].rx->request_count() + 1, 1s);
            t = count();
        }
        return t;
    }

    // The worker's /metrics ("" when it cannot be read).
    std::string scrape()
    {
        const auto text = relay::test::read_text_file(worker_->log_file());
        std::smatch m;
        if (!std::regex_search(text, m, std::regex(R"re("msg":"admin listening"[^\n]*"port":([0-9]+))re")))
            return {};
        try {
            relay::test::http_connection c(static_cast<std::uint16_t>(std::stoi(m[1].str())), 10s);
            auto res = c.get("/metrics");
            return res && res->result_int() == 200 ? res->body() : std::string();
        } catch (const std::exception& e) {
            ADD_FAILURE() << "scraping the worker: " << e.what();
            return {};
        }
    }

    // Figures common to every scenario, printed on one line; stops the worker.
    struct figures
    {
        tally t;
        attempt_log attempts;
        double retries_parked = 0;
        double shed = 0;
        double dead_lettered = 0;
        forwarder_stats path;
    };

    figures finish(const tally& t)
    {
        figures f;
        f.t = t;
        const auto metrics = scrape();
        EXPECT_FALSE(metrics.empty()) << "no /metrics from the worker";
        f.retries_parked = metric_sum(metrics, "relay_retries_produced_total");
        f.shed = metric_sum(metrics, "relay_deliveries_shed_total");
        f.dead_lettered = metric_sum(metrics, "relay_dlq_records_total");
        worker_->send_signal(SIGTERM);
        EXPECT_TRUE(worker_->wait_for_exit(30s));
        worker_.reset();
        f.attempts = read_attempt_log(dir_ / "worker.log");
        f.path = forwarder_->stats();
        return f;
    }

    static void print(const std::string& scenario, const std::string& mechanism, const figures& f)
    {
        std::cout << "[ netfault ] " << scenario << " [" << mechanism << "]: events acked " << f.t.acked
                  << ", delivered " << f.t.delivered << ", lost " << f.t.lost() << ", duplicates "
                  << f.t.duplicates() << ", failed attempts " << f.attempts.failures() << " (timeouts "
                  << f.attempts.timeouts() << "; " << f.attempts.reasons() << "), retries parked "
                  << f.retries_parked << ", shed " << f.shed << ", dead-lettered " << f.dead_lettered
                  << ", successful attempt ms p50/p99/max " << f.attempts.percentile(0.5) << "/"
                  << f.attempts.percentile(0.99) << "/" << f.attempts.percentile(1.0) << ", path connections "
                  << f.path.connections << " chunks " << f.path.chunks << "\n";
    }

    fs::path dir_;
    std::unique_ptr<command_runner> cmd_;
    std::unique_ptr<network_namespace> ns_;
    bool netem_ = false;
    std::vector<relay::test::deliver::subscription_under_test> subs_;
    std::unique_ptr<path_forwarder> forwarder_;
    std::unique_ptr<relay::test::process> worker_;
    relay::test::deliver::deployment d_;
    std::string tag_;
    std::thread producer_;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::set<std::string> acked_;
    static inline int counter_ = 0;
};

// (a) 300 ms each way, well within the 2 s timeout: everything arrives on the first attempt, and every
// attempt takes at least the round trip (which shows the delay was in the path).
TEST_F(netfault, delay_of_300ms_each_way_delivers_everything_without_timeouts)
{
    constexpr auto delay = 300ms;
    std::string mechanism;
    if (netem_) {
        start_path({});
        ASSERT_TRUE(ns_->set_netem({"delay", std::to_string(delay.count()) + "ms"}));
        mechanism = "tc netem delay 300ms on both veth ends";
    } else {
        start_path({.delay = delay});
        mechanism = "no netem: userspace forwarder in the namespace holds every chunk 300 ms, each way";
    }
    ASSERT_TRUE(start_worker());
    constexpr int events = 100;
    start_producer(events, 20);
    join_producer();
    const auto t = wait_all_delivered(events, steady::now() + 60s);
    const auto f = finish(t);
    print("delay 300 ms each way, 20 events/s", mechanism, f);
    EXPECT_EQ(t.acked, static_cast<std::size_t>(events));
    EXPECT_EQ(t.lost(), 0u);
    EXPECT_EQ(f.attempts.failures(), 0u) << f.attempts.reasons();
    EXPECT_EQ(f.dead_lettered, 0.0);
    ASSERT_FALSE(f.attempts.delivered_ms.empty()) << "no `delivered` debug lines in the worker's log";
    EXPECT_GE(f.attempts.percentile(0.0), 2 * delay.count()) << "an attempt took less than the round trip";
}

// (b) A silent black hole for 6 s in the middle of 20 events/s for 15 s: attempts in flight and new ones time
// out, deliveries go to the retry tiers (or are parked by the circuit breaker), and once the path is back
// everything arrives; duplicates only from attempts whose answer was lost.
TEST_F(netfault, black_hole_mid_workload_times_out_retries_and_loses_nothing)
{
    start_path({});
    ASSERT_TRUE(start_worker());
    constexpr int events = 300;
    constexpr int rate = 20;
    const auto start = steady::now();
    start_producer(events, rate);
    std::this_thread::sleep_until(start + 4s); // the workload's timeline: steady traffic first
    ASSERT_TRUE(ns_->set_black_hole(true));
    const auto hole_from = steady::now();
    std::this_thread::sleep_until(start + 10s);
    const auto hole_to = steady::now();
    ASSERT_TRUE(ns_->set_black_hole(false));
    join_producer();
    const auto t = wait_all_delivered(events, steady::now() + 60s);
    std::size_t during = 0; // requests that crossed while nothing could (a little slack for chunks in flight)
    for (const auto& q : subs_[0].rx->requests()) {
        if (q.received_steady > hole_from + 200ms && q.received_steady < hole_to)
            ++during;
    }
    const auto f = finish(t);
    print(
        "black hole 6 s in 15 s of 20 events/s",
        "neighbour entries pinned to an unused MAC on both veth ends: frames dropped silently",
        f
    );
    std::cout << "[ netfault ] requests that reached the receiver during the black hole: " << during << "\n";
    EXPECT_EQ(t.acked, static_cast<std::size_t>(events));
    EXPECT_EQ(t.lost(), 0u);
    EXPECT_EQ(during, 0u) << "the black hole let requests through";
    EXPECT_GE(f.attempts.timeouts(), 1u) << "no attempt timed out: " << f.attempts.reasons();
    EXPECT_GE(f.retries_parked, 1.0) << "nothing went to a retry tier";
    EXPECT_EQ(f.dead_lettered, 0.0);
    // A duplicate needs a first request that arrived but whose answer did not: a failed attempt.
    EXPECT_LE(t.duplicates(), f.attempts.failures());
}

// (c) A lossy path: netem's random loss when the kernel has it, else the forwarder's model of it (TCP
// retransmission waits of 200 ms, doubling, on 10% of chunks; 3% of chunks lose their connection for good,
// which only the request timeout ends). Every such connection costs one timed-out attempt; nothing is lost.
TEST_F(netfault, lossy_path_times_out_retries_and_loses_nothing)
{
    std::string mechanism;
    if (netem_) {
        start_path({});
        ASSERT_TRUE(ns_->set_netem({"loss", "10%"}));
        mechanism = "tc netem loss 10% on both veth ends";
    } else {
        start_path({.delay = 10ms, .retransmit_probability = 0.10, .stall_probability = 0.03});
        mechanism = "no netem: userspace forwarder, 10 ms each way, 10% of chunks wait an RTO (200 ms, "
                    "doubling), 3% of chunks black-hole their connection";
    }
    ASSERT_TRUE(start_worker());
    constexpr int events = 200;
    start_producer(events, 20);
    join_producer();
    const auto t = wait_all_delivered(events, steady::now() + 60s);
    const auto f = finish(t);
    print("lossy path, 20 events/s", mechanism, f);
    if (!netem_) {
        std::cout << "[ netfault ] forwarder: " << f.path.stalled << " connections black-holed, "
                  << f.path.retransmits << " RTO waits, " << f.path.errors << " errors\n";
        EXPECT_GE(f.path.stalled, 1u) << "the loss model never cut a connection";
        EXPECT_GE(f.attempts.timeouts(), f.path.stalled) << "a cut connection did not end in a timeout";
        EXPECT_EQ(f.path.errors, 0u);
    }
    EXPECT_EQ(t.acked, static_cast<std::size_t>(events));
    EXPECT_EQ(t.lost(), 0u);
    EXPECT_EQ(f.dead_lettered, 0.0);
    EXPECT_LE(t.duplicates(), f.attempts.failures());
}

} // namespace
