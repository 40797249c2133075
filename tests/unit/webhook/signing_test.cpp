#include "relay/webhook/signing.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace relay::webhook {
namespace {

// Test vectors of the Standard Webhooks reference libraries (libraries/go/webhook_symmetric_test.go,
// webhook_asymmetric_test.go and libraries/javascript/src/webhook.test.ts, "sign function works").
constexpr std::string_view spec_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view spec_signing_key = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
constexpr std::string_view spec_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::int64_t spec_timestamp = 1614265330;
constexpr std::string_view spec_body = R"({"test": 2432232314})";
constexpr std::string_view spec_v1 = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
constexpr std::string_view spec_v1a =
    "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";

secret spec_key()
{
    return parse_secret(spec_secret).value();
}

TEST(sign_v1, matches_the_spec_test_vector)
{
    EXPECT_EQ(sign_v1(spec_key(), spec_id, spec_timestamp, spec_body), spec_v1);
}

TEST(sign_v1, changes_with_every_signed_part)
{
    const auto key = spec_key();
    EXPECT_NE(sign_v1(key, "msg_other", spec_timestamp, spec_body), spec_v1);
    EXPECT_NE(sign_v1(key, spec_id, spec_timestamp + 1, spec_body), spec_v1);
    EXPECT_NE(sign_v1(key, spec_id, spec_timestamp, R"({"test": 2432232315})"), spec_v1);
}

TEST(sign_v1, empty_body_and_binary_bytes_are_signed_exactly)
{
    const auto key = spec_key();
    const std::string binary("a\0b\xff", 4);
    EXPECT_EQ(sign_v1(key, spec_id, spec_timestamp, "").size(), spec_v1.size());
    EXPECT_NE(sign_v1(key, spec_id, spec_timestamp, binary), sign_v1(key, spec_id, spec_timestamp, "a"));
}

TEST(sign_v1a, matches_the_spec_test_vector)
{
    const auto key = signing_key::parse(spec_signing_key).value();
    EXPECT_EQ(sign_v1a(key, spec_id, spec_timestamp, spec_body), spec_v1a);
}

TEST(signature_header, one_signature_per_secret_in_order)
{
    const std::vector<secret> secrets{spec_key(), generate_secret(), generate_secret()};
    const auto header = signature_header(secrets, spec_id, spec_timestamp, spec_body);
    std::string expected = std::string(spec_v1) + " " +
                           sign_v1(secrets[1], spec_id, spec_timestamp, spec_body) + " " +
                           sign_v1(secrets[2], spec_id, spec_timestamp, spec_body);
    EXPECT_EQ(header, expected);
}

TEST(signature_header, appends_v1a_for_asymmetric_keys)
{
    const std::vector<secret> secrets{spec_key()};
    const std::vector<signing_key> keys{signing_key::parse(spec_signing_key).value()};
    EXPECT_EQ(
        signature_header(secrets, keys, spec_id, spec_timestamp, spec_body),
        std::string(spec_v1) + " " + std::string(spec_v1a)
    );
    EXPECT_EQ(signature_header({}, keys, spec_id, spec_timestamp, spec_body), spec_v1a);
}

TEST(signature_header, empty_without_keys)
{
    EXPECT_EQ(signature_header({}, spec_id, spec_timestamp, spec_body), "");
}

TEST(verify, accepts_the_spec_vector_at_its_time)
{
    EXPECT_FALSE(verify(spec_key(), spec_id, "1614265330", spec_v1, spec_body, spec_timestamp));
}

TEST(verify, accepts_any_matching_entry_among_others)
{
    const std::string header = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "
                               "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " +
                               std::string(spec_v1) + " v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
    EXPECT_FALSE(verify(spec_key(), spec_id, "1614265330", header, spec_body, spec_timestamp));
}

TEST(verify, rotation_old_and_new_secret_both_verify)
{
    const std::vector<secret> secrets{generate_secret(), spec_key()};
    const auto header = signature_header(secrets, spec_id, spec_timestamp, spec_body);
    for (const auto& s : secrets) {
        EXPECT_FALSE(verify(s, spec_id, "1614265330", header, spec_body, spec_timestamp));
    }
    EXPECT_EQ(
        verify(generate_secret(), spec_id, "1614265330", header, spec_body, spec_timestamp),
        errc::no_matching_signature
    );
}

TEST(verify, rejects_tampered_body_id_and_timestamp)
{
    const auto key = spec_key();
    EXPECT_EQ(
        verify(key, spec_id, "1614265330", spec_v1, R"({"test": 2432232315})", spec_timestamp),
        errc::no_matching_signature
    );
    EXPECT_EQ(
        verify(key, "msg_other", "1614265330", spec_v1, spec_body, spec_timestamp),
        errc::no_matching_signature
    );
    EXPECT_EQ(
        verify(key, spec_id, "1614265331", spec_v1, spec_body, spec_timestamp), errc::no_matching_signature
    );
}

TEST(verify, rejects_partial_and_malformed_signatures)
{
    const auto key = spec_key();
    for (std::string_view sig :
         {"v1,",
          "v1,g0hM9SsE",
          "v1",
          "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
          "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
          " ",
          "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=x"}) {
        EXPECT_EQ(
            verify(key, spec_id, "1614265330", sig, spec_body, spec_timestamp), errc::no_matching_signature
        ) << sig;
    }
}

TEST(verify, missing_headers)
{
    const auto key = spec_key();
    EXPECT_EQ(verify(key, "", "1614265330", spec_v1, spec_body, spec_timestamp), errc::missing_header);
    EXPECT_EQ(verify(key, spec_id, "", spec_v1, spec_body, spec_timestamp), errc::missing_header);
    EXPECT_EQ(verify(key, spec_id, "1614265330", "", spec_body, spec_timestamp), errc::missing_header);
}

TEST(verify, invalid_timestamp)
{
    for (std::string_view ts : {"hello", "-1", "1614265330.5", "+1614265330", " 1614265330"}) {
        EXPECT_EQ(
            verify(spec_key(), spec_id, ts, spec_v1, spec_body, spec_timestamp), errc::invalid_timestamp
        ) << ts;
    }
}

TEST(verify, tolerance_window_both_ways)
{
    const auto key = spec_key();
    const auto check = [&](std::int64_t now) {
        return verify(key, spec_id, "1614265330", spec_v1, spec_body, now, std::chrono::seconds(300));
    };
    EXPECT_FALSE(check(spec_timestamp + 300));
    EXPECT_FALSE(check(spec_timestamp - 300));
    EXPECT_EQ(check(spec_timestamp + 301), errc::timestamp_too_old);
    EXPECT_EQ(check(spec_timestamp - 301), errc::timestamp_too_new);
}

TEST(verify, error_messages_are_readable)
{
    const auto ec = verify(spec_key(), spec_id, "1614265330", spec_v1, spec_body, spec_timestamp + 3600);
    EXPECT_EQ(ec.message(), "webhook-timestamp is too old");
    EXPECT_STREQ(ec.category().name(), "relay.webhook");
}

TEST(ed25519, round_trip_with_generated_key)
{
    const auto key = signing_key::generate();
    const auto pub = key.to_public();
    const std::vector<public_key> pubs{pub};
    const auto now = unix_now();
    const auto ts = std::to_string(now);
    const std::string body = R"({"type":"order.created","data":{"id":"o_1"}})";
    const auto sig = sign_v1a(key, "msg_1", now, body);
    EXPECT_EQ(sig.substr(0, 4), "v1a,");
    EXPECT_FALSE(verify({}, pubs, "msg_1", ts, sig, body, now));
    EXPECT_EQ(verify({}, pubs, "msg_1", ts, sig, body + " ", now), errc::no_matching_signature);
    const auto other = signing_key::generate().to_public();
    EXPECT_EQ(
        verify({}, std::vector<public_key>{other}, "msg_1", ts, sig, body, now), errc::no_matching_signature
    );
}

TEST(ed25519, spec_key_verifies_through_its_public_key_text)
{
    const auto key = signing_key::parse(spec_signing_key).value();
    const auto pub = public_key::parse(key.to_public().text()).value();
    EXPECT_EQ(pub.text().substr(0, 5), "whpk_");
    EXPECT_FALSE(
        verify({}, std::vector<public_key>{pub}, spec_id, "1614265330", spec_v1a, spec_body, spec_timestamp)
    );
}

TEST(ed25519, v1_entries_do_not_satisfy_a_public_key_and_v1a_no_secret)
{
    const auto key = signing_key::parse(spec_signing_key).value();
    const std::vector<public_key> pubs{key.to_public()};
    EXPECT_EQ(
        verify({}, pubs, spec_id, "1614265330", spec_v1, spec_body, spec_timestamp),
        errc::no_matching_signature
    );
    EXPECT_EQ(
        verify(spec_key(), spec_id, "1614265330", spec_v1a, spec_body, spec_timestamp),
        errc::no_matching_signature
    );
}

TEST(ed25519, generated_key_text_parses_back_to_the_same_key)
{
    const auto key = signing_key::generate();
    EXPECT_EQ(key.text().substr(0, 5), "whsk_");
    const auto again = signing_key::parse(key.text()).value();
    EXPECT_EQ(sign_v1a(again, "m", 1, "b"), sign_v1a(key, "m", 1, "b"));
    EXPECT_EQ(again.to_public().text(), key.to_public().text());
    EXPECT_EQ(key.masked(), "whsk_" + key.text().substr(5, 4) + "\u2026");
}

TEST(ed25519, key_parse_errors)
{
    const std::string overlong = "whsk_" + std::string(200, 'A');
    for (std::string_view text : std::initializer_list<std::string_view>{
             "VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=",
             "whpk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=",
             "whsk_",
             "whsk_!!!!",
             "whsk_VEVTVA==",
             std::string_view(overlong)}) {
        const auto r = signing_key::parse(text);
        ASSERT_FALSE(r.has_value()) << text;
        EXPECT_EQ(r.error(), errc::invalid_key);
        EXPECT_EQ(r.error().message().find("VEVT"), std::string::npos) << "message echoes the key";
    }
    EXPECT_EQ(
        public_key::parse("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=").error(), errc::invalid_key
    );
}

} // namespace
} // namespace relay::webhook
