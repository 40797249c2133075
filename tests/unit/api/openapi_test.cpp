// The OpenAPI document: embedded byte for byte from relay/api/openapi.json, served without a token, and
// listing exactly the operations the API's services register (and each of them reaches a handler).
#include "relay/api/dlq.hpp"
#include "relay/api/ingest.hpp"
#include "relay/api/openapi.hpp"
#include "relay/api/subscriptions.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/subscription/store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/beast/http/field.hpp>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace {

namespace bhttp = boost::beast::http;

std::string read_source_file(const std::string& relative)
{
    const char* root = std::getenv("RELAY_TEST_SOURCE_DIR");
    const std::string dir = root != nullptr ? root : RELAY_SOURCE_DIR;
    std::ifstream in(dir + "/" + relative, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// A sample path for a documented template: "{id}" becomes "sub_1".
std::string instantiate(std::string path)
{
    const auto open = path.find("{id}");
    if (open != std::string::npos) {
        path.replace(open, 4, "sub_1");
    }
    return path;
}

// The verbs an OpenAPI path item may hold, by their member names.
const std::vector<std::pair<std::string, bhttp::verb>>& openapi_verbs()
{
    static const std::vector<std::pair<std::string, bhttp::verb>> verbs{
        {"get", bhttp::verb::get},
        {"put", bhttp::verb::put},
        {"post", bhttp::verb::post},
        {"delete", bhttp::verb::delete_},
        {"options", bhttp::verb::options},
        {"head", bhttp::verb::head},
        {"patch", bhttp::verb::patch},
        {"trace", bhttp::verb::trace},
    };
    return verbs;
}

std::set<std::pair<std::string, std::string>> documented_operations(const rapidjson::Document& doc)
{
    std::set<std::pair<std::string, std::string>> out;
    for (const auto& path : doc["paths"].GetObject()) {
        for (const auto& [name, verb] : openapi_verbs()) {
            if (path.value.HasMember(name.c_str())) {
                out.emplace(std::string(bhttp::to_string(verb)), path.name.GetString());
            }
        }
    }
    return out;
}

// Every "$ref" in `v` (recursively) that does not resolve within `doc`.
void unresolved_refs(const rapidjson::Value& v, const rapidjson::Document& doc, std::vector<std::string>& out)
{
    if (v.IsObject()) {
        for (const auto& m : v.GetObject()) {
            if (std::string_view(m.name.GetString()) == "$ref" && m.value.IsString()) {
                const std::string ref = m.value.GetString();
                if (!ref.starts_with("#") || rapidjson::Pointer(ref.substr(1).c_str()).Get(doc) == nullptr) {
                    out.push_back(ref);
                }
            } else {
                unresolved_refs(m.value, doc, out);
            }
        }
    } else if (v.IsArray()) {
        for (const auto& item : v.GetArray()) {
            unresolved_refs(item, doc, out);
        }
    }
}

// The API's services, built without a reachable Kafka cluster: nothing is produced or consumed here.
class openapi_test : public ::testing::Test
{
protected:
    openapi_test()
        : producer_(relay::kafka::client_options{.config = {{"bootstrap.servers", "127.0.0.1:1"}}})
        , writer_(producer_, "relay.subscriptions")
        , follower_(
              relay::subscription::follower_options{.kafka = {{"bootstrap.servers", "127.0.0.1:1"}}}, table_
          )
        , ingest_(ioc_.get_executor(), ingest_options(), producer_)
        , subscriptions_(ioc_.get_executor(), subscriptions_options(), writer_, follower_, producer_)
        , dlq_(ioc_.get_executor(), dlq_config(), dlq_options())
    {}

    static relay::api::ingest_options ingest_options()
    {
        relay::api::ingest_options o;
        o.tokens = {"t"};
        return o;
    }
    static relay::api::subscriptions_options subscriptions_options()
    {
        relay::api::subscriptions_options o;
        o.tokens = {"t"};
        return o;
    }
    static relay::config::config dlq_config()
    {
        relay::config::config c;
        c.kafka.brokers = "127.0.0.1:1";
        return c;
    }
    static relay::api::dlq_options dlq_options()
    {
        relay::api::dlq_options o;
        o.tokens = {"t"};
        return o;
    }

    boost::asio::io_context ioc_;
    relay::kafka::producer producer_;
    relay::subscription::writer writer_;
    relay::subscription::atomic_routing_table table_;
    relay::subscription::follower follower_;
    relay::api::ingest_service ingest_;
    relay::api::subscriptions_service subscriptions_;
    relay::api::dlq_service dlq_;
};

TEST(openapi, embedded_document_equals_the_source_file)
{
    const auto file = read_source_file("relay/api/openapi.json");
    ASSERT_FALSE(file.empty()) << "relay/api/openapi.json not found";
    EXPECT_TRUE(relay::api::openapi_document() == file) << "rebuild: the embedded document is stale";
}

TEST(openapi, document_is_openapi_3_1_with_bearer_auth_and_resolvable_refs)
{
    rapidjson::Document doc;
    const auto text = relay::api::openapi_document();
    doc.Parse(text.data(), text.size());
    ASSERT_FALSE(doc.HasParseError()) << "offset " << doc.GetErrorOffset();
    ASSERT_TRUE(doc.IsObject());
    EXPECT_STREQ(doc["openapi"].GetString(), "3.1.0");
    const auto* scheme = rapidjson::Pointer("/components/securitySchemes/bearerAuth/scheme").Get(doc);
    ASSERT_NE(scheme, nullptr);
    EXPECT_STREQ(scheme->GetString(), "bearer");
    std::vector<std::string> bad;
    unresolved_refs(doc, doc, bad);
    EXPECT_TRUE(bad.empty()) << "unresolved $ref: " << (bad.empty() ? "" : bad.front());
    // Every operation answers 401 with problem+json, except the document itself, which needs no token.
    for (const auto& path : doc["paths"].GetObject()) {
        for (const auto& op : path.value.GetObject()) {
            const bool open = std::string_view(path.name.GetString()) == relay::api::openapi_path;
            EXPECT_EQ(op.value["responses"].HasMember("401"), !open) << path.name.GetString();
            EXPECT_EQ(op.value.HasMember("security") && op.value["security"].Empty(), open)
                << path.name.GetString();
        }
    }
}

TEST_F(openapi_test, documented_operations_are_exactly_the_registered_ones)
{
    std::vector<relay::api::route_entry> registered;
    const auto routes = relay::api::make_api_router(ingest_, subscriptions_, dlq_, &registered);

    std::set<std::pair<std::string, std::string>> from_router;
    for (const auto& r : registered) {
        EXPECT_TRUE(from_router.emplace(std::string(bhttp::to_string(r.method)), r.path).second)
            << "registered twice: " << r.path;
    }
    rapidjson::Document doc;
    const auto text = relay::api::openapi_document();
    doc.Parse(text.data(), text.size());
    ASSERT_FALSE(doc.HasParseError());
    const auto documented = documented_operations(doc);

    for (const auto& op : from_router) {
        EXPECT_TRUE(documented.contains(op))
            << "registered but not documented: " << op.first << " " << op.second;
    }
    for (const auto& op : documented) {
        EXPECT_TRUE(from_router.contains(op))
            << "documented but not registered: " << op.first << " " << op.second;
    }
    // And the router really reaches a handler for each documented operation.
    for (const auto& [method, path] : documented) {
        const auto verb = bhttp::string_to_verb(method);
        const auto m = routes.match(verb, instantiate(path));
        EXPECT_NE(m.target, nullptr) << method << " " << path << " reaches no handler";
    }
    // Paths without `:action`: no method beyond the documented ones is routed.
    for (const auto& path : doc["paths"].GetObject()) {
        const std::string p = path.name.GetString();
        if (p.find("}:") != std::string::npos) {
            continue; // the GET/PATCH/DELETE {id} routes match "sub_1:enable" as an id (404)
        }
        // POST /v1/subscriptions/{id} is the one pattern behind the documented `{id}:<action>` operations
        // (without a known action it answers 404).
        // Literal paths (/v1/dlq and /v1/dlq:redrive) are exact routes of their own.
        bool has_actions = false;
        for (const auto& other : doc["paths"].GetObject()) {
            has_actions |= p.find('{') != std::string::npos &&
                           std::string_view(other.name.GetString()).starts_with(p + ":");
        }
        for (const auto& [name, verb] : openapi_verbs()) {
            const bool expected =
                path.value.HasMember(name.c_str()) || (verb == bhttp::verb::post && has_actions);
            const auto m = routes.match(verb, instantiate(p));
            EXPECT_EQ(m.target != nullptr, expected) << name << " " << p;
        }
    }
}

TEST_F(openapi_test, document_is_served_without_a_token)
{
    const auto routes = relay::api::make_api_router(ingest_, subscriptions_, dlq_);
    const auto m = routes.match(bhttp::verb::get, "/openapi.json");
    ASSERT_NE(m.target, nullptr);
    const auto* handler = std::get_if<relay::http::sync_handler>(m.target);
    ASSERT_NE(handler, nullptr);
    relay::http::request req{bhttp::verb::get, "/openapi.json", 11};
    relay::http::request_context ctx{req, "/openapi.json", ""};
    const auto res = (*handler)(ctx);
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res[bhttp::field::content_type], "application/json");
    EXPECT_EQ(res.body(), read_source_file("relay/api/openapi.json"));
    EXPECT_EQ(res[bhttp::field::content_length], std::to_string(res.body().size()));
}

} // namespace
