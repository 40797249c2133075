#include "relay/http/client_pool.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <vector>

namespace {

using namespace std::chrono_literals;
using relay::http::client_errc;

struct fake_connection
{
    explicit fake_connection(int i)
        : id(i)
    {}
    bool probe_idle() const { return alive; }
    int id;
    bool alive = true;
};

using pool_type = relay::http::basic_origin_pool<fake_connection>;
using handle = pool_type::handle;

struct acquired
{
    std::optional<boost::system::error_code> ec;
    handle h;
};

class http_client_pool : public ::testing::Test
{
protected:
    std::shared_ptr<pool_type> make_pool(std::size_t max, std::chrono::milliseconds idle = 60s)
    {
        return std::make_shared<pool_type>(ioc_.get_executor(), max, idle);
    }

    void acquire(pool_type& pool, acquired& out, std::chrono::milliseconds wait = 10s)
    {
        pool.async_acquire(pool_type::clock::now() + wait, [&out](boost::system::error_code ec, handle h) {
            out.ec = ec;
            out.h = std::move(h);
        });
    }

    // Runs handlers until `done` holds, at most 5 s.
    template <class Pred>
    bool run_until(Pred done)
    {
        const auto limit = std::chrono::steady_clock::now() + 5s;
        ioc_.restart();
        while (!done() && std::chrono::steady_clock::now() < limit) {
            ioc_.run_one_for(100ms);
        }
        return done();
    }

    void drain()
    {
        ioc_.restart();
        ioc_.poll();
    }

