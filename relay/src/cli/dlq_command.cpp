#include "relay/cli/commands.hpp"
#include "relay/config/load.hpp"
#include "relay/delivery/dlq.hpp"
#include "relay/event/duration.hpp"
#include "relay/event/timestamp.hpp"
#include "relay/log/log.hpp"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <tuple>
#include <vector>

namespace relay::cli {

namespace {

using delivery::dlq_errc;

std::string all_reasons()
{
    std::string out;
    for (const auto r :
         {delivery::dlq_reason::invalid_event,
          delivery::dlq_reason::permanent_status,
          delivery::dlq_reason::permanent_error,
          delivery::dlq_reason::gone,
          delivery::dlq_reason::exhausted,
          delivery::dlq_reason::disabled,
          delivery::dlq_reason::invalid_retry_record}) {
        if (!out.empty())
            out += ", ";
        out += delivery::to_string(r);
    }
    return out;
}

// An RFC 3339 time, or a duration before `now` ("2h" = two hours ago).
std::optional<std::int64_t> parse_time(std::string_view text, std::chrono::system_clock::time_point now)
{
    if (const auto t = event::parse_rfc3339(text)) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
    }
    if (const auto d = event::parse_duration(text)) {
        return std::chrono::duration_cast<std::chrono::milliseconds>((now - *d).time_since_epoch()).count();
    }
    return std::nullopt;
}

// What the command line asks for, or every problem with it.
struct parsed_args
{
    delivery::dlq_filter filter;
    std::chrono::milliseconds timeout{30'000};
    double rate = 0;
};

std::vector<std::string> parse_args(const dlq_args& args, parsed_args& out)
{
    std::vector<std::string> problems;
    const auto now = std::chrono::system_clock::now();
    if (args.subscription) {
        if (args.subscription->empty())
            problems.emplace_back("--subscription is empty");
        out.filter.subscription_id = *args.subscription;
    }
    if (args.reason) {
        out.filter.reason = delivery::parse_dlq_reason(*args.reason);
        if (!out.filter.reason)
            problems.push_back(
                "--reason '" + *args.reason + "' is not a DLQ reason; one of: " + all_reasons()
            );
    }
    for (const auto& [value, name, target] : {
             std::tuple{&args.since, "--since", &out.filter.since_ms},
             std::tuple{&args.until, "--until", &out.filter.until_ms},
         }) {
        if (!*value)
            continue;
        *target = parse_time(**value, now);
        if (!*target) {
            problems.push_back(
                std::string(name) + " '" + **value +
                "' is neither an RFC 3339 time (2026-01-02T03:04:05Z) nor a duration ago (30m, 2h, 1d)"
            );
        }
    }
    if (out.filter.since_ms && out.filter.until_ms && *out.filter.since_ms >= *out.filter.until_ms)
        problems.emplace_back("--since must be before --until");
    if (args.limit) {
        std::size_t n = 0;
        const auto& text = *args.limit;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
        if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty() || n == 0)
            problems.push_back("--limit '" + text + "' is not a positive integer");
        else
            out.filter.limit = n;
    }
    if (args.timeout) {
        const auto d = event::parse_duration(*args.timeout);
        if (!d || d->count() <= 0)
            problems.push_back("--timeout '" + *args.timeout + "' is not a positive duration (10s, 1m)");
        else
            out.timeout = *d;
    }
    if (args.rate) {
        const auto& text = *args.rate;
        double r = -1;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), r);
        if (ec != std::errc{} || ptr != text.data() + text.size() || !std::isfinite(r) || r < 0)
            problems.push_back("--rate '" + text + "' is not a number of records per second (0 = unlimited)");
        else
            out.rate = r;
    }
    return problems;
}

// Loads the configuration and the arguments; an exit status when the command cannot run.
std::optional<int> prepare(
    std::string_view command,
    const dlq_args& args,
    config::config& cfg,
    parsed_args& parsed,
    std::ostream& err
)
{
    if (const auto problems = parse_args(args, parsed); !problems.empty()) {
        for (const auto& p : problems)
            err << "relay dlq " << command << ": " << p << '\n';
        return 2;
    }
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
    return std::nullopt;
}

int report(std::string_view command, const delivery::dlq_error& e, std::ostream& err)
{
    err << "relay dlq " << command << ": " << e.message << '\n';
    return e.code == dlq_errc::invalid_config || e.code == dlq_errc::no_retry_tiers ? 2 : 1;
}

// Control characters and invalid UTF-8 escaped, so a record cannot garble the terminal.
std::string printable(std::string_view s)
{
    std::string out;
    log::append_json_escaped(out, s);
    return out.empty() ? "-" : out;
}

std::string format_ms(std::int64_t ms)
{
    return event::format_rfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

void print_table_header(std::ostream& out, bool values)
{
    out << std::left << std::setw(9) << "PARTITION" << ' ' << std::setw(10) << "OFFSET" << ' '
        << std::setw(24) << "FAILED_AT" << ' ' << std::setw(20) << "REASON" << ' ' << std::setw(6) << "STATUS"
        << ' ' << std::setw(8) << "ATTEMPTS" << ' ' << std::setw(24) << "SUBSCRIPTION" << ' ' << std::setw(28)
        << "EVENT" << ' ' << "ERROR" << (values ? "\tVALUE" : "") << '\n';
}

void print_table_row(std::ostream& out, const delivery::dlq_entry& e, bool values)
{
    out << std::left << std::setw(9) << e.partition << ' ' << std::setw(10) << e.offset << ' ';
    if (e.record) {
        const auto& r = *e.record;
        out << std::setw(24) << format_ms(r.details.failed_at_ms) << ' ' << std::setw(20)
            << delivery::to_string(r.details.reason) << ' ' << std::setw(6)
            << (r.state.last_status != 0 ? std::to_string(r.state.last_status) : "-") << ' ' << std::setw(8)
            << r.state.attempts << ' ' << std::setw(24) << printable(r.state.subscription_id) << ' '
            << std::setw(28) << printable(r.state.event_id) << ' ' << printable(r.details.error);
        if (r.details.omitted_value_size)
            out << " (value of " << *r.details.omitted_value_size << " bytes omitted)";
    } else {
        out << std::setw(24) << "-" << ' ' << std::setw(20) << "INVALID" << ' ' << std::setw(6) << "-" << ' '
            << std::setw(8) << "-" << ' ' << std::setw(24) << "-" << ' ' << std::setw(28) << "-" << ' '
            << printable(e.problem);
    }
    if (values)
        out << '\t' << (e.value ? printable(*e.value) : "null");
    out << '\n';
}

} // namespace

