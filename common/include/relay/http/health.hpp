#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace relay::http {

/// Liveness and readiness of a process, as /healthz and /readyz report them.
///
/// Readiness: components register named checks ("kafka", "subscriptions") and flip them; the process is
/// ready when every check is ready (and nothing is broken). Liveness: a component that cannot recover
/// (a fatal Kafka error) reports itself broken; the process is live while nothing is broken, so Kubernetes
/// restarts it otherwise.
///
/// Thread-safety: every member may be called from any thread.
class health
{
public:
    /// The state of one check or broken component.
    struct entry
    {
        std::string name;
        bool ok = false;    ///< ready (checks) or, for broken components, always false
        std::string reason; ///< why it is not ok; "" when ok
    };

    /// Registers a readiness check (or resets an existing one) with its initial state.
    void add_check(std::string name, bool ready = false, std::string reason = "starting");

    /// Sets a check's state, registering it when unknown. `reason` says why it is not ready; ignored when
    /// ready.
    void set_ready(std::string_view name, bool ready, std::string reason = {});

    /// Removes a check; unknown names are ignored.
    void remove_check(std::string_view name);

    /// Marks `component` as broken: the process is no longer live (nor ready) until clear_broken().
    void report_broken(std::string component, std::string reason);

    /// Clears what report_broken() set for `component`.
    void clear_broken(std::string_view component);

    /// True while no component is broken.
    bool live() const;

    /// True when live and every check is ready (true when no check is registered).
    bool ready() const;

    /// Every check, sorted by name.
    std::vector<entry> checks() const;

    /// Every broken component, sorted by name.
    std::vector<entry> broken() const;

    /// The /healthz body: {"status":"ok"} or {"status":"broken","broken":{"<component>":"<reason>"}}.
    /// Sets `ok` to live().
    std::string liveness_json(bool& ok) const;

    /// The /readyz body: {"status":"ready"|"not_ready","checks":{"<name>":{"ready":bool[,"reason":"..."]}},
    /// "not_ready":["<name>",...][,"broken":{...}]}. Sets `ok` to ready().
    std::string readiness_json(bool& ok) const;

private:
    struct state
    {
        bool ready = false;
        std::string reason;
    };

    mutable std::mutex mutex_;
    std::map<std::string, state, std::less<>> checks_;
    std::map<std::string, std::string, std::less<>> broken_;
};

} // namespace relay::http
