// Drives serve_connection over boost::beast::test::stream: every error path of a session, without sockets.
#include "relay/http/session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/read.hpp>
#include <gtest/gtest.h>

#include <limits>
#include <optional>

namespace relay::http {
namespace {

namespace bhttp = boost::beast::http;
namespace btest = boost::beast::test;

constexpr std::size_t no_failure = std::numeric_limits<std::size_t>::max();

struct session_run
{
    std::vector<response> responses; ///< what the peer received, in order
    std::string raw;                 ///< the bytes the peer received
    bool peer_saw_close = false;     ///< the session closed its end
    bool finished = false;           ///< the coroutine ended
    std::exception_ptr error;        ///< what escaped the coroutine
};

class session_test : public ::testing::Test
{
protected:
    session_test()
    {
        opts_.body_limit = 1024;
        opts_.header_limit = 1024;
        routes_.add(bhttp::verb::get, "/hello", sync_handler([this](request_context& ctx) {
                        ++calls_;
                        last_connection_ = ctx.connection_id;
                        response res{bhttp::status::ok, 11};
                        res.set(bhttp::field::content_type, "text/plain");
                        res.body() = "hello";
                        return res;
                    }));
        routes_.add(bhttp::verb::post, "/echo", sync_handler([this](request_context& ctx) {
                        ++calls_;
                        response res{bhttp::status::ok, 11};
                        res.body() = std::move(ctx.req.body());
                        return res;
                    }));
        routes_.add(
            bhttp::verb::get,
            "/items/{id}",
            async_handler([this](request_context& ctx) -> boost::asio::awaitable<response> {
                ++calls_;
                // Resumes after a hop through the executor, as a handler waiting on I/O would.
                co_await boost::asio::post(
                    co_await boost::asio::this_coro::executor, boost::asio::use_awaitable
                );
                response res{bhttp::status::ok, 11};
                res.body() = std::string(ctx.params["id"]) + "?" + std::string(ctx.query);
                co_return res;
            })
        );
        routes_.add(bhttp::verb::get, "/throw", sync_handler([this](request_context&) -> response {
                        ++calls_;
                        throw std::runtime_error("handler bug");
                    }));
        routes_.add(bhttp::verb::get, "/drop", sync_handler([this](request_context& ctx) {
                        ++calls_;
                        ctx.close_without_response = true;
                        return response{};
                    }));
        routes_.add(bhttp::verb::get, "/stop", sync_handler([this](request_context&) {
                        ++calls_;
                        stopping_ = true;
                        return response{bhttp::status::ok, 11};
                    }));
        routes_.add(bhttp::verb::get, "/close", sync_handler([this](request_context&) {
                        ++calls_;
                        response res{bhttp::status::ok, 11};
                        res.set(bhttp::field::connection, "close");
                        return res;
                    }));
        routes_.add(bhttp::verb::get, "/empty", sync_handler([this](request_context&) {
                        ++calls_;
                        response res{bhttp::status::no_content, 11};
                        res.body() = "ignored";
                        return res;
                    }));
    }

