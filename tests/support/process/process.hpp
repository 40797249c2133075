#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace relay::test {

/// How a child process ended.
struct exit_status
{
    int code = -1;  ///< exit code when it exited normally, -1 otherwise
    int signal = 0; ///< the signal that killed it, 0 when it exited normally

    /// True when the process exited normally with `c`.
    bool exited_with(int c) const noexcept { return signal == 0 && code == c; }
    /// True when signal `s` killed the process.
    bool killed_by(int s) const noexcept { return signal == s; }
    /// "exit 0", "signal 9 (Killed)".
    std::string describe() const;
};

/// What to run and where its output goes.
struct process_options
{
    /// argv[0] is the path of the executable (no PATH search, no shell).
    std::vector<std::string> argv{};
    /// Variables added to (or replacing those of) the test process's environment.
    std::vector<std::pair<std::string, std::string>> env{};
    /// Variables of the test process's environment not passed on.
    std::vector<std::string> unset_env{};
    /// stdout and stderr are appended to this file (created if missing); empty = /dev/null.
    std::filesystem::path log_file{};
    /// When set, stdout goes (truncated) to this file instead, and only stderr to `log_file`.
    std::filesystem::path stdout_file{};
    /// stdin is read from this file; empty = /dev/null.
    std::filesystem::path stdin_file{};
};

/// A child process for system tests (fork + execve, no shell).
///
/// The child gets its own process group, inherits no file descriptor but 0, 1 and 2, and is sent SIGKILL by
/// the kernel if the thread that spawned it exits (PR_SET_PDEATHSIG), so a test that crashes or is killed by
/// CTest's timeout leaves no worker behind. The destructor kills (SIGKILL) and reaps a child still running.
///
/// Thread-safety: none; use one object from one thread (the one that created it, for PDEATHSIG to follow
/// that thread's lifetime).
class process
{
public:
    /// Starts the child. Throws std::system_error when the log files cannot be opened or the executable
    /// cannot be run (the message names it and errno), std::invalid_argument when argv is empty.
    explicit process(const process_options& options);

    /// Kills (SIGKILL) and reaps the child when it is still running. Never throws.
    ~process();

    process(const process&) = delete;
    process& operator=(const process&) = delete;
    process(process&& other) noexcept;
    process& operator=(process&& other) noexcept;

    /// The child's pid (still valid for logging once it was reaped).
    pid_t pid() const noexcept { return pid_; }

    /// Sends `sig` to the child. False when it has already been reaped or kill() failed.
    bool send_signal(int sig) noexcept;

    /// Waits up to `timeout` for the child to end and reaps it. The exit status, or nullopt on timeout. Once
    /// reaped, returns the same status at once on every call.
    std::optional<exit_status> wait_for_exit(std::chrono::milliseconds timeout);

    /// True while the child has not ended (reaps it when it has).
    bool running();

    /// The exit status once the child was reaped (by wait_for_exit or running).
    const std::optional<exit_status>& status() const noexcept { return status_; }

    /// Where stdout/stderr go (options.log_file).
    const std::filesystem::path& log_file() const noexcept { return log_file_; }

private:
    bool try_reap(bool block) noexcept;
    void kill_and_reap() noexcept;

    pid_t pid_ = -1;
    int pidfd_ = -1; // -1 when pidfd_open is unavailable: waits then poll waitpid
    std::optional<exit_status> status_;
    std::filesystem::path log_file_;
};

/// $RELAY_TEST_BINARY_DIR/relay/relay. Throws std::runtime_error when RELAY_TEST_BINARY_DIR is not set (run
/// the test through ctest) or the binary does not exist (build the `relay` target).
std::filesystem::path relay_binary();

/// Waits (reading the file as it grows, every 20 ms) until the file at `path` holds `needle` at or after byte
/// `from`. True when found; false when `timeout` passed or `watched` (optional) ended first without the
/// needle having appeared. A missing file counts as empty.
bool wait_for_log(
    const std::filesystem::path& path,
    std::string_view needle,
    std::chrono::milliseconds timeout,
    process* watched = nullptr,
    std::uintmax_t from = 0
);

/// The whole file ("" when missing or unreadable).
std::string read_text_file(const std::filesystem::path& path);

/// The last `lines` lines of the file, for failure messages.
std::string log_tail(const std::filesystem::path& path, std::size_t lines = 30);

/// The size of the file, 0 when missing (use as `from` of wait_for_log after a restart appending to it).
std::uintmax_t file_size_or_zero(const std::filesystem::path& path);

} // namespace relay::test
