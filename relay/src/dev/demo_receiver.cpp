#include "relay/dev/demo_receiver.hpp"

#include "relay/event/envelope.hpp"
#include "relay/http/problem.hpp"
#include "relay/webhook/error.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <mutex>
#include <span>
#include <unistd.h>
#include <unordered_map>
#include <utility>

namespace relay::dev {

namespace bhttp = boost::beast::http;

namespace {

constexpr std::string_view ansi_reset = "\x1b[0m";
constexpr std::string_view ansi_dim = "\x1b[2m";
constexpr std::string_view ansi_green = "\x1b[32m";
constexpr std::string_view ansi_red = "\x1b[1;31m";
constexpr std::string_view ansi_yellow = "\x1b[33m";
constexpr std::string_view ansi_cyan = "\x1b[36m";

// Event ids are at most 256 characters; longer webhook-ids are not remembered, which bounds the memory an
// abusive sender can make the attempt table use.
constexpr std::size_t max_remembered_id = 256;

constexpr std::string_view help_text =
    "relay demo receiver: POST webhooks to any path; it prints each one and whether its signature verified.\n"
    "/status/<code> answers that code (e.g. /status/503, /status/410), "
    "/status/429?retry_after=2 adds Retry-After: 2.\n";

std::string_view header_value(const http::request& req, std::string_view name)
{
    const auto it = req.find(boost::beast::string_view(name.data(), name.size()));
    if (it == req.end()) {
        return {};
    }
    return {it->value().data(), it->value().size()};
}

// Length of the well-formed UTF-8 sequence starting at text[i] and its code point, or 0 when malformed
// (overlong forms, surrogates and values above U+10FFFF are malformed, as in RFC 3629).
std::size_t utf8_sequence(std::string_view text, std::size_t i, char32_t& cp) noexcept
{
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char c = byte(i);
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (text.size() - i < len) {
        return 0;
    }
    for (std::size_t k = 1; k < len; ++k) {
        const unsigned char b = byte(i + k);
        if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) {
            return 0;
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    return len;
}

// C1 controls can act as escape sequences on some terminals; bidirectional controls and line separators can
// make a printed line read differently from its bytes.
bool unsafe_code_point(char32_t cp) noexcept
{
    return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x200E || cp == 0x200F || cp == 0x061C;
}

std::string local_clock_time()
{
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    if (::localtime_r(&now, &tm) == nullptr) {
        return "--:--:--";
    }
    char buf[16];
    const auto n = std::strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
    return std::string(buf, n);
}

std::optional<std::int64_t> parse_seconds(std::string_view text) noexcept
{
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return v;
}

} // namespace

namespace detail {

std::string printable(std::string_view text, std::size_t max_bytes)
{
    std::string out;
    out.reserve(std::min(text.size(), max_bytes) + 3);
    std::size_t i = 0;
    bool folding = false; // after a line break or tab: indentation spaces are dropped
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::string_view piece;
        std::size_t consumed = 1;
        const bool fold = c == '\r' || c == '\n' || c == '\t';
        if (fold || (folding && c == ' ')) {
            folding = true;
            if (!out.empty() && out.back() == ' ') {
                ++i;
                continue;
            }
            piece = " ";
        } else if (c < 0x20 || c == 0x7F) {
            piece = "?";
        } else if (c < 0x80) {
            piece = text.substr(i, 1);
        } else {
            char32_t cp = 0;
            const auto len = utf8_sequence(text, i, cp);
            if (len == 0) {
                piece = "?";
            } else {
                consumed = len;
                piece = unsafe_code_point(cp) ? std::string_view("?") : text.substr(i, len);
            }
        }
        if (!fold && c != ' ') {
            folding = false;
        }
        if (out.size() + piece.size() > max_bytes) {
            out.append("...");
            return out;
        }
        out.append(piece);
        i += consumed;
    }
    return out;
}

unsigned status_for_path(std::string_view path) noexcept
{
    constexpr std::string_view prefix = "/status/";
    if (path.substr(0, prefix.size()) != prefix) {
        return 200;
    }
    auto code = path.substr(prefix.size());
    code = code.substr(0, code.find('/'));
    if (code.size() != 3) {
        return 0;
    }
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), value);
    if (ec != std::errc{} || end != code.data() + code.size() || value < 200 || value > 599) {
        return 0;
    }
    return value;
}

