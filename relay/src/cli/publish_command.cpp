#include "relay/cli/publish_command.hpp"

#include "relay/config/kafka_clients.hpp"
#include "relay/config/load.hpp"
#include "relay/kafka/error.hpp"
#include "relay/log/log.hpp"
#include "relay/publish/publish.hpp"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string_view>
#include <system_error>
#include <vector>

namespace relay::cli {

namespace {

constexpr std::int64_t max_count = 1000000;

std::string_view trim(std::string_view s) noexcept
{
    constexpr std::string_view ws = " \t\r\n";
    const auto first = s.find_first_not_of(ws);
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(ws) - first + 1);
}

// Every usage problem, so one run shows them all.
std::vector<std::string> usage_problems(const publish_args& args)
{
    std::vector<std::string> problems;
    if (args.file) {
        for (const auto& [given, name] : {
                 std::pair{args.type.has_value(), "--type"},
                 std::pair{args.data.has_value(), "--data"},
                 std::pair{args.id.has_value(), "--id"},
                 std::pair{args.count != 1, "--count"},
             }) {
            if (given) {
                problems.push_back(
                    std::string(name) + " cannot be combined with --file (each line is a complete event)"
                );
            }
        }
    } else {
        if (!args.type || args.type->empty()) {
            problems.emplace_back("--type is required (or --file with complete events)");
        }
        if (args.count < 1 || args.count > max_count) {
            problems.push_back("--count must be between 1 and " + std::to_string(max_count));
        }
        if (args.id && args.count > 1) {
            problems.emplace_back("--id cannot be combined with --count above 1 (event ids must be unique)");
        }
    }
    if (args.brokers && trim(*args.brokers).empty()) {
        problems.emplace_back("--brokers is empty");
    }
    if (args.topic && args.topic->empty()) {
        problems.emplace_back("--topic is empty");
    }
    return problems;
}

struct input_event
{
    publish::event_input event;
    std::size_t line = 0; // 1-based line of --file, 0 for built events
};

// Reads NDJSON: one event value per non-blank line. False (with a message) when the stream cannot be read.
bool read_ndjson(std::istream& in, const std::optional<std::string>& key, std::vector<input_event>& out)
{
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        const auto value = trim(line);
        if (value.empty()) {
            continue;
        }
        out.push_back({publish::raw_event{std::string(value), key}, number});
    }
    return !in.bad();
}

} // namespace

int run_publish(const publish_args& args)
{
    return run_publish(args, std::cin, std::cout, std::cerr);
}

int run_publish(const publish_args& args, std::istream& in, std::ostream& out, std::ostream& err)
{
    if (const auto problems = usage_problems(args); !problems.empty()) {
        for (const auto& p : problems) {
            err << "relay publish: " << p << '\n';
        }
        return 2;
    }

    config::config cfg;
    try {
        cfg = config::load_config(
            args.config_file ? std::optional<std::filesystem::path>(*args.config_file) : std::nullopt,
            config::environment::from_process()
        );
    } catch (const config::config_error& e) {
        err << e.what() << '\n';
        return 2;
    }
    log::set_level(cfg.log.level);

    event::envelope_options limits;
    limits.max_event_bytes = cfg.delivery.max_event_bytes;
    limits.max_depth = static_cast<unsigned>(cfg.delivery.max_json_depth);

    std::vector<input_event> inputs;
    if (args.file) {
        bool readable = false;
        if (*args.file == "-") {
            readable = read_ndjson(in, args.key, inputs);
        } else {
            std::ifstream file(*args.file, std::ios::binary);
            if (!file) {
                err << "relay publish: cannot open " << *args.file << ": "
                    << std::error_code(errno, std::generic_category()).message() << '\n';
                return 2;
            }
            readable = read_ndjson(file, args.key, inputs);
        }
        if (!readable) {
            err << "relay publish: cannot read " << *args.file << '\n';
            return 2;
        }
        if (inputs.empty()) {
            err << "relay publish: no events in " << (*args.file == "-" ? "standard input" : *args.file)
                << '\n';
            return 0;
        }
    } else {
        const std::string data = args.data.value_or("{}");
        inputs.reserve(static_cast<std::size_t>(args.count));
        for (std::int64_t n = 1; n <= args.count; ++n) {
            publish::built_event e{.type = *args.type, .data = data, .key = args.key, .id = args.id};
            if (args.count > 1) {
                auto numbered = publish::numbered_data(data, n);
                if (!numbered) {
                    err << "relay publish: --data: " << numbered.error().reason << '\n';
                    return 2;
                }
                e.data = std::move(*numbered);
            }
            inputs.push_back({std::move(e), 0});
        }
        // Built events share --type, --data and --id, so a problem with one is a problem with the command
        // line.
        auto first = publish::prepare(inputs.front().event, limits);
        if (!first) {
            err << "relay publish: " << first.error().reason << '\n';
            return 2;
        }
    }

    kafka::properties props = config::client_properties(cfg, config::client_kind::producer);
    if (args.brokers)
        props["bootstrap.servers"] = std::string(trim(*args.brokers));

    publish::publish_options options;
    options.topic = args.topic.value_or(cfg.topics.events);
    options.limits = limits;

    std::vector<publish::event_input> events;
    events.reserve(inputs.size());
    for (auto& i : inputs) {
        events.push_back(std::move(i.event));
    }

    std::vector<publish::publish_result> results;
    try {
        publish::publisher p(std::move(props), options);
        results = p.publish(events);
    } catch (const kafka::config_error& e) {
        err << "relay publish: invalid Kafka configuration: " << e.what() << '\n';
        return 2;
    }

    std::size_t published = 0;
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        if (r.ok()) {
            ++published;
            out << "published " << r.id << ' ' << r.type << " -> " << r.topic << '[' << r.partition << "]@"
                << r.offset << '\n';
            continue;
        }
        err << "error: ";
        if (inputs[i].line != 0) {
            err << "line " << inputs[i].line << ": ";
        } else if (results.size() > 1) {
            err << "event " << (i + 1) << ": ";
        }
        if (r.error.category() == kafka::kafka_category()) {
            err << (r.id.empty() ? std::string("event") : r.id) << " not published: " << r.reason << " ("
                << kafka::error_name(r.error) << ")\n";
        } else {
            err << "refused, not published: " << r.reason << '\n';
        }
    }
    out.flush();
    if (published != results.size()) {
        err << "relay publish: " << published << " of " << results.size() << " events published\n";
        return 1;
    }
    return 0;
}

} // namespace relay::cli