    boost::asio::io_context ioc_;
};

TEST_F(http_client_pool, hands_out_fresh_slots_up_to_the_cap)
{
    auto pool = make_pool(2);
    auto a = pool->try_acquire();
    auto b = pool->try_acquire();
    auto c = pool->try_acquire();
    EXPECT_TRUE(a.valid());
    EXPECT_TRUE(b.valid());
    EXPECT_EQ(a.get(), nullptr);
    EXPECT_FALSE(c.valid());
    EXPECT_EQ(pool->in_use(), 2u);
}

TEST_F(http_client_pool, kept_alive_connection_returns_to_the_idle_list_and_is_reused)
{
    auto pool = make_pool(2);
    {
        auto h = pool->try_acquire();
        h.emplace(7);
        h.keep_alive();
    }
    EXPECT_EQ(pool->idle(), 1u);
    EXPECT_EQ(pool->in_use(), 0u);
    auto h = pool->try_acquire();
    ASSERT_NE(h.get(), nullptr);
    EXPECT_EQ(h->id, 7);
}

TEST_F(http_client_pool, connection_not_marked_keep_alive_is_closed_on_release)
{
    auto pool = make_pool(2);
    {
        auto h = pool->try_acquire();
        h.emplace(7);
    }
    EXPECT_EQ(pool->idle(), 0u);
    EXPECT_EQ(pool->in_use(), 0u);
    EXPECT_TRUE(pool->unused());
}

TEST_F(http_client_pool, emplace_replaces_the_connection_and_clears_keep_alive)
{
    auto pool = make_pool(1);
    {
        auto h = pool->try_acquire();
        h.emplace(1);
        h.keep_alive();
        h.emplace(2);
    }
    EXPECT_EQ(pool->idle(), 0u);
}

TEST_F(http_client_pool, most_recently_returned_connection_is_reused_first)
{
    auto pool = make_pool(2);
    auto a = pool->try_acquire();
    auto b = pool->try_acquire();
    a.emplace(1);
    b.emplace(2);
    a.keep_alive();
    b.keep_alive();
    a.reset();
    b.reset();
    auto h = pool->try_acquire();
    EXPECT_EQ(h->id, 2);
}

TEST_F(http_client_pool, idle_connection_failing_the_probe_is_dropped)
{
    auto pool = make_pool(1);
    {
        auto h = pool->try_acquire();
        h.emplace(1).alive = false;
        h.keep_alive();
    }
    auto h = pool->try_acquire();
    ASSERT_TRUE(h.valid());
    EXPECT_EQ(h.get(), nullptr);
    EXPECT_EQ(pool->idle(), 0u);
}

TEST_F(http_client_pool, idle_connection_past_the_idle_timeout_is_not_reused)
{
    auto pool = make_pool(1, 0ms);
    {
        auto h = pool->try_acquire();
        h.emplace(1);
        h.keep_alive();
    }
    auto h = pool->try_acquire();
    ASSERT_TRUE(h.valid());
    EXPECT_EQ(h.get(), nullptr);
}

TEST_F(http_client_pool, idle_timer_closes_expired_connections)
{
    auto pool = make_pool(1, 20ms);
    {
        auto h = pool->try_acquire();
        h.emplace(1);
        h.keep_alive();
    }
    ASSERT_EQ(pool->idle(), 1u);
    EXPECT_TRUE(run_until([&] { return pool->idle() == 0; }));
}

TEST_F(http_client_pool, async_acquire_never_completes_inside_the_call)
{
    auto pool = make_pool(1);
    acquired got;
    acquire(*pool, got);
    EXPECT_FALSE(got.ec.has_value());
    drain();
    ASSERT_TRUE(got.ec.has_value());
    EXPECT_FALSE(*got.ec);
    EXPECT_TRUE(got.h.valid());
}

TEST_F(http_client_pool, waiter_gets_the_slot_of_a_closed_connection)
{
    auto pool = make_pool(1);
    auto first = pool->try_acquire();
    first.emplace(1);
    acquired got;
    acquire(*pool, got);
    drain();
    EXPECT_FALSE(got.ec.has_value());
    EXPECT_EQ(pool->waiting(), 1u);
    first.reset();
    drain();
    ASSERT_TRUE(got.ec.has_value());
    EXPECT_FALSE(*got.ec);
    EXPECT_TRUE(got.h.valid());
    EXPECT_EQ(got.h.get(), nullptr);
    EXPECT_EQ(pool->in_use(), 1u);
}

TEST_F(http_client_pool, waiter_gets_a_kept_alive_connection_directly)
{
    auto pool = make_pool(1);
    auto first = pool->try_acquire();
    first.emplace(5);
    acquired got;
    acquire(*pool, got);
    drain();
    first.keep_alive();
    first.reset();
    drain();
    ASSERT_TRUE(got.ec.has_value());
    ASSERT_NE(got.h.get(), nullptr);
    EXPECT_EQ(got.h->id, 5);
    EXPECT_EQ(pool->idle(), 0u);
}

TEST_F(http_client_pool, waiters_are_served_first_come_first_served)
{
    auto pool = make_pool(1);
    auto first = pool->try_acquire();
    std::vector<int> order;
    std::vector<handle> held;
    for (int i = 0; i < 3; ++i) {
        pool->async_acquire(pool_type::clock::now() + 10s, [&, i](boost::system::error_code ec, handle h) {
            ASSERT_FALSE(ec);
            order.push_back(i);
            held.push_back(std::move(h));
        });
    }
    drain();
    EXPECT_FALSE(pool->try_acquire().valid()) << "a newcomer must not overtake the queue";
    first.reset();
    drain();
    held.clear();
    drain();
    held.clear();
    drain();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

TEST_F(http_client_pool, waiter_fails_with_pool_timeout_at_its_deadline)
{
    auto pool = make_pool(1);
    auto first = pool->try_acquire();
    acquired got;
    acquire(*pool, got, 20ms);
    ASSERT_TRUE(run_until([&] { return got.ec.has_value(); }));
    EXPECT_EQ(*got.ec, client_errc::pool_timeout);
    EXPECT_FALSE(got.h.valid());
    EXPECT_EQ(pool->waiting(), 0u);
    first.reset();
    EXPECT_TRUE(pool->unused());
}

TEST_F(http_client_pool, close_fails_waiters_and_refuses_new_requests)
{
    auto pool = make_pool(1);
    auto first = pool->try_acquire();
    first.emplace(1);
    first.keep_alive();
    acquired waiting;
    acquire(*pool, waiting);
    drain();
    pool->close();
    drain();
    ASSERT_TRUE(waiting.ec.has_value());
    EXPECT_EQ(*waiting.ec, client_errc::shutting_down);

    acquired late;
    acquire(*pool, late);
    drain();
    ASSERT_TRUE(late.ec.has_value());
    EXPECT_EQ(*late.ec, client_errc::shutting_down);
    EXPECT_FALSE(pool->try_acquire().valid());

    first.reset();
    EXPECT_EQ(pool->idle(), 0u) << "connections returned after close are closed";
}

} // namespace