std::string_view retry_after_from_query(std::string_view query) noexcept
{
    constexpr std::string_view key = "retry_after=";
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (part.substr(0, key.size()) != key) {
            continue;
        }
        const auto value = part.substr(key.size());
        if (value.empty() || value.size() > 9) {
            return {};
        }
        for (const char ch : value) {
            if (ch < '0' || ch > '9') {
                return {};
            }
        }
        return value;
    }
    return {};
}

} // namespace detail

line_sink stdout_sink()
{
    return [](std::string_view line) {
        // One write per line, so lines from other writers to stdout never interleave inside it.
        std::string buf;
        buf.reserve(line.size() + 1);
        buf.append(line).push_back('\n');
        std::fwrite(buf.data(), 1, buf.size(), stdout);
        std::fflush(stdout);
    };
}

bool terminal_supports_color(int fd) noexcept
{
    if (::isatty(fd) == 0) {
        return false;
    }
    const char* no_color = std::getenv("NO_COLOR"); // NOLINT(concurrency-mt-unsafe): read-only
    if (no_color != nullptr && *no_color != '\0') {
        return false;
    }
    const char* term = std::getenv("TERM"); // NOLINT(concurrency-mt-unsafe): read-only
    return term == nullptr || std::string_view(term) != "dumb";
}

struct demo_receiver::state
{
    explicit state(demo_receiver_options o)
        : opts(std::move(o))
    {
        if (!opts.output) {
            opts.output = stdout_sink();
        }
    }

    demo_receiver_options opts;
    std::atomic<std::uint64_t> received{0};
    std::atomic<std::uint64_t> verified{0};
    std::atomic<std::uint64_t> invalid{0};
    std::atomic<std::uint64_t> unchecked{0};

    std::mutex attempts_mutex;
    std::unordered_map<std::string, unsigned> attempts;
    std::deque<std::string> attempt_order; // oldest first, to forget ids beyond remembered_ids

    std::mutex output_mutex;

    /// How many times `id` has arrived at `path`, this time included (each subscription has its own URL,
    /// so this is the attempt number of one delivery); 0 when the id is not remembered.
    unsigned next_attempt(std::string_view path, std::string_view id)
    {
        if (id.empty() || id.size() > max_remembered_id || path.size() > 2048 || opts.remembered_ids == 0) {
            return 0;
        }
        std::lock_guard lock(attempts_mutex);
        std::string key(path);
        key += ' ';
        key += id;
        const auto it = attempts.find(key);
        if (it != attempts.end()) {
            return ++it->second;
        }
        if (attempt_order.size() >= opts.remembered_ids) {
            attempts.erase(attempt_order.front());
            attempt_order.pop_front();
        }
        attempts.emplace(key, 1u);
        attempt_order.push_back(std::move(key));
        return 1;
    }

    void emit(std::string_view line)
    {
        std::lock_guard lock(output_mutex);
        try {
            opts.output(line);
        } catch (...) {
            // A failing sink (closed stdout) must not turn a received webhook into a 500.
        }
    }

    void paint(std::string& line, std::string_view colour, std::string_view text) const
    {
        if (opts.color) {
            line.append(colour).append(text).append(ansi_reset);
        } else {
            line.append(text);
        }
    }

    /// The verification result: ok with the scheme that matched ("v1", "v1a"), or the reason it failed.
    struct verdict
    {
        bool checked = false;
        bool ok = false;
        std::string_view scheme;
        std::string reason;
    };