    // Feeds `input` to a session (then end of stream), failing the `fail_on`-th operation (1-based, reads and
    // writes counted together, as beast::test::fail_count counts) and every later one with `fail_with`;
    // `read_size` bounds each read so requests arrive in pieces.
    session_run
    run(std::string_view input,
        std::size_t fail_on = no_failure,
        boost::system::error_code fail_with = btest::error::test_failure,
        std::size_t read_size = std::numeric_limits<std::size_t>::max())
    {
        boost::asio::io_context ioc;
        btest::fail_count fc(fail_on, fail_with);
        btest::stream server(ioc, fc, boost::beast::string_view(input.data(), input.size()));
        btest::stream peer(ioc);
        server.connect(peer);
        server.read_size(read_size);
        server.close_remote();
        conn_.id = 7;

        session_run out;
        boost::asio::co_spawn(
            ioc,
            serve_connection(server, routes_, opts_, conn_, stopping_),
            [&](std::exception_ptr e) {
                out.finished = true;
                out.error = e;
            }
        );
        ioc.run();

        const auto raw = peer.str();
        out.raw.assign(raw.data(), raw.size());
        // Parse what the peer got, as a client would.
        btest::stream reader(ioc, boost::beast::string_view(out.raw.data(), out.raw.size()));
        reader.close_remote();
        boost::beast::flat_buffer buffer;
        for (;;) {
            bhttp::response_parser<bhttp::string_body> parser;
            boost::system::error_code ec;
            bhttp::read(reader, buffer, parser, ec);
            if (ec) {
                break;
            }
            out.responses.push_back(parser.release());
        }
        // After the session's close, the peer reads end of stream once its input is drained.
        peer.clear();
        char byte = 0;
        std::optional<boost::system::error_code> read_ec;
        peer.async_read_some(boost::asio::buffer(&byte, 1), [&](boost::system::error_code ec, std::size_t) {
            read_ec = ec;
        });
        ioc.restart();
        ioc.poll();
        out.peer_saw_close = read_ec && *read_ec == boost::asio::error::eof;
        if (!read_ec) {
            peer.close(); // cancels the pending read so nothing outlives this function
            ioc.restart();
            ioc.poll();
        }
        return out;
    }

