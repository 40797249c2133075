// Signs many varied webhooks with Relay and verifies every one with the official Standard Webhooks
// JavaScript library (tests/support/standardwebhooks/verify.mjs, run with node).

#include "relay/webhook/secret.hpp"
#include "relay/webhook/signing.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace relay::webhook {
namespace {

namespace fs = std::filesystem;

std::string base64(std::string_view bytes)
{
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(
        reinterpret_cast<unsigned char*>(out.data()),
        reinterpret_cast<const unsigned char*>(bytes.data()),
        static_cast<int>(bytes.size())
    );
    out.resize(static_cast<std::size_t>(n));
    return out;
}

struct check
{
    std::string secret;
    std::string id;
    std::int64_t timestamp;
    std::string body;
    std::string signature_header;
    std::string public_key; // whpk_..., empty when the v1a entry is not checked
    bool expect_valid = true;
};

// Every field but the body is ASCII without quotes or backslashes; the body travels as base64.
std::string to_json_line(const check& c)
{
    std::string line = R"({"secret":")" + c.secret + R"(","id":")" + c.id + R"(","timestamp":)" +
                       std::to_string(c.timestamp) + R"(,"body_base64":")" + base64(c.body) +
                       R"(","signature_header":")" + c.signature_header + R"(","expect":")" +
                       (c.expect_valid ? "valid" : "invalid") + "\"";
    if (!c.public_key.empty()) {
        line += R"(,"public_key":")" + c.public_key + "\"";
    }
    line += "}\n";
    return line;
}

std::vector<std::string> varied_bodies()
{
    std::vector<std::string> bodies{
        "{}",
        "",
        "[]",
        "null",
        R"({"type":"order.created","id":"evt_1","timestamp":"2024-05-01T12:00:00Z","data":{"id":"ord_1","total":4200}})",
        R"({"test": 2432232314})",
        "{\n  \"pretty\": true,\n  \"nested\": {\"a\": [1, 2, 3]}\n}\n",
        R"({"unicode":"caf\u00e9 \u2603 \ud83d\ude00"})",
        "{\"raw_unicode\":\"caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80 \xe4\xb8\xad\xe6\x96\x87 "
        "\xd7\xa2\xd7\x91\xd7\xa8\xd7\x99\xd7\xaa "
        "e\xcc\x81\"}",
        R"({"quotes":"\"double\" and 'single'","backslash":"C:\\path\\file","slash":"a\/b"})",
        R"({"control":"tab\tnewline\ncr\rnul\u0000bell\u0007"})",
        R"({"numbers":[0,-1,1.5e308,-2.2250738585072014e-308,12345678901234567890123]})",
        R"({"dots":"a.b.c","id":"1614265330.5"})",
        "   {\"leading\":\"and trailing whitespace\"}   ",
        R"({"emoji_keys":{"🚀":"launch","ключ":"значение","مفتاح":"قيمة"}})",
    };
    std::string deep;
    for (int i = 0; i < 200; ++i) {
        deep += "[";
    }
    for (int i = 0; i < 200; ++i) {
        deep += "]";
    }
    bodies.push_back(deep);
    // Large bodies: 64 KiB and 1 MiB of JSON.
    for (const std::size_t size : {std::size_t{64} * 1024, std::size_t{1024} * 1024}) {
        std::string big = R"({"blob":")";
        while (big.size() < size) {
            big += "abcdefghijklmnopqrstuvwxyz0123456789\xc3\xa9";
        }
        big += "\"}";
        bodies.push_back(std::move(big));
    }
    // Generated orders with varying shapes and lengths.
    std::mt19937 rng(20240501);
    std::uniform_int_distribution<int> len(0, 2000);
    for (int i = 0; bodies.size() < 100; ++i) {
        std::string items;
        const int n = len(rng) / 100;
        for (int j = 0; j < n; ++j) {
            items += (j ? "," : "") + std::string(R"({"sku":"SKU-)") + std::to_string(rng() % 100000) +
                     R"(","qty":)" + std::to_string(rng() % 9 + 1) + R"(,"note":")" +
                     std::string(static_cast<std::size_t>(len(rng) % 50), "xyz\xc3\xbc"[j % 3]) + "\"}";
        }
        bodies.push_back(
            R"({"type":"order.updated","id":"evt_)" + std::to_string(i) + R"(","data":{"items":[)" + items +
            "]}}"
        );
    }
    return bodies;
}

struct run_result
{
    int exit_status = -1;
    std::string output;
};

// Runs `node verify.mjs` in `dir` with `input_file` on stdin; collects stdout and stderr.
run_result run_node(const fs::path& dir, const fs::path& input_file)
{
    const std::string command =
        "cd '" + dir.string() + "' && node verify.mjs < '" + input_file.string() + "' 2>&1";
    run_result r;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) {
        return r;
    }
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) {
        r.output.append(buf, n);
    }
    const int status = ::pclose(pipe);
    r.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