    verdict verify(const http::request& req) const
    {
        verdict v;
        if (opts.secrets.empty() && opts.public_keys.empty()) {
            return v;
        }
        v.checked = true;
        const auto id = header_value(req, webhook::id_header);
        const auto timestamp = header_value(req, webhook::timestamp_header);
        const auto signatures = header_value(req, webhook::signature_header_name);
        std::string missing;
        for (const auto& [name, value] : {
                 std::pair{webhook::id_header, id},
                 std::pair{webhook::timestamp_header, timestamp},
                 std::pair{webhook::signature_header_name, signatures},
             }) {
            if (value.empty()) {
                missing.append(missing.empty() ? "" : ", ").append(name);
            }
        }
        if (!missing.empty()) {
            v.reason =
                "missing " + missing + (missing.find(',') == std::string::npos ? " header" : " headers");
            return v;
        }
        const auto now = webhook::unix_now();
        auto ec =
            webhook::verify(opts.secrets, {}, id, timestamp, signatures, req.body(), now, opts.tolerance);
        if (!ec) {
            v.ok = true;
            v.scheme = "v1";
            return v;
        }
        if (ec == webhook::errc::no_matching_signature && !opts.public_keys.empty()) {
            ec = webhook::verify(
                {}, opts.public_keys, id, timestamp, signatures, req.body(), now, opts.tolerance
            );
            if (!ec) {
                v.ok = true;
                v.scheme = "v1a";
                return v;
            }
        }
        v.reason = ec.message();
        if (ec == webhook::errc::timestamp_too_old || ec == webhook::errc::timestamp_too_new) {
            if (const auto ts = parse_seconds(timestamp)) {
                const auto skew = now - *ts;
                v.reason += " (" + std::to_string(skew < 0 ? -skew : skew) + " s " +
                            (skew < 0 ? "ahead" : "old") + ", tolerance " +
                            std::to_string(opts.tolerance.count()) + " s)";
            }
        } else if (ec == webhook::errc::no_matching_signature) {
            v.reason += " (wrong secret, or the body, id or timestamp changed after signing)";
        }
        return v;
    }

    /// The event type of a webhook: the `ce-type` header (CloudEvents binary binding), else the type of a
    /// Relay or structured CloudEvents body, else empty.
    std::string event_type(const http::request& req) const
    {
        if (const auto ce_type = header_value(req, "ce-type"); !ce_type.empty()) {
            return std::string(ce_type);
        }
        const auto content_type = header_value(req, "content-type");
        const event::record_header headers[] = {{"content-type", content_type}};
        event::record_view record;
        record.value = req.body();
        record.headers = content_type.empty() ? std::span<const event::record_header>{}
                                              : std::span<const event::record_header>(headers);
        event::envelope_options limits;
        limits.max_event_bytes = opts.body_limit;
        auto parsed = event::parse_event(record, limits);
        if (!parsed) {
            return {};
        }
        return std::string(parsed->type());
    }

