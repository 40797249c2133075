// bench_receiver: the fast loopback webhook receiver of scripts/bench (tests/bench/bench.py drives it).
//
// One thread, epoll, HTTP/1.1 keep-alive. It listens on --ports N ports of 127.0.0.1 (each a separate origin
// for Relay's per-origin circuit breakers and connection pools) and prints "ports p1 p2 ..." on stdout once
// ready. Every request is answered by its path:
//   /ok/<name>              200 "ok" at once
//   /delay/<ms>/<name>      200 "ok" after <ms> milliseconds (at once after /_heal)
//   /fail/<name>            503 at once (200 after /_heal)
//   /_stats                 JSON counters: requests, 2xx answers, unique webhook-ids and duplicates per path,
//   pending
//   /_reset                 forget every record and counter, un-heal
//   /_heal                  delayed and failing paths answer 200 at once from now on
//   /_dump?file=<path>      write one line per recorded request: path arrival_ns status ts_ns seq key
//   webhook-id
// Each webhook request is recorded with its arrival time (CLOCK_REALTIME, ns) and, parsed from the body that
// bench_producer writes, the produce timestamp ("ts"), sequence ("seq") and key ("k").
#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <queue>
#include <string>
#include <string_view>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace {

std::int64_t now_ns(clockid_t clock)
{
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct record
{
    std::uint32_t path = 0;
    std::int64_t arrival_ns = 0;
    int status = 0;
    std::int64_t ts_ns = -1;
    std::int64_t seq = -1;
    std::string key;
    std::string id;
};

struct path_stats
{
    std::uint64_t requests = 0;
    std::uint64_t answered_2xx = 0;
    std::unordered_set<std::string> ids_2xx; // webhook-ids answered 2xx at least once
    std::uint64_t duplicates_2xx = 0;        // 2xx answers to an id already answered 2xx
};

struct connection
{
    int fd = -1;
    std::uint64_t generation = 0;
    std::string in;
    std::string out;
    bool busy = false; // a delayed answer is pending; further requests wait in `in`
    bool close_after = false;
    bool want_out = false; // EPOLLOUT is registered
    std::size_t pending_record = 0;
};

struct timer
{
    std::int64_t due_ns;
    int fd;
    std::uint64_t generation;
    bool operator>(const timer& o) const { return due_ns > o.due_ns; }
};

class receiver
{
public:
    explicit receiver(int ports)
    {
        ep_ = epoll_create1(EPOLL_CLOEXEC);
        if (ep_ < 0) {
            die("epoll_create1");
        }
        for (int i = 0; i < ports; ++i) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            int one = 1;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 4096) != 0) {
                die("bind/listen");
            }
            socklen_t len = sizeof a;
            getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
            ports_.push_back(ntohs(a.sin_port));
            listeners_.push_back(fd);
            add(fd, EPOLLIN);
        }
    }

    void run()
    {
        std::printf("ports");
        for (auto p : ports_) {
            std::printf(" %u", p);
        }
        std::printf("\n");
        std::fflush(stdout);
        std::vector<epoll_event> evs(1024);
        while (!stop_) {
            int timeout = -1;
            if (!timers_.empty()) {
                const auto left = timers_.top().due_ns - now_ns(CLOCK_MONOTONIC);
                timeout = left <= 0 ? 0 : static_cast<int>(left / 1'000'000 + 1);
            }
            const int n = epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), timeout);
            if (n < 0 && errno != EINTR) {
                die("epoll_wait");
            }
            for (int i = 0; i < n; ++i) {
                const int fd = evs[static_cast<std::size_t>(i)].data.fd;
                if (std::find(listeners_.begin(), listeners_.end(), fd) != listeners_.end()) {
                    accept_all(fd);
                    continue;
                }
                auto it = conns_.find(fd);
                if (it == conns_.end()) {
                    continue;
                }
                const auto e = evs[static_cast<std::size_t>(i)].events;
                if (e & EPOLLOUT) {
                    if (!flush(it->second)) {
                        continue;
                    }
                }
                if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                    on_readable(it->second);
                }
            }
            fire_timers();
        }
    }

    void request_stop() { stop_ = true; }