    router routes_;
    server_options opts_;
    connection_state conn_;
    std::atomic<bool> stopping_{false};
    int calls_ = 0;
    std::uint64_t last_connection_ = 0;
};

constexpr std::string_view get_hello = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";

TEST_F(session_test, answers_a_request_and_ends_normally_at_end_of_stream)
{
    const auto r = run(get_hello);
    ASSERT_EQ(r.responses.size(), 1u);
    EXPECT_EQ(r.responses[0].result_int(), 200u);
    EXPECT_EQ(r.responses[0].body(), "hello");
    EXPECT_EQ(r.responses[0][bhttp::field::content_length], "5");
    EXPECT_TRUE(r.responses[0].keep_alive());
    EXPECT_EQ(last_connection_, 7u);
    EXPECT_TRUE(r.finished);
    EXPECT_FALSE(r.error);
    EXPECT_TRUE(r.peer_saw_close);
}

TEST_F(session_test, serves_pipelined_requests_on_one_connection)
{
    const auto r =
        run(std::string(get_hello) + "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
            std::string(get_hello));
    ASSERT_EQ(r.responses.size(), 3u);
    EXPECT_EQ(r.responses[1].body(), "abc");
    EXPECT_EQ(r.responses[2].body(), "hello");
}

TEST_F(session_test, request_arriving_in_small_pieces_is_served)
{
    const auto r =
        run("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world", no_failure, {}, 3);
    ASSERT_EQ(r.responses.size(), 1u);
    EXPECT_EQ(r.responses[0].body(), "hello world");
}

TEST_F(session_test, async_handler_gets_path_params_and_query)
{
    const auto r = run("GET /items/a%2Fb?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(r.responses.size(), 1u);
    EXPECT_EQ(r.responses[0].body(), "a/b?x=1");
}

TEST_F(session_test, read_error_ends_the_session_without_answer)
{
    const auto r = run(get_hello, 1);
    EXPECT_TRUE(r.raw.empty());
    EXPECT_EQ(calls_, 0);
    EXPECT_TRUE(r.finished);
    EXPECT_FALSE(r.error);
    EXPECT_TRUE(r.peer_saw_close);
}

TEST_F(session_test, read_error_in_the_middle_of_a_request_ends_the_session_without_answer)
{
    // Operation 1 reads the first 8 bytes, operation 2 the next 8, operation 3 fails.
    const auto r = run(get_hello, 3, btest::error::test_failure, 8);
    EXPECT_TRUE(r.raw.empty());
    EXPECT_EQ(calls_, 0);
    EXPECT_FALSE(r.error);
}

TEST_F(session_test, read_timeout_closes_the_connection_without_answer)
{
    // Operation 1 reads the first 8 bytes (the connection is no longer idle), operation 2 times out.
    const auto r = run(get_hello, 2, boost::beast::error::timeout, 8);
    EXPECT_TRUE(r.raw.empty());
    EXPECT_EQ(calls_, 0);
    EXPECT_FALSE(r.error);
    EXPECT_TRUE(r.peer_saw_close);
}

TEST_F(session_test, idle_timeout_after_a_response_closes_quietly)
{
    // Operation 1 reads the request, 2 writes the response, 3 waits for the next request and times out.
    const auto r = run(get_hello, 3, boost::beast::error::timeout);
    ASSERT_EQ(r.responses.size(), 1u);
    EXPECT_EQ(r.responses[0].result_int(), 200u);
    EXPECT_FALSE(r.error);
    EXPECT_TRUE(r.peer_saw_close);
}

TEST_F(session_test, write_error_ends_the_session)
{
    // Operation 1 reads both requests, operation 2 writes the first response.
    const auto r = run(std::string(get_hello) + std::string(get_hello), 2);
    EXPECT_EQ(calls_, 1);
    EXPECT_TRUE(r.raw.empty());
    EXPECT_TRUE(r.finished);
    EXPECT_FALSE(r.error);
}

TEST_F(session_test, write_timeout_ends_the_session)
{
    const auto r = run(std::string(get_hello) + std::string(get_hello), 2, boost::beast::error::timeout);
    EXPECT_EQ(calls_, 1);
    EXPECT_TRUE(r.raw.empty());
    EXPECT_FALSE(r.error);
}

TEST_F(session_test, oversized_body_gets_413_problem_and_close)
{
    const auto r =
        run("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'x'));
    ASSERT_EQ(r.responses.size(), 1u);
    EXPECT_EQ(r.responses[0].result_int(), 413u);
    EXPECT_EQ(r.responses[0][bhttp::field::content_type], "application/problem+json");
    EXPECT_NE(r.responses[0].body().find("\"status\":413"), std::string::npos);
    EXPECT_NE(r.responses[0].body().find("limit of 1024 bytes"), std::string::npos) << r.responses[0].body();
    EXPECT_FALSE(r.responses[0].keep_alive());
    EXPECT_EQ(calls_, 0);
    EXPECT_TRUE(r.peer_saw_close);
}

TEST_F(session_test, oversized_chunked_body_gets_413)
{
    std::string chunked = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i) {
        chunked += "200\r\n" + std::string(512, 'y') + "\r\n";
    }
    chunked += "0\r\n\r\n";
    const auto r = run(chunked);
    ASSERT_EQ(r.responses.size(), 1u);
    EXPECT_EQ(r.responses[0].result_int(), 413u);
    EXPECT_EQ(calls_, 0);
}

TEST_F(session_test, oversized_header_gets_431_problem_and_close)
{
    const auto r = run("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
    ASSERT_EQ(r.responses.size(), 1u);
    EXPECT_EQ(r.responses[0].result_int(), 431u);
    EXPECT_EQ(r.responses[0][bhttp::field::content_type], "application/problem+json");
    EXPECT_FALSE(r.responses[0].keep_alive());
    EXPECT_EQ(calls_, 0);
}

TEST_F(session_test, malformed_request_line_gets_400_problem_and_close)
{
    const auto r = run("GET /hello HTTP/9\r\n\r\n" + std::string(get_hello));
    ASSERT_EQ(r.responses.size(), 1u);
    EXPECT_EQ(r.responses[0].result_int(), 400u);
    EXPECT_EQ(r.responses[0][bhttp::field::content_type], "application/problem+json");
    EXPECT_FALSE(r.responses[0].keep_alive());
    EXPECT_EQ(calls_, 0);
}

TEST_F(session_test, bad_content_length_gets_400)
{
    const auto r = run("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n");
    ASSERT_EQ(r.responses.size(), 1u);
    EXPECT_EQ(r.responses[0].result_int(), 400u);
}

TEST_F(session_test, incomplete_request_at_end_of_stream_gets_no_answer)
{
    const auto r = run("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    EXPECT_TRUE(r.raw.empty());
    EXPECT_EQ(calls_, 0);
    EXPECT_FALSE(r.error);
}

TEST_F(session_test, unknown_path_gets_404_problem_and_keeps_the_connection)
{
    const auto r = run("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(get_hello));
    ASSERT_EQ(r.responses.size(), 2u);
    EXPECT_EQ(r.responses[0].result_int(), 404u);
    EXPECT_EQ(r.responses[0][bhttp::field::content_type], "application/problem+json");
    EXPECT_EQ(r.responses[1].result_int(), 200u);
}

TEST_F(session_test, wrong_method_gets_405_with_allow)
{
    const auto r = run("DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(r.responses.size(), 1u);
    EXPECT_EQ(r.responses[0].result_int(), 405u);
    EXPECT_EQ(r.responses[0][bhttp::field::allow], "GET");
}

TEST_F(session_test, throwing_handler_gets_500_and_closes_only_this_connection)
{
    const auto r = run("GET /throw HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(get_hello));
    ASSERT_EQ(r.responses.size(), 1u);
    EXPECT_EQ(r.responses[0].result_int(), 500u);
    EXPECT_FALSE(r.responses[0].keep_alive());
    EXPECT_EQ(calls_, 1);
    EXPECT_FALSE(r.error);
}

TEST_F(session_test, handler_can_close_without_answering)
{
    const auto r = run("GET /drop HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(get_hello));
    EXPECT_TRUE(r.raw.empty());
    EXPECT_EQ(calls_, 1);
    EXPECT_TRUE(r.peer_saw_close);
}

TEST_F(session_test, handler_asking_close_ends_the_connection_after_its_response)
{
    const auto r = run("GET /close HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(get_hello));
    ASSERT_EQ(r.responses.size(), 1u);
    EXPECT_FALSE(r.responses[0].keep_alive());
    EXPECT_EQ(calls_, 1);
}

TEST_F(session_test, stopping_answers_the_request_in_progress_with_close)
{
    const auto r = run("GET /stop HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(get_hello));
    ASSERT_EQ(r.responses.size(), 1u);
    EXPECT_EQ(r.responses[0].result_int(), 200u);
    EXPECT_FALSE(r.responses[0].keep_alive());
    EXPECT_EQ(calls_, 1);
}

TEST_F(session_test, http10_without_keep_alive_is_closed_after_the_response)
{
    const auto r = run("GET /hello HTTP/1.0\r\n\r\n" + std::string(get_hello));
    ASSERT_EQ(r.responses.size(), 1u);
    EXPECT_EQ(r.responses[0].version(), 10u);
    EXPECT_EQ(calls_, 1);
    EXPECT_TRUE(r.peer_saw_close);
}

TEST_F(session_test, expect_100_continue_gets_interim_response)
{
    const auto r =
        run("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok");
    ASSERT_EQ(r.responses.size(), 2u);
    EXPECT_EQ(r.responses[0].result_int(), 100u);
    EXPECT_EQ(r.responses[1].result_int(), 200u);
    EXPECT_EQ(r.responses[1].body(), "ok");
}

TEST_F(session_test, no_content_response_carries_no_body)
{
    const auto r = run("GET /empty HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(get_hello));
    ASSERT_EQ(r.responses.size(), 2u);
    EXPECT_EQ(r.responses[0].result_int(), 204u);
    EXPECT_TRUE(r.responses[0].body().empty());
    EXPECT_EQ(r.responses[1].body(), "hello");
}

} // namespace
} // namespace relay::http
