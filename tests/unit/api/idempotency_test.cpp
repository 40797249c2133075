// The idempotency cache: one owner per key, waiters woken with the owner's result, bounded and expiring.
#include "relay/api/idempotency.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

namespace {

using relay::api::idempotency_cache;
using relay::api::stored_response;
using namespace std::chrono_literals;

TEST(idempotency_cache, first_claim_owns_and_repeats_share_the_entry)
{
    idempotency_cache cache(10, 1h);
    const auto a = cache.claim("k", 1);
    EXPECT_TRUE(a.owner);
    const auto b = cache.claim("k", 1);
    EXPECT_FALSE(b.owner);
    EXPECT_EQ(a.e, b.e);
    cache.complete(a.e, {202, "done"}, true);
    const auto c = cache.claim("k", 2);
    EXPECT_FALSE(c.owner);
    EXPECT_EQ(c.e->fingerprint, 1u);
    EXPECT_TRUE(c.e->done);
    EXPECT_EQ(c.e->result.body, "done");
}

TEST(idempotency_cache, waiters_get_the_owners_result)
{
    boost::asio::io_context ioc;
    idempotency_cache cache(10, 1h);
    const auto a = cache.claim("k", 1);
    const auto b = cache.claim("k", 1);
    std::optional<stored_response> got;
    cache.async_wait(b.e, boost::asio::bind_executor(ioc, [&](stored_response r) { got = std::move(r); }));
    ioc.poll();
    EXPECT_FALSE(got.has_value());
    cache.complete(a.e, {202, "body"}, true);
    ioc.restart();
    ioc.poll();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->status, 202u);
    EXPECT_EQ(got->body, "body");
}

TEST(idempotency_cache, failures_are_forgotten)
{
    idempotency_cache cache(10, 1h);
    const auto a = cache.claim("k", 1);
    cache.complete(a.e, {503, "down"}, false);
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_TRUE(cache.claim("k", 1).owner);
}

TEST(idempotency_cache, entries_expire_after_the_window)
{
    idempotency_cache cache(10, 1min);
    const auto t0 = idempotency_cache::clock::now();
    const auto a = cache.claim("k", 1, t0);
    cache.complete(a.e, {202, "x"}, true);
    EXPECT_FALSE(cache.claim("k", 1, t0 + 59s).owner);
    EXPECT_TRUE(cache.claim("k", 1, t0 + 61s).owner);
}

TEST(idempotency_cache, capacity_drops_the_oldest)
{
    idempotency_cache cache(2, 1h);
    for (const auto* k : {"a", "b", "c"}) {
        const auto c = cache.claim(k, 1);
        cache.complete(c.e, {202, k}, true);
    }
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_FALSE(cache.claim("c", 1).owner);
    EXPECT_TRUE(cache.claim("a", 1).owner);
}

} // namespace

namespace {

TEST(idempotency_cache, coroutine_waiters_resume_with_the_result)
{
    boost::asio::io_context ioc;
    idempotency_cache cache(10, 1h);
    const auto a = cache.claim("k", 1);
    const auto b = cache.claim("k", 1);
    std::optional<stored_response> got;
    boost::asio::co_spawn(
        ioc,
        [&]() -> boost::asio::awaitable<void> {
            got = co_await cache.async_wait(b.e, boost::asio::use_awaitable);
        },
        boost::asio::detached
    );
    ioc.poll();
    EXPECT_FALSE(got.has_value());
    cache.complete(a.e, {202, "body"}, true);
    ioc.restart();
    ioc.poll();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->body, "body");
}

} // namespace
