#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace relay::api {

/// A response as remembered for idempotent replays: status and JSON body.
struct stored_response
{
    unsigned status = 0;
    std::string body;
};

/// Remembers the outcome of requests by idempotency key for a time window, with bounded memory.
///
/// A key is first claimed by one request (the owner), which later calls complete(). Requests arriving with
/// the same key meanwhile get the same entry and wait for it with async_wait(); later ones read the result at
/// once. Failed outcomes are not kept (complete with keep = false): a retry then produces again.
///
/// Bounds: at most `capacity` entries; an entry expires `window` after it was claimed. When full, the oldest
/// entry is dropped (even if still pending: its owner still completes it, but new requests with that key
/// are no longer deduplicated).
///
/// Thread-safety: every member function may be called from any thread.
class idempotency_cache
{
public:
    using clock = std::chrono::steady_clock;

    /// A request waiting for an entry: its handler and the executor (with outstanding work) it runs on.
    struct waiter
    {
        boost::asio::any_io_executor executor;
        boost::asio::any_completion_handler<void(stored_response)> handler;
    };

    /// One key's state. `fingerprint` is immutable; the rest is guarded by the cache.
    struct entry
    {
        std::string key;
        std::uint64_t fingerprint = 0;
        clock::time_point expires;
        bool done = false;
        stored_response result;
        std::vector<waiter> waiters;
    };

    /// What claim() found.
    struct claim_result
    {
        std::shared_ptr<entry> e;
        bool owner = false; ///< true: the caller must complete(e, ...) exactly once
    };

    /// Throws std::invalid_argument when capacity is 0.
    idempotency_cache(std::size_t capacity, std::chrono::milliseconds window);

    /// Claims `key` (owner) or returns the live entry already holding it.
    claim_result
    claim(const std::string& key, std::uint64_t fingerprint, clock::time_point now = clock::now());

    /// Records the owner's outcome and wakes the waiters; `keep` = false forgets the key afterwards.
    void complete(const std::shared_ptr<entry>& e, stored_response result, bool keep);

    /// Completes with the entry's outcome once it is known (at once, never inline, when it is). The handler
    /// runs through its associated executor.
    template <boost::asio::completion_token_for<void(stored_response)> CompletionToken>
    auto async_wait(std::shared_ptr<entry> e, CompletionToken&& token)
    {
        return boost::asio::async_initiate<CompletionToken, void(stored_response)>(
            [this](auto handler, std::shared_ptr<entry> en) {
                auto ex = boost::asio::get_associated_executor(handler);
                std::unique_lock lock(mutex_);
                if (!en->done) {
                    en->waiters.push_back(waiter{
                        boost::asio::prefer(ex, boost::asio::execution::outstanding_work.tracked),
                        boost::asio::any_completion_handler<void(stored_response)>(std::move(handler))});
                    return;
                }
                auto result = en->result;
                lock.unlock();
                boost::asio::post(ex, [h = std::move(handler), r = std::move(result)]() mutable {
                    std::move(h)(std::move(r));
                });
            },
            token,
            std::move(e)
        );
    }

    /// Number of remembered keys.
    std::size_t size() const;

private:
    void evict_locked(clock::time_point now);

    std::size_t capacity_;
    std::chrono::milliseconds window_;
    mutable std::mutex mutex_;
    std::list<std::shared_ptr<entry>> order_; // by claim time, oldest first
    std::unordered_map<std::string, std::list<std::shared_ptr<entry>>::iterator> index_;
};

} // namespace relay::api
