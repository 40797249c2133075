#include "relay/webhook/error.hpp"
#include "relay/webhook/secret.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace relay::webhook {
namespace {

std::string parse_error(std::string_view text)
{
    const auto r = parse_secret(text);
    EXPECT_FALSE(r.has_value()) << text;
    if (r) {
        return {};
    }
    EXPECT_EQ(r.error(), errc::invalid_secret);
    return r.error().message();
}

TEST(parse_secret, decodes_the_spec_secret)
{
    const auto s = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").value();
    EXPECT_EQ(s.key.size(), 24u);
    EXPECT_EQ(s.key[0], 0x31); // 'M' 'f' 'K' -> 0x31 0xf2 ...
    EXPECT_EQ(s.text, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
}

TEST(parse_secret, padding_is_optional)
{
    // 32 bytes: 43 base64 characters plus one '='.
    const std::string padded = "whsec_" + std::string(42, 'A') + "A=";
    const std::string bare = "whsec_" + std::string(42, 'A') + "A";
    EXPECT_EQ(parse_secret(padded).value().key.size(), 32u);
    EXPECT_EQ(parse_secret(bare).value().key, parse_secret(padded).value().key);
}

TEST(parse_secret, requires_the_prefix)
{
    EXPECT_NE(parse_error("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").find("whsec_"), std::string::npos);
    parse_error("WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    parse_error("whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
}

TEST(parse_secret, rejects_bad_base64)
{
    for (std::string_view text :
         {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!",
          "whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw",
          "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
          "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwA",
          "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS=",
          "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-_"}) {
        EXPECT_NE(parse_error(text).find("base64"), std::string::npos) << text;
    }
}

TEST(parse_secret, enforces_key_length_24_to_64)
{
    EXPECT_NE(parse_error("whsec_").find("24 to 64"), std::string::npos);
    EXPECT_NE(parse_error("whsec_" + std::string(28, 'A')).find("24 to 64"), std::string::npos); // 21 bytes
    EXPECT_TRUE(parse_secret("whsec_" + std::string(32, 'A')).has_value());                      // 24 bytes
    EXPECT_TRUE(parse_secret("whsec_" + std::string(84, 'A') + "AA==").has_value());             // 64 bytes
    EXPECT_NE(parse_error("whsec_" + std::string(88, 'A')).find("24 to 64"), std::string::npos); // 66 bytes
    EXPECT_NE(parse_error("whsec_" + std::string(100000, 'A')).find("24 to 64"), std::string::npos);
}

TEST(parse_secret, errors_never_echo_the_secret)
{
    const auto msg = parse_error("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!");
    EXPECT_EQ(msg.find("MfKQ"), std::string::npos);
}

TEST(generate_secret, makes_32_random_bytes_that_parse_back)
{
    const auto s = generate_secret();
    EXPECT_EQ(s.key.size(), 32u);
    EXPECT_EQ(s.text.substr(0, 6), "whsec_");
    const auto again = parse_secret(s.text).value();
    EXPECT_EQ(again.key, s.key);
}

TEST(generate_secret, is_unique)
{
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        seen.insert(generate_secret().text);
    }
    EXPECT_EQ(seen.size(), 100u);
}

TEST(secret, masked_shows_prefix_and_four_characters)
{
    const auto s = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").value();
    EXPECT_EQ(s.masked(), "whsec_MfKQ\u2026");
}

} // namespace
} // namespace relay::webhook
