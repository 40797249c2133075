#pragma once

#include "relay/subscription/codec.hpp"
#include "relay/subscription/store.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace relay::test {

/// A fixed, valid signing secret for test subscriptions.
inline constexpr const char* subscription_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The JSON of a minimal stored subscription: `id`, `url`, event types ["order.*"], the test secret,
/// `enabled`.
inline std::string
sub_json(const std::string& id, const std::string& url = "https://hooks.example.com/in", bool enabled = true)
{
    return R"({"id":")" + id + R"(","url":")" + url + R"(","event_types":["order.*"],"secrets":[")" +
           subscription_secret + R"("],"enabled":)" + (enabled ? "true" : "false") + "}";
}

/// Parses `json` with the rules of stored records (ids and secrets required); a gtest failure when invalid.
inline subscription::subscription parse_stored(const std::string& json)
{
    auto parsed = subscription::parse_subscription(json, subscription::stored_parse_options({}));
    EXPECT_TRUE(parsed) << subscription::to_string(parsed.error());
    return parsed ? *parsed : subscription::subscription{};
}

/// The ids of `subs`, in order.
inline std::vector<std::string> ids(const std::vector<subscription::subscription_ptr>& subs)
{
    std::vector<std::string> out;
    for (const auto& s : subs)
        out.push_back(s->id);
    return out;
}

} // namespace relay::test
