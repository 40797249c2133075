#include "relay/delivery/parking.hpp"

#include <charconv>

namespace relay::delivery {

namespace {

void add(kafka::record& r, std::string_view name, std::string value)
{
    r.headers.emplace_back(std::string(name), std::move(value));
}

kafka::record base_record(std::string topic, const parked_payload& payload, const delivery_state& state)
{
    kafka::record r;
    r.topic = std::move(topic);
    if (payload.key)
        r.key = std::string(*payload.key);
    if (payload.value)
        r.value = std::string(*payload.value);
    r.headers.reserve(payload.headers.size() + 14);
    for (const auto& [name, value] : payload.headers) {
        if (!name.starts_with(header::prefix))
            r.headers.emplace_back(std::string(name), std::string(value));
    }
    if (!state.subscription_id.empty())
        add(r, header::subscription_id, state.subscription_id);
    if (!state.event_id.empty())
        add(r, header::event_id, state.event_id);
    add(r, header::first_attempt, std::to_string(state.first_attempt_ms));
    if (state.last_status != 0)
        add(r, header::last_status, std::to_string(state.last_status));
    if (!state.last_error.empty())
        add(r, header::last_error, state.last_error);
    add(r, header::origin_topic, state.origin.topic);
    add(r, header::origin_partition, std::to_string(state.origin.partition));
    add(r, header::origin_offset, std::to_string(state.origin.offset));
    return r;
}

template <class Int>
bool parse_int(std::string_view text, Int& out)
{
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc{} && ptr == end && !text.empty();
}

} // namespace

std::string_view to_string(dlq_reason r) noexcept
{
    switch (r) {
    case dlq_reason::invalid_event:
        return "invalid_event";
    case dlq_reason::permanent_status:
        return "permanent_status";
    case dlq_reason::permanent_error:
        return "permanent_error";
    case dlq_reason::gone:
        return "gone";
    case dlq_reason::exhausted:
        return "exhausted";
    case dlq_reason::disabled:
        return "disabled";
    case dlq_reason::invalid_retry_record:
        return "invalid_retry_record";
    }
    return "unknown";
}

kafka::record make_retry_record(
    std::string topic, const parked_payload& payload, const delivery_state& state, std::int64_t not_before_ms
)
{
    auto r = base_record(std::move(topic), payload, state);
    add(r, header::attempt, std::to_string(state.attempts + 1));
    add(r, header::not_before, std::to_string(not_before_ms));
    return r;
}

kafka::record make_dlq_record(
    std::string topic, const parked_payload& payload, const delivery_state& state, const dlq_details& details
)
{
    auto r = base_record(std::move(topic), payload, state);
    if (details.omitted_value_size) {
        r.value.reset();
        add(r, header::value_omitted, std::to_string(*details.omitted_value_size));
    }
    add(r, header::attempt, std::to_string(state.attempts));
    add(r, header::reason, std::string(to_string(details.reason)));
    add(r, header::error, details.error);
    add(r, header::failed_at, std::to_string(details.failed_at_ms));
    return r;
}

boost::system::result<retry_record, std::string>
parse_retry_record(std::span<const event::record_header> headers)
{
    retry_record out;
    bool have_sub = false, have_event = false, have_attempt = false, have_not_before = false,
         have_topic = false, have_partition = false, have_offset = false;
    std::string bad;
    auto check = [&](bool ok, std::string_view name) {
        if (!ok && bad.empty())
            bad = "malformed header " + std::string(name);
    };
    // The last occurrence of a header wins, as for every Kafka header Relay reads.
    for (const auto& [name, value] : headers) {
        if (!name.starts_with(header::prefix))
            continue;
        if (name == header::subscription_id) {
            out.state.subscription_id = value;
            have_sub = !value.empty();
        } else if (name == header::event_id) {
            out.state.event_id = value;
            have_event = !value.empty();
        } else if (name == header::attempt) {
            std::uint32_t attempt = 0;
            have_attempt = parse_int(value, attempt) && attempt >= 1;
            check(have_attempt, name);
            out.state.attempts = attempt - 1;
        } else if (name == header::not_before) {
            have_not_before = parse_int(value, out.not_before_ms);
            check(have_not_before, name);
        } else if (name == header::first_attempt) {
            check(parse_int(value, out.state.first_attempt_ms), name);
        } else if (name == header::last_status) {
            check(parse_int(value, out.state.last_status), name);
        } else if (name == header::last_error) {
            out.state.last_error = value;
        } else if (name == header::origin_topic) {
            out.state.origin.topic = value;
            have_topic = !value.empty();
        } else if (name == header::origin_partition) {
            have_partition = parse_int(value, out.state.origin.partition);
            check(have_partition, name);
        } else if (name == header::origin_offset) {
            have_offset = parse_int(value, out.state.origin.offset);
            check(have_offset, name);
        }
    }
    if (!bad.empty())
        return bad;
    const std::pair<bool, std::string_view> required[] = {
        {have_sub, header::subscription_id},
        {have_event, header::event_id},
        {have_attempt, header::attempt},
        {have_not_before, header::not_before},
        {have_topic, header::origin_topic},
        {have_partition, header::origin_partition},
        {have_offset, header::origin_offset},
    };
    for (const auto& [present, name] : required) {
        if (!present)
            return "missing header " + std::string(name);
    }
    return out;
}

std::optional<dlq_reason> parse_dlq_reason(std::string_view text) noexcept
{
    for (const auto r :
         {dlq_reason::invalid_event,
          dlq_reason::permanent_status,
          dlq_reason::permanent_error,
          dlq_reason::gone,
          dlq_reason::exhausted,
          dlq_reason::disabled,
          dlq_reason::invalid_retry_record}) {
        if (to_string(r) == text)
            return r;
    }
    return std::nullopt;
}

boost::system::result<dlq_record, std::string> parse_dlq_record(std::span<const event::record_header> headers)
{
    dlq_record out;
    bool have_reason = false, have_attempt = false, have_failed_at = false;
    std::string bad;
    auto check = [&](bool ok, std::string_view name) {
        if (!ok && bad.empty())
            bad = "malformed header " + std::string(name);
    };
    for (const auto& [name, value] : headers) {
        if (!name.starts_with(header::prefix))
            continue;
        if (name == header::subscription_id) {
            out.state.subscription_id = value;
        } else if (name == header::event_id) {
            out.state.event_id = value;
        } else if (name == header::attempt) {
            have_attempt = parse_int(value, out.state.attempts);
            check(have_attempt, name);
        } else if (name == header::first_attempt) {
            check(parse_int(value, out.state.first_attempt_ms), name);
        } else if (name == header::last_status) {
            check(parse_int(value, out.state.last_status), name);
        } else if (name == header::last_error) {
            out.state.last_error = value;
        } else if (name == header::origin_topic) {
            out.state.origin.topic = value;
        } else if (name == header::origin_partition) {
            check(parse_int(value, out.state.origin.partition), name);
        } else if (name == header::origin_offset) {
            check(parse_int(value, out.state.origin.offset), name);
        } else if (name == header::reason) {
            const auto r = parse_dlq_reason(value);
            have_reason = r.has_value();
            if (r)
                out.details.reason = *r;
            else if (bad.empty())
                bad =
                    "unknown " + std::string(header::reason) + " '" + std::string(value.substr(0, 64)) + "'";
        } else if (name == header::error) {
            out.details.error = value;
        } else if (name == header::failed_at) {
            have_failed_at = parse_int(value, out.details.failed_at_ms);
            check(have_failed_at, name);
        } else if (name == header::value_omitted) {
            std::size_t size = 0;
            const bool ok = parse_int(value, size);
            check(ok, name);
            out.details.omitted_value_size = size;
        }
    }
    if (!bad.empty())
        return bad;
    const std::pair<bool, std::string_view> required[] = {
        {have_reason, header::reason},
        {have_attempt, header::attempt},
        {have_failed_at, header::failed_at},
    };
    for (const auto& [present, name] : required) {
        if (!present)
            return "missing header " + std::string(name);
    }
    return out;
}

} // namespace relay::delivery
