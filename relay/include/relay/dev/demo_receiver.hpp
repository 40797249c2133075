#pragma once

#include "relay/http/server.hpp"
#include "relay/webhook/secret.hpp"
#include "relay/webhook/signing.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

/// @file
/// The demo webhook receiver of `relay dev`: prints one human-friendly line per webhook it gets, saying
/// whether its Standard Webhooks signature verified, and answers as its path asks (so the quickstart can
/// show retries and the dead-letter topic).
namespace relay::dev {

/// Where the receiver writes its lines: one call per line, without a trailing newline. The receiver
/// serializes the calls (never two at once), so the sink need not be thread-safe itself.
using line_sink = std::function<void(std::string_view line)>;

/// A sink writing each line plus '\n' to standard output and flushing it.
line_sink stdout_sink();

/// True when colours suit file descriptor `fd`: it is a terminal, `NO_COLOR` is unset or empty, and `TERM`
/// is not "dumb". For demo_receiver_options::color.
bool terminal_supports_color(int fd) noexcept;

/// Settings of a demo_receiver.
struct demo_receiver_options
{
    /// Address to bind. The demo receiver is meant for loopback only.
    std::string address = "127.0.0.1";
    /// Port to bind; 0 picks a free one (see demo_receiver::port()).
    std::uint16_t port = 0;
    /// Secrets (`whsec_...`) that `v1` signatures are verified with; any one matching is enough.
    std::vector<webhook::secret> secrets;
    /// Ed25519 public keys (`whpk_...`) that `v1a` signatures are verified with.
    std::vector<webhook::public_key> public_keys;
    /// How far webhook-timestamp may be from this machine's clock (both ways).
    std::chrono::seconds tolerance = webhook::default_tolerance;
    /// Where lines go; empty means stdout_sink().
    line_sink output;
    /// ANSI colours in the lines (green verified, red INVALID, yellow non-2xx answers).
    bool color = false;
    /// Answer 401 to a webhook whose signature does not verify (as a real receiver would, which makes Relay
    /// dead-letter it); by default the line says INVALID and the answer is still the path's.
    bool reject_invalid = false;
    /// Bytes of the body shown in a line; longer bodies are cut at a character boundary and end in "...".
    std::size_t body_preview = 160;
    /// Largest request body accepted (larger ones get 413 from the server).
    std::size_t body_limit = std::size_t{16} * 1024 * 1024;
    /// Webhook ids remembered to number attempts (the oldest are forgotten first).
    std::size_t remembered_ids = 100000;
};

/// A snapshot of what the receiver has seen.
struct demo_receiver_counts
{
    std::uint64_t received = 0;  ///< POST requests handled (webhooks or not)
    std::uint64_t verified = 0;  ///< signature verified with a configured secret or public key
    std::uint64_t invalid = 0;   ///< signature missing, malformed, stale or matching no key
    std::uint64_t unchecked = 0; ///< not verified because no secret or public key is configured
};

/// An HTTP server (relay::http::server) that acts as a webhook endpoint for `relay dev` and demos.
///
/// Every POST, to any path, is verified as a Standard Webhooks request (webhook-id, webhook-timestamp,
/// webhook-signature) and printed as one line (shown wrapped here), e.g.
///
///     14:03:07  POST /orders  order.created  id=evt_3f2a...  signature verified (v1)  attempt 1
///         -> 200  {"id":"evt_3f2a...","type":"order.created",...}
///     14:03:09  POST /status/503  order.created  id=evt_9c1d...  signature INVALID: no matching
///         signature found (...)  attempt 2  -> 503  {...}
///
/// with the local time, method and path, the event type (from the JSON body: Relay envelope or structured
/// CloudEvent; else the `ce-type` header; else "-"), the webhook id, the verification result, the attempt
/// number (how many times this receiver has seen this webhook-id at this path, counting this one), the status
/// answered and the body cut to `body_preview` bytes. Everything taken from the request is made safe for a
/// terminal: control characters and invalid UTF-8 are replaced, so a request cannot inject escape sequences.
///
/// Answers: 200 with an empty body; `/status/<code>` (200-599, optionally followed by more path, e.g.
/// `/status/503/orders`) answers that code, adding `Retry-After: <n>` only when the query asks for it
/// (`/status/429?retry_after=2`; n is 0-999999999 seconds); a `/status/...` path with any other code gets
/// 404 (application/problem+json). With `reject_invalid`, a webhook whose signature does not verify gets
/// 401 instead. GET on any path answers a short plain-text help and is neither printed nor counted;
/// other methods get 405.
///
/// Lifecycle: the constructor binds (so port() is known at once), start() accepts, stop() stops as
/// relay::http::server::stop does. Destroying a running receiver cuts its connections without waiting.
///
/// Thread-safety: every member may be called from any thread, and the executor may be run by any number
/// of threads; line output is serialized. Requests still being served when the receiver is destroyed keep
/// its shared state (options, counters, sink) alive until they end.
class demo_receiver
{
public:
    /// Binds `opts.address`:`opts.port` on `executor`. Throws boost::system::system_error when the address
    /// is invalid or cannot be bound.
    demo_receiver(boost::asio::any_io_executor executor, demo_receiver_options opts);

    demo_receiver(const demo_receiver&) = delete;
    demo_receiver& operator=(const demo_receiver&) = delete;

    /// Cuts every connection if still running; does not wait.
    ~demo_receiver();

    /// Starts accepting connections. Does nothing after stop().
    void start();

    /// Stops accepting, lets requests in progress finish for at most `grace`; `on_stopped` (optional) runs
    /// on the executor once every connection has ended. Never blocks.
    void stop(
        std::chrono::steady_clock::duration grace = std::chrono::seconds(1),
        std::function<void()> on_stopped = {}
    );

    /// The bound address, with the actual port.
    boost::asio::ip::tcp::endpoint local_endpoint() const;

    /// The bound port.
    std::uint16_t port() const;

    /// "http://<address>:<port>" followed by `path` (which should start with '/'), for subscription URLs.
    std::string url(std::string_view path = "/") const;

    /// What the receiver has seen so far.
    demo_receiver_counts counts() const noexcept;

private:
    struct state;
    // Handlers hold the state too, so a request still being served after destruction finds it alive.
    std::shared_ptr<state> state_;
    std::unique_ptr<http::server> server_;
};

/// Pieces of the line format, exposed for unit tests.
namespace detail {

/// `text` made safe to print on a terminal: CR, LF and TAB, with the spaces that follow, become one space
/// (so pretty-printed JSON reads as one line), other control
/// characters (C0, DEL, C1), Unicode bidirectional controls and invalid UTF-8 become '?'. When the result
/// would exceed `max_bytes` bytes it is cut at a character boundary and "..." is appended.
std::string printable(std::string_view text, std::size_t max_bytes);

/// The status a demo path asks for: 200 for an ordinary path, the code of `/status/<code>[/...]`, or 0 when
/// a `/status/` path has no valid code (200-599).
unsigned status_for_path(std::string_view path) noexcept;

/// The `retry_after` value of a query string when it is 1-9 digits, else "".
std::string_view retry_after_from_query(std::string_view query) noexcept;

} // namespace detail

} // namespace relay::dev
