#include "relay/subscription/store.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace relay::subscription {
namespace {

// Problems listed in one log line; a record with more gets a count of the rest.
constexpr std::size_t max_logged_problems = 5;

std::string summarize(const problem_list& problems)
{
    std::string out;
    const std::size_t n = std::min(problems.size(), max_logged_problems);
    for (std::size_t i = 0; i < n; ++i) {
        if (i > 0) {
            out += "; ";
        }
        out += problems[i].to_string();
    }
    if (problems.size() > n) {
        out += "; and " + std::to_string(problems.size() - n) + " more";
    }
    return out;
}

apply_result invalid(std::string id, std::string reason)
{
    return {record_action::invalid, std::move(id), std::move(reason), false};
}

} // namespace

parse_options stored_parse_options(parse_options base) noexcept
{
    base.id = when_missing::require;
    base.secrets = when_missing::require;
    base.accept_server_fields = true;
    return base;
}

parse_result<std::vector<subscription>>
parse_static_subscriptions(std::string_view json_array, const parse_options& options)
{
    return parse_subscriptions(json_array, stored_parse_options(options));
}

std::string_view to_string(record_action a) noexcept
{
    switch (a) {
    case record_action::upserted:
        return "upserted";
    case record_action::deleted:
        return "deleted";
    case record_action::ignored_static:
        return "ignored_static";
    case record_action::invalid:
        return "invalid";
    }
    return "invalid";
}

subscription_set::subscription_set(std::vector<subscription> statics, const parse_options& options)
    : options_(stored_parse_options(options))
{
    for (auto& s : statics) {
        if (!is_valid_id(s.id)) {
            throw std::invalid_argument("static subscription with an invalid id");
        }
        auto id = s.id;
        const auto [it, inserted] =
            statics_.emplace(std::move(id), std::make_shared<const subscription>(std::move(s)));
        if (!inserted) {
            throw std::invalid_argument("duplicate static subscription id: " + it->first);
        }
    }
}

apply_result
subscription_set::apply(std::optional<std::string_view> key, std::optional<std::string_view> value)
{
    if (!key) {
        return invalid({}, "record has no key (the key must be the subscription id)");
    }
    if (!is_valid_id(*key)) {
        // The key is not echoed: it is not an id, so it may be anything.
        return invalid(
            {}, "record key is not a valid subscription id (" + std::to_string(key->size()) + " bytes)"
        );
    }
    std::string id(*key);
    if (statics_.contains(id)) {
        return {
            record_action::ignored_static,
            std::move(id),
            "a static subscription from the configuration has this id; the topic cannot change it",
            false};
    }
    if (!value) {
        const bool erased = stored_.erase(id) > 0;
        return {record_action::deleted, std::move(id), {}, erased};
    }
    auto parsed = parse_subscription(*value, options_);
    if (!parsed) {
        return invalid(std::move(id), summarize(parsed.error()));
    }
    if (parsed->id != id) {
        return invalid(std::move(id), "the value's id differs from the record key");
    }
    stored_.insert_or_assign(id, std::make_shared<const subscription>(std::move(*parsed)));
    return {record_action::upserted, std::move(id), {}, true};
}

subscription_ptr subscription_set::find(std::string_view id) const
{
    if (const auto it = statics_.find(id); it != statics_.end()) {
        return it->second;
    }
    if (const auto it = stored_.find(id); it != stored_.end()) {
        return it->second;
    }
    return nullptr;
}

bool subscription_set::is_static(std::string_view id) const
{
    return statics_.find(id) != statics_.end();
}

std::vector<subscription_ptr> subscription_set::all() const
{
    // Both maps are sorted and never share an id (apply() ignores static ids): merge them.
    std::vector<subscription_ptr> out;
    out.reserve(statics_.size() + stored_.size());
    auto a = statics_.begin();
    auto b = stored_.begin();
    while (a != statics_.end() || b != stored_.end()) {
        if (b == stored_.end() || (a != statics_.end() && a->first < b->first)) {
            out.push_back((a++)->second);
        } else {
            out.push_back((b++)->second);
        }
    }
    return out;
}

std::shared_ptr<const routing_table> subscription_set::make_routing_table() const
{
    return std::make_shared<const routing_table>(all());
}

} // namespace relay::subscription