int run_dlq_list(const dlq_args& args)
{
    return run_dlq_list(args, std::cout, std::cerr);
}

int run_dlq_list(const dlq_args& args, std::ostream& out, std::ostream& err)
{
    config::config cfg;
    parsed_args parsed;
    if (const auto status = prepare("list", args, cfg, parsed, err))
        return *status;

    bool header_printed = false;
    const auto summary = delivery::scan_dlq(
        cfg,
        parsed.filter,
        [&](const delivery::dlq_entry& e) {
            if (args.json) {
                out << delivery::to_json(e, args.values) << '\n';
            } else {
                if (!header_printed)
                    print_table_header(out, args.values);
                header_printed = true;
                print_table_row(out, e, args.values);
            }
            return true;
        },
        delivery::scan_options{parsed.timeout, {}}
    );
    out.flush();
    if (!summary)
        return report("list", summary.error(), err);
    err << summary->matched << " matching record" << (summary->matched == 1 ? "" : "s") << " ("
        << summary->scanned << " read from " << cfg.topics.dlq;
    if (summary->invalid > 0)
        err << ", " << summary->invalid << " not valid DLQ records";
    err << ')';
    if (!summary->complete)
        err << "; stopped at --limit " << *parsed.filter.limit;
    err << '\n';
    return 0;
}

int run_dlq_redrive(const dlq_args& args)
{
    return run_dlq_redrive(args, std::cout, std::cerr);
}

int run_dlq_redrive(const dlq_args& args, std::ostream& out, std::ostream& err)
{
    config::config cfg;
    parsed_args parsed;
    if (const auto status = prepare("redrive", args, cfg, parsed, err))
        return *status;
    if (args.values) {
        err << "relay dlq redrive: --values only applies to list\n";
        return 2;
    }

    delivery::redrive_options options;
    options.dry_run = args.dry_run;
    options.rate = parsed.rate;
    options.timeout = parsed.timeout;
    if (!args.json) {
        options.on_entry = [&](const delivery::dlq_entry& e, std::string_view skip_reason) {
            if (!skip_reason.empty())
                out << "skip ";
            else
                out << (args.dry_run ? "would-redrive " : "redrive ");
            out << e.partition << '@' << e.offset;
            if (e.record) {
                out << " subscription=" << printable(e.record->state.subscription_id)
                    << " event=" << printable(e.record->state.event_id)
                    << " reason=" << delivery::to_string(e.record->details.reason);
            }
            if (!skip_reason.empty())
                out << " (" << skip_reason << ')';
            out << '\n';
        };
    }
    const auto result = delivery::redrive_dlq(cfg, parsed.filter, options);
    if (!result)
        return report("redrive", result.error(), err);
    const auto& r = *result;

    if (args.json) {
        std::string j = "{\"dry_run\":";
        j += r.dry_run ? "true" : "false";
        j += ",\"retry_topic\":\"";
        log::append_json_escaped(j, r.retry_topic);
        j += "\",\"matched\":" + std::to_string(r.matched) + ",\"redriven\":" + std::to_string(r.redriven) +
             ",\"skipped\":" + std::to_string(r.skipped) + ",\"skipped_by_reason\":{";
        bool first = true;
        for (const auto& [why, n] : r.skipped_by_reason) {
            j += first ? "\"" : ",\"";
            first = false;
            j += why + "\":" + std::to_string(n);
        }
        j += "},\"failed\":" + std::to_string(r.failed);
        if (!r.first_failure.empty()) {
            j += ",\"first_failure\":\"";
            log::append_json_escaped(j, r.first_failure);
            j += '"';
        }
        j += ",\"complete\":";
        j += r.complete ? "true" : "false";
        if (r.error) {
            j += ",\"error\":\"";
            log::append_json_escaped(j, r.error->message);
            j += '"';
        }
        out << j << "}\n";
    } else {
        out << (r.dry_run ? "dry run: would redrive " : "redriven ") << r.redriven << " of " << r.matched
            << " matching record" << (r.matched == 1 ? "" : "s") << " to " << r.retry_topic << "; skipped "
            << r.skipped;
        if (!r.skipped_by_reason.empty()) {
            out << " (";
            bool first = true;
            for (const auto& [why, n] : r.skipped_by_reason) {
                out << (first ? "" : ", ") << why << ": " << n;
                first = false;
            }
            out << ')';
        }
        out << "; failed " << r.failed;
        if (r.dry_run)
            out << "; nothing was produced";
        out << '\n';
    }
    out.flush();
    if (r.failed > 0)
        err << "relay dlq redrive: " << r.failed << " record" << (r.failed == 1 ? "" : "s")
            << " not redriven: " << r.first_failure << '\n';
    if (r.error)
        err << "relay dlq redrive: stopped reading the DLQ: " << r.error->message << '\n';
    return r.failed > 0 || r.error ? 1 : 0;
}

} // namespace relay::cli