private:
    [[noreturn]] static void die(const char* what)
    {
        std::perror(what);
        std::exit(1);
    }

    void add(int fd, std::uint32_t events)
    {
        epoll_event ev{};
        ev.events = events;
        ev.data.fd = fd;
        epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    }

    void modify(int fd, std::uint32_t events)
    {
        epoll_event ev{};
        ev.events = events;
        ev.data.fd = fd;
        epoll_ctl(ep_, EPOLL_CTL_MOD, fd, &ev);
    }

    void accept_all(int lfd)
    {
        for (;;) {
            int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                return;
            }
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            auto& c = conns_[fd];
            c = connection{};
            c.fd = fd;
            c.generation = ++generation_;
            add(fd, EPOLLIN);
            ++open_;
            max_open_ = std::max(max_open_, open_);
        }
    }

    void close_conn(connection& c)
    {
        const int fd = c.fd;
        if (c.busy) {
            --pending_;
        }
        epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        conns_.erase(fd);
        --open_;
    }

    void on_readable(connection& c)
    {
        char buf[65536];
        for (;;) {
            const ssize_t n = ::read(c.fd, buf, sizeof buf);
            if (n > 0) {
                c.in.append(buf, static_cast<std::size_t>(n));
                if (static_cast<std::size_t>(n) < sizeof buf) {
                    break;
                }
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                close_conn(c);
                return;
            }
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        process(c);
    }

    static std::string_view header(std::string_view head, std::string_view name)
    {
        std::size_t pos = head.find("\r\n");
        while (pos != std::string_view::npos && pos + 2 < head.size()) {
            const std::size_t start = pos + 2;
            const std::size_t end = head.find("\r\n", start);
            const auto line = head.substr(start, end == std::string_view::npos ? head.npos : end - start);
            const auto colon = line.find(':');
            if (colon != std::string_view::npos && colon == name.size() &&
                std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
                    return std::tolower(static_cast<unsigned char>(a)) ==
                           std::tolower(static_cast<unsigned char>(b));
                })) {
                auto v = line.substr(colon + 1);
                while (!v.empty() && v.front() == ' ') {
                    v.remove_prefix(1);
                }
                return v;
            }
            pos = end;
        }
        return {};
    }

    static std::int64_t json_int(std::string_view body, std::string_view name)
    {
        const auto p = body.find(name);
        if (p == std::string_view::npos) {
            return -1;
        }
        std::int64_t v = -1;
        const char* b = body.data() + p + name.size();
        std::from_chars(b, body.data() + body.size(), v);
        return v;
    }

    static std::string json_str(std::string_view body, std::string_view name)
    {
        const auto p = body.find(name);
        if (p == std::string_view::npos) {
            return {};
        }
        const auto start = p + name.size();
        const auto end = body.find('"', start);
        return std::string(body.substr(start, end == std::string_view::npos ? 0 : end - start));
    }

    std::uint32_t intern(std::string_view path)
    {
        auto it = path_index_.find(std::string(path));
        if (it != path_index_.end()) {
            return it->second;
        }
        const auto idx = static_cast<std::uint32_t>(paths_.size());
        paths_.emplace_back(path);
        stats_.emplace_back();
        path_index_.emplace(std::string(path), idx);
        return idx;
    }

    // Handles every complete request buffered on `c` (one at a time while an answer is delayed).
    void process(connection& c)
    {
        while (!c.busy) {
            const auto head_end = c.in.find("\r\n\r\n");
            if (head_end == std::string::npos) {
                if (c.in.size() > 65536) {
                    close_conn(c);
                }
                return;
            }
            const std::string_view head(c.in.data(), head_end);
            std::size_t body_len = 0;
            if (const auto cl = header(head, "content-length"); !cl.empty()) {
                std::from_chars(cl.data(), cl.data() + cl.size(), body_len);
            }
            if (!header(head, "transfer-encoding").empty()) {
                c.out += "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                c.close_after = true;
                flush(c);
                return;
            }
            const std::size_t total = head_end + 4 + body_len;
            if (c.in.size() < total) {
                return;
            }
            const auto sp1 = head.find(' ');
            const auto sp2 = head.find(' ', sp1 + 1);
            const std::string_view target = head.substr(sp1 + 1, sp2 - sp1 - 1);
            const std::string_view body(c.in.data() + head_end + 4, body_len);
            if (target.starts_with("/_")) {
                control(c, target);
            } else {
                webhook(c, target, head, body);
            }
            c.in.erase(0, total);
            if (!flush(c)) {
                return;
            }
        }
    }

    void webhook(connection& c, std::string_view target, std::string_view head, std::string_view body)
    {
        const auto arrival = now_ns(CLOCK_REALTIME);
        record r;
        r.path = intern(target);
        r.arrival_ns = arrival;
        r.id = std::string(header(head, "webhook-id"));
        r.ts_ns = json_int(body, "\"ts\":");
        r.seq = json_int(body, "\"seq\":");
        r.key = json_str(body, "\"k\":\"");
        auto& st = stats_[r.path];
        ++st.requests;
        ++requests_;
        std::int64_t delay_ms = 0;
        int status = 200;
        if (!healed_) {
            if (target.starts_with("/delay/")) {
                std::from_chars(target.data() + 7, target.data() + target.size(), delay_ms);
            } else if (target.starts_with("/fail/")) {
                status = 503;
            }
        }
        r.status = status;
        records_.push_back(std::move(r));
        if (delay_ms > 0) {
            c.busy = true;
            c.pending_record = records_.size() - 1;
            ++pending_;
            max_pending_ = std::max(max_pending_, pending_);
            timers_.push({now_ns(CLOCK_MONOTONIC) + delay_ms * 1'000'000, c.fd, c.generation});
            return;
        }
        answer(c, records_.size() - 1);
    }

    void answer(connection& c, std::size_t rec)
    {
        auto& r = records_[rec];
        if (healed_ && r.status != 200) {
            r.status = 200;
        }
        auto& st = stats_[r.path];
        if (r.status == 200) {
            ++st.answered_2xx;
            if (!r.id.empty() && !st.ids_2xx.insert(r.id).second) {
                ++st.duplicates_2xx;
            }
            c.out += "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
        } else {
            c.out += "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: "
                     "4\r\n\r\nbusy";
        }
    }

    void fire_timers()
    {
        const auto now = now_ns(CLOCK_MONOTONIC);
        while (!timers_.empty() && (healed_ || timers_.top().due_ns <= now)) {
            const auto t = timers_.top();
            timers_.pop();
            auto it = conns_.find(t.fd);
            if (it == conns_.end() || it->second.generation != t.generation || !it->second.busy) {
                continue;
            }
            auto& c = it->second;
            c.busy = false;
            --pending_;
            answer(c, c.pending_record);
            if (flush(c)) {
                process(c);
            }
        }
    }

    // Writes what is buffered; false when the connection was closed.
    bool flush(connection& c)
    {
        while (!c.out.empty()) {
            const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
            if (n > 0) {
                c.out.erase(0, static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (!c.want_out) {
                    modify(c.fd, EPOLLIN | EPOLLOUT);
                    c.want_out = true;
                }
                return true;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            close_conn(c);
            return false;
        }
        if (c.want_out) {
            modify(c.fd, EPOLLIN);
            c.want_out = false;
        }
        if (c.close_after) {
            close_conn(c);
            return false;
        }
        return true;
    }

    void control(connection& c, std::string_view target)
    {
        std::string body;
        if (target == "/_stats") {
            body = stats_json();
        } else if (target == "/_reset") {
            records_.clear();
            for (auto& s : stats_) {
                s = path_stats{};
            }
            requests_ = 0;
            healed_ = false;
            max_pending_ = pending_;
            body = "{}";
        } else if (target == "/_heal") {
            healed_ = true;
            fire_timers();
            body = "{}";
        } else if (target.starts_with("/_dump?file=")) {
            body = dump(std::string(target.substr(12))) ? "{\"ok\":true}" : "{\"ok\":false}";
        } else {
            c.out += "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
            return;
        }
        c.out += "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body;
    }

    std::string stats_json() const
    {
        std::string s = "{\"requests\":" + std::to_string(requests_) +
                        ",\"pending\":" + std::to_string(pending_) +
                        ",\"max_pending\":" + std::to_string(max_pending_) +
                        ",\"open_connections\":" + std::to_string(open_) +
                        ",\"max_open_connections\":" + std::to_string(max_open_) + ",\"paths\":{";
        bool first = true;
        for (std::size_t i = 0; i < paths_.size(); ++i) {
            const auto& st = stats_[i];
            if (st.requests == 0) {
                continue;
            }
            if (!first) {
                s += ",";
            }
            first = false;
            s += "\"" + paths_[i] + "\":{\"requests\":" + std::to_string(st.requests) +
                 ",\"answered_2xx\":" + std::to_string(st.answered_2xx) +
                 ",\"unique_2xx\":" + std::to_string(st.ids_2xx.size()) +
                 ",\"duplicates_2xx\":" + std::to_string(st.duplicates_2xx) + "}";
        }
        s += "}}";
        return s;
    }

    bool dump(const std::string& file) const
    {
        std::ofstream out(file, std::ios::trunc);
        for (const auto& r : records_) {
            out << paths_[r.path] << ' ' << r.arrival_ns << ' ' << r.status << ' ' << r.ts_ns << ' ' << r.seq
                << ' ' << (r.key.empty() ? "-" : r.key) << ' ' << (r.id.empty() ? "-" : r.id) << '\n';
        }
        return static_cast<bool>(out.flush());
    }

    int ep_ = -1;
    std::vector<int> listeners_;
    std::vector<unsigned> ports_;
    std::unordered_map<int, connection> conns_;
    std::priority_queue<timer, std::vector<timer>, std::greater<>> timers_;
    std::uint64_t generation_ = 0;
    std::vector<std::string> paths_;
    std::map<std::string, std::uint32_t> path_index_;
    std::vector<path_stats> stats_;
    std::vector<record> records_;
    std::uint64_t requests_ = 0;
    std::uint64_t pending_ = 0;
    std::uint64_t max_pending_ = 0;
    std::uint64_t open_ = 0;
    std::uint64_t max_open_ = 0;
    bool healed_ = false;
    volatile bool stop_ = false;
};

receiver* g_receiver = nullptr;

} // namespace

int main(int argc, char** argv)
{
    int ports = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--ports" && i + 1 < argc) {
            ports = std::atoi(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: bench_receiver [--ports N]\n");
            return 2;
        }
    }
    if (ports < 1 || ports > 16) {
        std::fprintf(stderr, "bench_receiver: --ports must be 1..16\n");
        return 2;
    }
    std::signal(SIGPIPE, SIG_IGN);
    receiver r(ports);
    g_receiver = &r;
    std::signal(SIGTERM, [](int) { g_receiver->request_stop(); });
    std::signal(SIGINT, [](int) { g_receiver->request_stop(); });
    r.run();
    return 0;
}
