// Fuzzes the config loader (relay/config/load.hpp): the YAML/JSON file and RELAY_* environment variables.
// Input: "NAME=value" lines up to the first empty line (the environment), then the file text (the rest).
// Variables naming files (*_FILE, RELAY_CONFIG) are dropped so the fuzzer cannot make the loader read files
// of this machine.
// Invariants: load_config and yaml_to_json throw config_error only (with at least one non-empty problem),
// never anything else; yaml_to_json's output is valid JSON; an accepted configuration's unmasked to_json()
// loads back as the same configuration; the masked form is valid JSON too.

#include "relay/config/load.hpp"

#include "fuzz_support.hpp"

#include <rapidjson/document.h>

#include <string>
#include <sys/mman.h>
#include <unistd.h>

namespace {

namespace cfg = relay::config;

/// An in-memory file (memfd) that load_config reads through /proc/self/fd/<n>.
class memory_file
{
public:
    memory_file()
        : fd_(::memfd_create("relay-fuzz-config", 0))
    {
        if (fd_ < 0)
            relay::fuzz::fail(__FILE__, __LINE__, "memfd_create failed");
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }

    const std::string& write(std::string_view text)
    {
        if (::ftruncate(fd_, 0) != 0 ||
            ::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
            relay::fuzz::fail(__FILE__, __LINE__, "cannot write the memfd");
        return path_;
    }

private:
    int fd_;
    std::string path_;
};

bool valid_json(const std::string& text)
{
    rapidjson::Document d;
    d.Parse<rapidjson::kParseStopWhenDoneFlag>(text.data(), text.size());
    return !d.HasParseError();
}

void check_error(const cfg::config_error& e)
{
    RELAY_FUZZ_CHECK(!e.problems().empty());
    for (const auto& p : e.problems())
        RELAY_FUZZ_CHECK(!p.empty());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static memory_file file;
    relay::fuzz::fields in(relay::fuzz::as_text(data, size));
    cfg::environment::map_type vars;
    for (auto line = in.next(); !line.empty(); line = in.next()) {
        const auto eq = line.find('=');
        const auto name = line.substr(0, eq);
        if (name.ends_with("_FILE") || name == cfg::config_file_variable)
            continue;
        vars.insert_or_assign(
            std::string(name), std::string(eq == std::string_view::npos ? "" : line.substr(eq + 1))
        );
    }
    const cfg::environment env(std::move(vars));
    const auto yaml = in.rest();

    try {
        const auto json = cfg::yaml_to_json(yaml);
        RELAY_FUZZ_CHECK(valid_json(json));
    } catch (const cfg::config_error& e) {
        check_error(e);
    }

    std::string effective;
    try {
        const auto c = cfg::load_config(file.write(yaml), env);
        effective = cfg::to_json(c, false);
        RELAY_FUZZ_CHECK(valid_json(effective));
        RELAY_FUZZ_CHECK(valid_json(cfg::to_json(c, true)));
    } catch (const cfg::config_error& e) {
        check_error(e);
        return 0;
    }

    // Without masking, the effective configuration loads back as the same configuration.
    try {
        const auto again = cfg::load_config(file.write(effective), cfg::environment{});
        RELAY_FUZZ_CHECK(cfg::to_json(again, false) == effective);
    } catch (const cfg::config_error& e) {
        std::fprintf(stderr, "effective configuration rejected: %s\n%s\n", e.what(), effective.c_str());
        relay::fuzz::fail(__FILE__, __LINE__, "to_json(c, false) does not load back");
    }
    return 0;
}
