#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

namespace relay::cli {

/// The command line of `relay publish`. Empty optionals were not given.
struct publish_args
{
    /// -c/--config: YAML or JSON config file (default: $RELAY_CONFIG; none is fine). Supplies kafka.brokers,
    /// kafka.properties + kafka.producer_properties, topics.events and the event limits.
    std::optional<std::string> config_file;
    /// --brokers: bootstrap servers, overriding kafka.brokers.
    std::optional<std::string> brokers;
    /// --topic: the topic, overriding topics.events.
    std::optional<std::string> topic;
    /// --type: the event type of built events (required unless --file).
    std::optional<std::string> type;
    /// --data: the `data` JSON of built events (default {}).
    std::optional<std::string> data;
    /// --key: the Kafka key (ordering key) of every event, built or from --file.
    std::optional<std::string> key;
    /// --id: the event id of the built event (default: a random "evt_..."); not with --count > 1.
    std::optional<std::string> id;
    /// --count: number of built events (1 to 1000000); each gets "n": 1..count in its data, which must then
    /// be a JSON object.
    std::int64_t count = 1;
    /// --file: NDJSON file of complete event values, one per line ("-" = standard input); blank lines are
    /// skipped. Not with --type, --data, --id or --count.
    std::optional<std::string> file;
};

/// `relay publish`: validates events (exactly as the workers will parse them) and publishes them to Kafka
/// with an idempotent acks=all producer, waiting for each acknowledgement. Prints one line per published
/// event to standard output, `published <id> <type> -> <topic>[<partition>]@<offset>`, and one line per
/// refused or failed event to standard error. Invalid events are never sent; the valid ones still are.
/// Returns 0 when every event was published; 1 when any line of --file was refused or any event failed in
/// Kafka; 2 on bad usage (including a --type, --data or --id that cannot make a valid event), a bad
/// configuration, invalid Kafka properties or an unreadable file.
int run_publish(const publish_args& args);

/// run_publish() reading `--file -` from `in` and writing to `out` and `err` (for tests).
int run_publish(const publish_args& args, std::istream& in, std::ostream& out, std::ostream& err);

} // namespace relay::cli