    http::response handle_post(http::request_context& ctx)
    {
        received.fetch_add(1, std::memory_order_relaxed);
        const auto& req = ctx.req;
        const auto v = verify(req);
        if (!v.checked) {
            unchecked.fetch_add(1, std::memory_order_relaxed);
        } else if (v.ok) {
            verified.fetch_add(1, std::memory_order_relaxed);
        } else {
            invalid.fetch_add(1, std::memory_order_relaxed);
        }

        const auto id = header_value(req, webhook::id_header);
        const unsigned attempt = next_attempt(ctx.path, id);

        http::response res;
        unsigned status = detail::status_for_path(ctx.path);
        if (status == 0) {
            res = http::make_problem_response(
                bhttp::status::not_found,
                "a /status/ path needs a code from 200 to 599, e.g. /status/503",
                req.version()
            );
            status = res.result_int();
        } else if (opts.reject_invalid && v.checked && !v.ok) {
            res = http::make_problem_response(
                bhttp::status::unauthorized,
                "the webhook signature did not verify: " + v.reason,
                req.version()
            );
            status = res.result_int();
        } else {
            res.result(status);
            if (const auto retry_after = detail::retry_after_from_query(ctx.query); !retry_after.empty()) {
                res.set(
                    bhttp::field::retry_after,
                    boost::beast::string_view(retry_after.data(), retry_after.size())
                );
            }
        }

        std::string line;
        line.reserve(256 + opts.body_preview);
        paint(line, ansi_dim, local_clock_time());
        line.append("  ").append(detail::printable(std::string_view(req.method_string()), 16));
        line.append(" ").append(detail::printable(std::string_view(req.target()), 200));
        line.append("  ");
        const auto type = event_type(req);
        paint(line, ansi_cyan, type.empty() ? std::string("-") : detail::printable(type, 100));
        line.append("  id=").append(id.empty() ? std::string("-") : detail::printable(id, 64));
        line.append("  ");
        if (!v.checked) {
            line.append("signature not checked (no secret configured)");
        } else if (v.ok) {
            paint(line, ansi_green, "signature verified (" + std::string(v.scheme) + ")");
        } else {
            paint(line, ansi_red, "signature INVALID: " + detail::printable(v.reason, 300));
        }
        if (attempt != 0) {
            line.append("  attempt ").append(std::to_string(attempt));
        }
        line.append("  ");
        const std::string answered = "-> " + std::to_string(status);
        if (status >= 200 && status < 300) {
            line.append(answered);
        } else {
            paint(line, ansi_yellow, answered);
        }
        if (!req.body().empty()) {
            line.append("  ").append(detail::printable(req.body(), opts.body_preview));
        }
        emit(line);
        return res;
    }
};

demo_receiver::demo_receiver(boost::asio::any_io_executor executor, demo_receiver_options opts)
    : state_(std::make_shared<state>(std::move(opts)))
{
    http::router routes;
    routes.add_prefix(bhttp::verb::post, "/", http::sync_handler([s = state_](http::request_context& ctx) {
                          return s->handle_post(ctx);
                      }));
    routes.add_prefix(bhttp::verb::get, "/", http::sync_handler([](http::request_context& ctx) {
                          http::response res{bhttp::status::ok, ctx.req.version()};
                          res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
                          res.body() = help_text;
                          return res;
                      }));
    http::server_options server_opts;
    server_opts.address = state_->opts.address;
    server_opts.port = state_->opts.port;
    server_opts.body_limit = state_->opts.body_limit;
    server_opts.name = "demo-receiver";
    server_ = std::make_unique<http::server>(std::move(executor), std::move(routes), std::move(server_opts));
}

demo_receiver::~demo_receiver() = default;

void demo_receiver::start()
{
    server_->start();
}

void demo_receiver::stop(std::chrono::steady_clock::duration grace, std::function<void()> on_stopped)
{
    server_->stop(grace, std::move(on_stopped));
}

boost::asio::ip::tcp::endpoint demo_receiver::local_endpoint() const
{
    return server_->local_endpoint();
}

std::uint16_t demo_receiver::port() const
{
    return server_->local_endpoint().port();
}

std::string demo_receiver::url(std::string_view path) const
{
    const auto ep = server_->local_endpoint();
    const auto address = ep.address().to_string();
    std::string out = "http://";
    if (ep.address().is_v6()) {
        out.append("[").append(address).append("]");
    } else {
        out.append(address);
    }
    out.append(":").append(std::to_string(ep.port())).append(path);
    return out;
}

demo_receiver_counts demo_receiver::counts() const noexcept
{
    demo_receiver_counts c;
    c.received = state_->received.load(std::memory_order_relaxed);
    c.verified = state_->verified.load(std::memory_order_relaxed);
    c.invalid = state_->invalid.load(std::memory_order_relaxed);
    c.unchecked = state_->unchecked.load(std::memory_order_relaxed);
    return c;
}

} // namespace relay::dev