class official_verify : public testing::Test
{
protected:
    void SetUp() override
    {
        const char* source = std::getenv("RELAY_TEST_SOURCE_DIR");
        ASSERT_NE(source, nullptr) << "RELAY_TEST_SOURCE_DIR is not set (run the test through ctest)";
        dir_ = fs::path(source) / "tests" / "support" / "standardwebhooks";
        ASSERT_TRUE(fs::exists(dir_ / "verify.mjs")) << "missing " << (dir_ / "verify.mjs");
        ASSERT_TRUE(fs::exists(dir_ / "node_modules" / "standardwebhooks" / "package.json"))
            << "the official library is not installed: run `npm ci` in " << dir_
            << " (scripts/test does this before the integration tests)";
        ASSERT_EQ(std::system("node --version > /dev/null 2>&1"), 0) << "node (>= 18) is not on PATH";
        const char* binary = std::getenv("RELAY_TEST_BINARY_DIR");
        const fs::path base = binary ? fs::path(binary) : fs::temp_directory_path();
        work_ = base / ("webhook-official-" + std::to_string(::getpid()));
        fs::create_directories(work_);
    }

    void TearDown() override
    {
        std::error_code ec;
        if (!work_.empty()) {
            fs::remove_all(work_, ec);
        }
    }

    run_result verify_all(const std::vector<check>& checks)
    {
        const auto input =
            work_ / (std::string(testing::UnitTest::GetInstance()->current_test_info()->name()) + ".jsonl");
        {
            std::ofstream out(input, std::ios::binary);
            for (const auto& c : checks) {
                out << to_json_line(c);
            }
        }
        return run_node(dir_, input);
    }

    fs::path dir_;
    fs::path work_;
};

std::vector<secret> test_secrets()
{
    return {
        parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").value(), // 24 bytes, the spec's
        generate_secret(),                                              // 32 bytes
        generate_secret(),
        parse_secret("whsec_" + base64(std::string(64, '\x5a'))).value(), // 64 bytes, the maximum
    };
}

TEST_F(official_verify, every_signature_verifies_with_the_official_library)
{
    const auto secrets = test_secrets();
    const std::vector<signing_key> asymmetric{signing_key::generate()};
    const auto public_text = asymmetric.front().to_public().text();
    const auto bodies = varied_bodies();
    ASSERT_GE(bodies.size(), 100u);

    std::vector<check> checks;
    const auto now = unix_now();
    for (std::size_t i = 0; i < bodies.size(); ++i) {
        const std::string id =
            i % 3 == 0 ? "msg_" + std::to_string(i) : "evt_2Kx" + std::to_string(i * 7919) + "_Zq";
        // Each receiver holds one of the active secrets; the header carries all of them plus v1a.
        const auto header = signature_header(secrets, asymmetric, id, now, bodies[i]);
        const auto& receiver_secret = secrets[i % secrets.size()];
        checks.push_back({receiver_secret.text, id, now, bodies[i], header, i % 2 ? public_text : "", true});
        // Relay's own verify agrees, before asking the official library.
        ASSERT_FALSE(verify(receiver_secret, id, std::to_string(now), header, bodies[i], now)) << i;
    }
    const auto r = verify_all(checks);
    EXPECT_EQ(r.exit_status, 0) << r.output;
    EXPECT_EQ(static_cast<std::size_t>(std::count(r.output.begin(), r.output.end(), '\n')), checks.size())
        << r.output;
    EXPECT_EQ(r.output.find("FAIL"), std::string::npos) << r.output;
}

TEST_F(official_verify, tampering_is_detected_by_the_official_library)
{
    const auto secrets = test_secrets();
    const auto now = unix_now();
    const std::string body = R"({"type":"payment.succeeded","data":{"amount":1000,"currency":"EUR"}})";
    const auto header = signature_header(secrets, "msg_tamper", now, body);

    std::string tampered = body;
    tampered.replace(tampered.find("1000"), 4, "9000");
    const auto stale = now - 3600;
    const auto stale_header = signature_header(secrets, "msg_tamper", stale, body);

    std::vector<check> checks{
        {secrets[0].text, "msg_tamper", now, body, header, "", true},          // control: untouched verifies
        {secrets[0].text, "msg_tamper", now, tampered, header, "", false},     // body changed
        {secrets[1].text, "msg_tamper", now, body + " ", header, "", false},   // one byte appended
        {secrets[0].text, "msg_other", now, body, header, "", false},          // id changed
        {secrets[0].text, "msg_tamper", now + 1, body, header, "", false},     // timestamp changed
        {generate_secret().text, "msg_tamper", now, body, header, "", false},  // a secret that did not sign
        {secrets[0].text, "msg_tamper", stale, body, stale_header, "", false}, // replay outside tolerance
    };
    const auto r = verify_all(checks);
    EXPECT_EQ(r.exit_status, 0) << r.output;
    EXPECT_EQ(r.output.find("FAIL"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("ok 2 msg_tamper invalid"), std::string::npos) << r.output;
}

TEST_F(official_verify, a_wrong_expectation_fails_the_script)
{
    // The harness itself must be able to fail: a tampered body announced as valid makes node exit 1.
    const auto secrets = test_secrets();
    const auto now = unix_now();
    const auto header = signature_header(secrets, "msg_x", now, "{}");
    const auto r = verify_all({{secrets[0].text, "msg_x", now, "{ }", header, "", true}});
    EXPECT_EQ(r.exit_status, 1) << r.output;
    EXPECT_NE(r.output.find("FAIL 1 msg_x"), std::string::npos) << r.output;
}

} // namespace
} // namespace relay::webhook
